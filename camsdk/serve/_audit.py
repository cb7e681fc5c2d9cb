"""The gateway's audit trail: monthly hash-chained logs, their checks, the transparency report.

`AuditBook` is the one `AuditSink` of the gateway: the facade's records
(every access decision, every egress end) and the gateway's own (requests,
answers, grants, revocations, exports, deletions, logins, requester calls)
go to ``audit/audit-YYYY-MM.jsonl``, a `camsdk.privacy.AuditLog` signed with
the owner's key and mirrored to ``audit/head``. A new month starts a new
log; the old one is closed with a signed checkpoint. Logs older than the
retention are deleted, and the deletion is itself a record (naming the file
and the SHA-256 of its last line) in the current log.

`transparency_report` counts, from the logs alone: requests received,
approved, declined and expired (per requester and purpose), and minutes of
live and recorded footage shared with anyone but the owner.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .._log import get_logger
from ..privacy import AuditLog, CheckpointMirror, verify_audit_log

__all__ = ["AuditBook", "LogCheck", "TransparencyReport", "transparency_report"]

log = get_logger("camsdk.serve.audit")
_PREFIX = "audit-"


def _month(now: datetime) -> str:
    return now.strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class LogCheck:
    """One log file's verification, as the owner page shows it."""

    file: str
    ok: bool
    records: int
    signed_through: int
    reason: str


