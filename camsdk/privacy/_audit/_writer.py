"""`AuditLog`: the writer of the hash-chained JSONL audit log."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..._errors import CamError
from ..._log import get_logger
from .._keys import key_id
from .._records import sanitize_record
from ._format import (
    CHECKPOINT_VERSION,
    GENESIS,
    MAX_LINE_BYTES,
    AuditHead,
    parse_line,
    seal,
    sign_checkpoint,
    utc_ts,
)
from ._verify import AuditVerification, verify_audit_log, writable_by_others

try:  # POSIX: one writer per file, or two chains would interleave.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["AuditLog", "AuditLogError", "CheckpointSink"]

_TAIL_CHUNK = 64 * 1024
_log = get_logger("camsdk.audit")


class AuditLogError(CamError):
    """The audit log cannot be written: it is closed, locked by another writer, or damaged."""


@runtime_checkable
class CheckpointSink(Protocol):
    """Receives each checkpoint line an `AuditLog` writes, e.g. a `CheckpointMirror`.

    Called with the log's lock held, in order, after the line is in the log;
    it raises when it cannot keep the line.
    """

    def write_checkpoint(self, line: bytes) -> None:
        """Keep ``line`` (the checkpoint line, without newline) as the newest checkpoint."""


class AuditLog:
    """An append-only, hash-chained JSONL audit log; an `AuditSink`. Thread-safe.

    Nothing touches the disk until the first `write` (constructors do no
    I/O); the file is created with mode 0600. Opening an existing file
    resumes its chain from the last line; a file whose last line is damaged
    is refused with `AuditLogError` rather than extended. ``signing_key``
    signs the checkpoints; ``checkpoint_sink`` (a `CheckpointMirror`) receives
    each checkpoint line, so that a log cut back to an earlier point can be
    detected; ``fsync`` makes every record durable before `write` returns
    (slower; off by default). ``clock`` returns the UTC time stamped on lines,
    injectable for tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        signing_key: Ed25519PrivateKey | None = None,
        checkpoint_every: int = 1000,
        checkpoint_sink: CheckpointSink | None = None,
        fsync: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0 (0: only on close)")
        self.path = Path(path)
        self._signing_key = signing_key
        self._key_id = key_id(signing_key) if signing_key is not None else None
        self._checkpoint_every = checkpoint_every
        self._checkpoint_sink = checkpoint_sink
        self._fsync = fsync
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = Lock()
        self._fd: int | None = None
        self._closed = False
        self._failed: BaseException | None = None
        self._seq = 0
        self._prev = GENESIS
        self._since_checkpoint = 0
        self._unmirrored: bytes | None = None  # a checkpoint line the sink has not taken yet

    def __repr__(self) -> str:
        signed = "signed" if self._signing_key is not None else "unsigned"
        return f"AuditLog({os.fspath(self.path)!r}, {signed}, seq={self._seq})"

    @property
    def seq(self) -> int:
        """The ``seq`` of the last line written (0 before the first)."""
        return self._seq

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` (sanitised) to the chain; raise if it cannot be persisted.

        Raises `ValueError` or `TypeError` for a record that may not be
        written (see `sanitize_record`, and a line over 1 MiB), and
        `AuditLogError` when the file or the checkpoint sink fails.
        """
        fields = sanitize_record(record)
        with self._lock:
            self._ensure_open()
            self._append(fields)
            self._since_checkpoint += 1
            if self._checkpoint_every and self._since_checkpoint >= self._checkpoint_every:
                self._append_checkpoint()
            self._mirror_pending()

    def checkpoint(self) -> None:
        """Write a checkpoint now (signed when the log has a signing key)."""
        with self._lock:
            self._ensure_open()
            self._append_checkpoint()
            self._mirror_pending()

    def close(self) -> None:
        """Sign the records written since the last checkpoint (with a key), release the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is None:
                return
            try:
                if self._signing_key is not None and self._since_checkpoint and not self._failed:
                    self._append_checkpoint()
            finally:
                os.close(self._fd)  # also drops the flock
                self._fd = None
            self._mirror_pending()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def verify(self, *, expected_head: AuditHead | None = None) -> AuditVerification:
        """Verify this log's file (with the signing key's public half, when there is one)."""
        public = self._signing_key.public_key() if self._signing_key is not None else None
        return verify_audit_log(self.path, public, expected_head=expected_head)

    # -- internals (called with the lock held) ---------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise AuditLogError(f"audit log {os.fspath(self.path)!r} is closed")
        if self._failed is not None:
            # After a failed append the file's tail is unknown: never guess, stay failed.
            raise AuditLogError(f"audit log {os.fspath(self.path)!r} failed earlier; reopen it")
        if self._fd is not None:
            return
        name = os.fspath(self.path)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditLogError(f"audit log {name!r} cannot be opened: {exc.strerror}") from exc
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    raise AuditLogError(f"audit log {name!r} is open in another writer") from exc
            self._seq, self._prev = _resume(self.path)
            warning = writable_by_others(os.fstat(fd).st_mode, "audit log file")
        except OSError as exc:
            os.close(fd)
            raise AuditLogError(f"audit log {name!r} cannot be read: {exc.strerror}") from exc
        except BaseException:
            os.close(fd)
            raise
        if warning:
            _log.warning("audit log %r: %s", name, warning)
        self._fd = fd

    def _append(self, fields: Mapping[str, Any]) -> None:
        line = seal(self._seq + 1, utc_ts(self._clock), self._prev, fields)
        if len(line) > MAX_LINE_BYTES:
            # The verifier reads lines in bounded memory; a longer line would never verify.
            raise ValueError(f"audit record too large: {len(line)} bytes > {MAX_LINE_BYTES}")
        self._write_line(line)

    def _write_line(self, line: bytes) -> None:
        assert self._fd is not None
        try:
            view = memoryview(line + b"\n")
            while view:
                view = view[os.write(self._fd, view) :]
            if self._fsync:
                os.fsync(self._fd)
        except OSError as exc:
            self._failed = exc
            raise AuditLogError(f"audit log {os.fspath(self.path)!r}: write failed") from exc
        self._seq += 1
        self._prev = hashlib.sha256(line).hexdigest()

    def _append_checkpoint(self) -> None:
        seq, ts = self._seq + 1, utc_ts(self._clock)
        fields: dict[str, Any] = {"type": "checkpoint", "version": CHECKPOINT_VERSION}
        if self._signing_key is not None:
            fields["key_id"] = self._key_id
            # The signature covers this line's own bytes (seq and prev, the chain head, included).
            fields["signature"] = sign_checkpoint(self._signing_key, seq, ts, self._prev, fields)
        line = seal(seq, ts, self._prev, fields)
        self._write_line(line)
        self._since_checkpoint = 0
        if self._checkpoint_sink is not None:
            self._unmirrored = line

    def _mirror_pending(self) -> None:
        """Hand the newest checkpoint to the sink; until it takes it, every write raises."""
        line, sink = self._unmirrored, self._checkpoint_sink
        if line is None or sink is None:
            return
        try:
            sink.write_checkpoint(line)
        except Exception as exc:
            # Fail closed: the record is in the log, but the owner's guard against
            # truncation is behind, so this request must not go ahead.
            raise AuditLogError(
                f"audit log {os.fspath(self.path)!r}: the checkpoint sink failed "
                f"({type(exc).__name__}); the log is intact, the mirror is behind"
            ) from exc
        self._unmirrored = None


def _resume(path: Path) -> tuple[int, str]:
    """(seq, prev) to continue the chain of ``path`` from its last line."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return 0, GENESIS
        tail = b""
        pos = size
        # Read backwards until the tail holds the whole last line and the newline before it,
        # but never more than the longest line a log may hold.
        while pos > 0 and tail.count(b"\n") < 2 and len(tail) <= MAX_LINE_BYTES + 1:
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            fh.seek(pos)
            tail = fh.read(step) + tail
    if not tail.endswith(b"\n"):
        raise AuditLogError(
            f"audit log {os.fspath(path)!r} ends in an incomplete line; "
            "run `camsdk audit verify` and move the file aside before writing again"
        )
    lines = tail[:-1].rsplit(b"\n", 1)
    parsed = parse_line(lines[-1]) if len(lines) == 2 or pos == 0 else "too long"
    if isinstance(parsed, str):
        raise AuditLogError(f"audit log {os.fspath(path)!r}: the last line is damaged")
    return parsed.seq, hashlib.sha256(lines[-1]).hexdigest()
