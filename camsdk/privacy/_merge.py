"""Merging audit logs: many per-node (or per-actor) chains into one time-ordered view.

In a fleet every camera actor writes its own hash-chained log on its own
node. `merge_audit_logs` first verifies each input completely (a broken
input stops the merge: a merged view must not launder a damaged log), then
interleaves their records by time stamp (ties by input, then by ``seq``),
streaming, in bounded memory. Each merged record keeps its fields and says
where it came from: ``origin`` (the input's name), ``origin_seq``,
``origin_ts`` and ``origin_hash`` (the hash of the original line, which the
original chain vouches for). Written to a new `AuditLog`, the merge is itself
a hash chain that ``camsdk audit verify`` checks; the originals stay the
evidence, the merge is the index.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ._audit import AuditLog, AuditVerification, verify_audit_log
from ._audit._format import parse_line

__all__ = ["AuditMerge", "MergedRecord", "audit_log_files", "merge_audit_logs"]


@dataclass(frozen=True, slots=True)
class MergedRecord:
    """One record of the merged view, with where it came from."""

    ts: str
    origin: str
    seq: int
    line_hash: str
    fields: dict[str, Any]

    def as_record(self) -> dict[str, Any]:
        """The record as the merged log stores it (origin fields added)."""
        return {**self.fields, "origin": self.origin, "origin_seq": self.seq,
                "origin_ts": self.ts, "origin_hash": self.line_hash}


@dataclass(frozen=True, slots=True)
class AuditMerge:
    """The result of `merge_audit_logs`: the inputs' verifications and the records merged."""

    ok: bool
    inputs: tuple[tuple[str, AuditVerification], ...]
    records: int
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def audit_log_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """``paths`` with each directory replaced by the ``*.jsonl`` files under it, sorted."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.jsonl") if p.is_file()))
        else:
            found.append(path)
    return found


def _names(paths: Sequence[Path]) -> list[str]:
    """Short, distinct names for ``paths``: relative to their common parent."""
    if len(paths) == 1:
        return [paths[0].name]
    resolved = [p.resolve() for p in paths]
    common = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    return [str(p.relative_to(common)) for p in resolved]


def _records(path: Path, name: str) -> Iterator[MergedRecord]:
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.rstrip(b"\n")
            parsed = parse_line(line)
            if isinstance(parsed, str):  # verified just before: only if it changed since
                raise ValueError(f"{name} changed during the merge: {parsed}")
            if parsed.fields.get("type") == "checkpoint":
                continue
            yield MergedRecord(parsed.ts, name, parsed.seq, line[-66:-2].decode("ascii"),
                               parsed.fields)


def merge_audit_logs(
    paths: Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str] | None = None,
    *,
    public_key: Ed25519PublicKey | None = None,
) -> tuple[AuditMerge, Iterator[MergedRecord]]:
    """Verify ``paths`` (files, or directories of ``*.jsonl``) and merge them by time.

    Returns the verdict and an iterator over the merged records (empty when
    an input is broken). With ``output`` (a file that must not exist yet)
    the records are also written there as a new hash-chained `AuditLog`;
    the iterator is then already consumed. With ``public_key`` every input
    must carry valid checkpoint signatures by that key.
    """
    files = audit_log_files(paths)
    if not files:
        return AuditMerge(False, (), 0, "no audit log files given"), iter(())
    names = _names(files)
    results: list[tuple[str, AuditVerification]] = []
    total = 0
    for path, name in zip(files, names, strict=True):
        result = verify_audit_log(path, public_key)
        results.append((name, result))
        if not result.ok:
            reason = f"{name} is broken at line {result.first_broken_line}: {result.reason}"
            return AuditMerge(False, tuple(results), 0, reason), iter(())
        total += result.records
    merged = heapq.merge(
        *(_records(path, name) for path, name in zip(files, names, strict=True)),
        key=lambda r: (r.ts, r.origin, r.seq),
    )
    verdict = AuditMerge(True, tuple(results), total, f"{len(files)} log(s) verified and merged")
    if output is None:
        return verdict, merged
    target = Path(output)
    if target.exists():
        raise FileExistsError(f"{os.fspath(target)!r} exists; a merge is written to a new file")
    log = AuditLog(target)
    try:
        for record in merged:
            log.write(record.as_record())
    finally:
        log.close()
    return verdict, iter(())
