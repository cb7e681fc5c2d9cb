"""Summaries of an audit log: who accessed which camera, for what, how much.

`audit_report` reads the log as it is; it does not verify the chain (run
`verify_audit_log` for that, as ``camsdk audit verify`` does).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["AccessSummary", "AuditReport", "audit_report"]


@dataclass(slots=True)
class AccessSummary:
    """What one principal did with one camera: requests by purpose and action, media out."""

    principal: str
    camera_id: str
    allowed: int = 0
    denied: int = 0
    purposes: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    grant_ids: set[str] = field(default_factory=set)
    bytes: int = 0
    frames: int = 0
    packets: int = 0
    duration: float = 0.0
    first_seen: str = ""
    last_seen: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "principal": self.principal,
            "camera_id": self.camera_id,
            "allowed": self.allowed,
            "denied": self.denied,
            "purposes": dict(sorted(self.purposes.items())),
            "actions": dict(sorted(self.actions.items())),
            "grant_ids": sorted(self.grant_ids),
            "bytes": self.bytes,
            "frames": self.frames,
            "packets": self.packets,
            "duration": round(self.duration, 3),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


@dataclass(slots=True)
class AuditReport:
    """The result of `audit_report`: totals, and one `AccessSummary` per principal and camera."""

    entries: list[AccessSummary]
    records: int = 0
    allowed: int = 0
    denied: int = 0
    events: Counter[str] = field(default_factory=Counter)
    unreadable_lines: int = 0
    first_ts: str = ""
    last_ts: str = ""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "records": self.records,
            "allowed": self.allowed,
            "denied": self.denied,
            "events": dict(sorted(self.events.items())),
            "unreadable_lines": self.unreadable_lines,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "entries": [e.as_dict() for e in self.entries],
        }


def _ts_key(since: datetime) -> str:
    # Log timestamps are fixed-width UTC ISO strings, so they compare as text.
    aware = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return value


def audit_report(
    path: str | os.PathLike[str], since: datetime | None = None, principal: str | None = None
) -> AuditReport:
    """Summarise the access records of the log at ``path``, optionally from ``since`` on and
    for one ``principal``. Checkpoints are skipped; unparsable lines are counted, not fatal.
    """
    since_key = _ts_key(since) if since is not None else None
    report = AuditReport(entries=[])
    groups: dict[tuple[str, str], AccessSummary] = {}
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                record = json.loads(raw)
            except ValueError:
                report.unreadable_lines += 1
                continue
            if not isinstance(record, dict) or record.get("type") == "checkpoint":
                continue
            ts = str(record.get("ts", ""))
            who = str(record.get("principal", ""))
            if (since_key is not None and ts < since_key) or (
                principal is not None and who != principal
            ):
                continue
            _add(report, groups, record, ts, who)
    report.entries = sorted(groups.values(), key=lambda e: (e.principal, e.camera_id))
    return report


def _add(
    report: AuditReport,
    groups: dict[tuple[str, str], AccessSummary],
    record: dict[str, Any],
    ts: str,
    who: str,
) -> None:
    event = str(record.get("event", "access"))
    report.records += 1
    report.events[event] += 1
    report.first_ts = min(report.first_ts, ts) if report.first_ts else ts
    report.last_ts = max(report.last_ts, ts)
    if event not in ("access", "egress.end"):
        return  # e.g. tls.insecure: counted in `events`, not an access
    # Grouped without the purpose: egress.end records need not repeat it.
    key = (who, str(record.get("camera_id", "")))
    entry = groups.get(key)
    if entry is None:
        entry = groups[key] = AccessSummary(*key, first_seen=ts)
    entry.last_seen = max(entry.last_seen, ts)
    entry.first_seen = min(entry.first_seen, ts) if entry.first_seen else ts
    if isinstance(record.get("grant_id"), str):
        entry.grant_ids.add(record["grant_id"])
    if event == "access":
        allowed = record.get("allowed") is True
        entry.allowed += allowed
        entry.denied += not allowed
        report.allowed += allowed
        report.denied += not allowed
        entry.actions[str(record.get("action", ""))] += 1
        entry.purposes[str(record.get("purpose", ""))] += 1
    elif event == "egress.end":
        entry.bytes += int(_number(record.get("bytes")))
        entry.frames += int(_number(record.get("frames")))
        entry.packets += int(_number(record.get("packets")))
        entry.duration += float(_number(record.get("duration")))
