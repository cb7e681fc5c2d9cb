"""Audit sinks besides the JSONL `AuditLog`: a logger, memory, a callback, fail-open; the mirror.

Every sink sanitises records the same way (`sanitize_record`) and raises when
it cannot keep a record, which makes the facade fail closed. `FailOpenSink`
is the one deliberate exception, for integrators who prefer availability
over a complete audit trail, and it says so in the log every time.
`CheckpointMirror` is not a record sink: it keeps the newest checkpoint line
of an `AuditLog` in a file of its own, the evidence that a log was not cut
back to an earlier point.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._access import AuditSink
from .._log import get_logger
from .._private_file import write_private
from .._url import redact_text
from ._audit import MAX_LINE_BYTES, AuditHead, AuditLog
from ._keys import canonical_json
from ._records import sanitize_record

__all__ = [
    "CallbackAuditSink",
    "CheckpointMirror",
    "FailOpenSink",
    "JsonlAuditSink",
    "LoggerAuditSink",
    "MemoryAuditSink",
]

#: The JSONL audit sink is the hash-chained `AuditLog`.
JsonlAuditSink = AuditLog

_log = get_logger("camsdk.audit")


class LoggerAuditSink:
    """Writes each record as one canonical JSON line to a `logging.Logger` (not hash-chained)."""

    def __init__(self, logger: logging.Logger | str = "camsdk.audit", level: int = logging.INFO):
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level

    def write(self, record: Mapping[str, Any]) -> None:
        """Log ``record`` (sanitised)."""
        line = canonical_json(sanitize_record(record)).decode("utf-8")
        self.logger.log(self.level, "audit %s", line)


class MemoryAuditSink:
    """Keeps sanitised records in memory, in order (tests, short-lived tools). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []

    @property
    def records(self) -> list[dict[str, Any]]:
        """A snapshot of the records written so far."""
        with self._lock:
            return list(self._records)

    def write(self, record: Mapping[str, Any]) -> None:
        """Keep ``record`` (sanitised)."""
        clean = sanitize_record(record)
        with self._lock:
            self._records.append(clean)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()


class CallbackAuditSink:
    """Hands each sanitised record to ``callback``; an exception from it propagates."""

    def __init__(self, callback: Callable[[dict[str, Any]], object]) -> None:
        self.callback = callback

    def write(self, record: Mapping[str, Any]) -> None:
        """Call the callback with ``record`` (sanitised)."""
        self.callback(sanitize_record(record))


class FailOpenSink:
    """Opt-in: wraps a sink so its failures are logged as errors instead of raised.

    With it, media flows even when the audit trail cannot be written: choose
    it only when losing audit records is acceptable. ``failures`` counts them.
    """

    def __init__(self, inner: AuditSink, *, logger: logging.Logger | None = None) -> None:
        self.inner = inner
        self.logger = logger or _log
        self.failures = 0
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        """Write to the inner sink; on failure log an error and carry on."""
        try:
            self.inner.write(record)
        except Exception as exc:
            with self._lock:
                self.failures += 1
            # Message only, no traceback: a traceback's locals could hold the record.
            self.logger.error(
                "audit record LOST (fail-open sink): %s: %s",
                type(exc).__name__,
                redact_text(str(exc)),
            )


class CheckpointMirror:
    """Keeps the newest checkpoint line of an `AuditLog` in its own file, replaced atomically.

    Pass it as ``AuditLog(..., checkpoint_sink=mirror)``. Each checkpoint is
    written to a temporary file (mode 0600), flushed to disk, and renamed over
    ``path``, so the file always holds one whole checkpoint line, old or new.
    `read` gives the `AuditHead` that ``verify_audit_log(expected_head=...)``
    and ``camsdk audit verify --checkpoint`` check the log against: a log cut
    back to before that checkpoint no longer holds it. The mirror only helps
    where the log's attacker cannot write it: another disk, another machine,
    or a copy taken from here regularly. The constructor does no I/O.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"CheckpointMirror({os.fspath(self.path)!r})"

    def write_checkpoint(self, line: bytes) -> None:
        """Replace the mirrored checkpoint with ``line``; raise `OSError` or `ValueError`."""
        AuditHead.from_line(line)  # a mirror of anything else would mislead the verifier
        write_private(self.path, line + b"\n", fsync=self.fsync, fsync_directory=self.fsync)

    def read(self) -> AuditHead:
        """The mirrored checkpoint; `OSError` when unreadable, `ValueError` when not one."""
        with open(self.path, "rb") as fh:
            data = fh.read(MAX_LINE_BYTES + 2)
        return AuditHead.from_line(data)