class AuditBook:
    """Monthly audit logs behind one `write` (see the module docstring). Thread-safe."""

    def __init__(self, directory: Path, key: Ed25519PrivateKey, *, checkpoint_every: int = 100,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.directory = directory
        self._key = key
        self._every = checkpoint_every
        self._clock = clock
        self._lock = threading.Lock()
        self._month = ""
        self._log: AuditLog | None = None
        self.mirror = CheckpointMirror(directory / "head")

    def _current(self) -> AuditLog:
        month = _month(self._clock())
        if self._log is None or month != self._month:
            if self._log is not None:
                self._log.close()
            self._month = month
            self._log = AuditLog(self.directory / f"{_PREFIX}{month}.jsonl",
                                 signing_key=self._key, checkpoint_every=self._every,
                                 checkpoint_sink=self.mirror)
        return self._log

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` to this month's log (raises if it cannot: callers fail closed)."""
        with self._lock:
            self._current().write(record)

    def checkpoint(self) -> None:
        """Sign what was written so far (a checkpoint line now)."""
        with self._lock:
            if self._log is not None:
                self._log.checkpoint()

    def close(self) -> None:
        """Close the current log with a signed checkpoint."""
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def files(self) -> list[Path]:
        """Every log, oldest first."""
        return sorted(self.directory.glob(f"{_PREFIX}*.jsonl"))

    def verify(self) -> list[LogCheck]:
        """Check every log's chain and signatures with the owner's public key."""
        self.checkpoint()
        public = self._key.public_key()
        checks = []
        for path in self.files():
            result = verify_audit_log(path, public)
            checks.append(LogCheck(path.name, result.ok, result.records, result.signed_through,
                                   result.reason or ""))
        return checks

    def expire(self, keep_days: float) -> list[str]:
        """Delete closed logs older than ``keep_days``; each deletion is recorded. Names deleted."""
        cutoff = _month(self._clock() - timedelta(days=keep_days))
        deleted = []
        for path in self.files():
            month = path.stem[len(_PREFIX):]
            if month >= cutoff or month == self._month:
                continue
            lines = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)
            last = hashlib.sha256(lines[-1]).hexdigest() if lines and lines[-1] else ""
            self.write({"event": "audit.deleted", "file": path.name, "last_line_sha256": last,
                        "reason": f"retention {keep_days:g} days"})
            path.unlink()
            deleted.append(path.name)
        return deleted

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record of every log, oldest first (checkpoints left out)."""
        for path in self.files():
            with path.open("rb") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and record.get("type") != "checkpoint":
                        yield record

    def tail(self, count: int) -> list[dict[str, Any]]:
        """The newest ``count`` records."""
        out: list[dict[str, Any]] = []
        for record in self.records():
            out.append(record)
            if len(out) > count:
                out.pop(0)
        return out


@dataclass(slots=True)
class _Row:
    requester: str
    principal: str
    purpose: str
    received: int = 0
    approved: int = 0
    declined: int = 0
    expired: int = 0
    live_seconds: float = 0.0
    recorded_seconds: float = 0.0


@dataclass(slots=True)
class TransparencyReport:
    """Counts of what was asked, answered and shared, per requester and purpose."""

    since: str | None
    until: str
    rows: list[_Row] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        """The sums over every row (minutes rounded to 0.01)."""
        return {
            "received": sum(r.received for r in self.rows),
            "approved": sum(r.approved for r in self.rows),
            "declined": sum(r.declined for r in self.rows),
            "expired": sum(r.expired for r in self.rows),
            "live_minutes": round(sum(r.live_seconds for r in self.rows) / 60, 2),
            "recorded_minutes": round(sum(r.recorded_seconds for r in self.rows) / 60, 2),
        }

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "since": self.since,
            "until": self.until,
            "totals": self.totals(),
            "rows": [
                {
                    "requester": r.requester, "principal": r.principal, "purpose": r.purpose,
                    "received": r.received, "approved": r.approved, "declined": r.declined,
                    "expired": r.expired, "live_minutes": round(r.live_seconds / 60, 2),
                    "recorded_minutes": round(r.recorded_seconds / 60, 2),
                }
                for r in self.rows
            ],
        }

    def as_csv(self) -> str:
        """One line per requester and purpose, with a header line."""
        out = io.StringIO()
        columns = ["requester", "principal", "purpose", "received", "approved", "declined",
                   "expired", "live_minutes", "recorded_minutes"]
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.as_dict()["rows"]:
            # A leading =, +, - or @ would be a formula in a spreadsheet.
            writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        return out.getvalue()


def _csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def transparency_report(records: Iterator[Mapping[str, Any]], *, owner: str = "owner",
                        since: datetime | None = None) -> TransparencyReport:
    """Count requests and shared footage from audit records (see the module docstring).

    Live minutes are the durations of ``frames``/``packets`` egress ends of
    principals other than the owner; recorded minutes are the footage
    lengths of exported clips.
    """
    rows: dict[tuple[str, str], _Row] = {}
    names: dict[str, str] = {}
    purposes: dict[str, str] = {}

    def row(principal: str, purpose: str) -> _Row:
        key = (principal, purpose)
        if key not in rows:
            rows[key] = _Row(names.get(principal, principal), principal, purpose)
        return rows[key]

    cutoff = since.isoformat().replace("+00:00", "Z") if since is not None else None
    for record in records:
        ts = str(record.get("ts", ""))
        if cutoff is not None and ts < cutoff:
            continue
        event = record.get("event")
        principal = str(record.get("principal", ""))
        if event == "request.received":
            names.setdefault(principal, str(record.get("requester", principal)))
            purposes[str(record.get("request_id"))] = str(record.get("purpose", ""))
            row(principal, str(record.get("purpose", ""))).received += 1
        elif event == "request.decided":
            purpose = str(record.get("purpose", purposes.get(str(record.get("request_id")), "")))
            outcome = record.get("outcome")
            target = row(principal, purpose)
            if outcome == "approved":
                target.approved += 1
            elif outcome == "denied":
                target.declined += 1
            elif outcome == "expired":
                target.expired += 1
        elif event == "egress.end" and principal and principal != owner:
            if record.get("action") in ("frames", "packets"):
                row(principal, str(record.get("purpose", ""))).live_seconds += float(
                    record.get("duration") or 0.0)
        elif event == "export.created" and principal and principal != owner:
            row(principal, str(record.get("purpose", ""))).recorded_seconds += float(
                record.get("footage_seconds") or 0.0)
    for r in rows.values():
        r.requester = names.get(r.principal, r.requester)
    ordered = sorted(rows.values(), key=lambda r: (r.requester, r.purpose))
    now = datetime.now(UTC).isoformat()
    return TransparencyReport(since.isoformat() if since else None, now, ordered)
