"""Audit sinks besides the JSONL `AuditLog`: a logger, memory, a callback, fail-open.

Every sink sanitises records the same way (`sanitize_record`) and raises when
it cannot keep a record, which makes the facade fail closed. `FailOpenSink`
is the one deliberate exception, for integrators who prefer availability
over a complete audit trail, and it says so in the log every time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .._access import AuditSink
from .._log import get_logger
from .._url import redact_text
from ._audit import AuditLog
from ._keys import canonical_json
from ._records import sanitize_record

__all__ = [
    "CallbackAuditSink",
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
