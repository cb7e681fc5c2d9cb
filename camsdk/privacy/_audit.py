"""The append-only, hash-chained audit log (JSONL) and its verifier.

Line format. Each line is one JSON object::

    {"seq":N,"ts":"<UTC ISO>","prev":"<hex>",<record fields>,"hash":"<hex>"}

``seq`` is 1-based and equals the line number; ``ts`` is UTC with
microseconds; ``prev`` is SHA-256 of the previous line's exact bytes (newline
excluded; 64 zeros on the first line); the record fields follow in canonical
JSON (sorted keys, compact, UTF-8); ``hash`` is SHA-256 of the line without
its hash field, i.e. of ``BODY`` where the line is ``BODY[:-1] + ',"hash":"<hex>"}'``.
The chain header comes first and the hash last so that a verifier checks a
line with two hashes and a few slices instead of parsing and re-serialising it:
any changed byte fails its own line, and a removed, inserted or reordered
line fails the ``prev`` of the line after it.

Checkpoints are lines whose fields are ``"type": "checkpoint"``, written
every ``checkpoint_every`` records and on `AuditLog.close`; with a signing key
they carry ``key_id`` and an Ed25519 ``signature`` over the canonical JSON of
their other fields, ``prev`` (the chain head they vouch for) included. A hash
chain alone proves integrity only against someone who cannot rewrite the
whole file; the signatures add authenticity up to the last checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._errors import CamError
from ._keys import canonical_json, key_id, sign_bytes, verify_bytes
from ._records import sanitize_record

try:  # POSIX: one writer per file, or two chains would interleave.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "GENESIS",
    "AuditLog",
    "AuditLogError",
    "AuditVerification",
    "verify_audit_log",
]

#: ``prev`` of the first line.
GENESIS = "0" * 64

_CHECKPOINT_CONTEXT = b"camsdk-audit-checkpoint-v1\n"
_CHECKPOINT_MARK = b'"type":"checkpoint"'
_HASH_PREFIX = b',"hash":"'
_SUFFIX_LEN = len(_HASH_PREFIX) + 64 + 2  # ,"hash":"<64 hex>"}
_MAX_HEADER = 128  # {"seq":<digits>,"ts":"<27 chars>","prev":"<64 hex>" is shorter
_TAIL_CHUNK = 64 * 1024


class AuditLogError(CamError):
    """The audit log cannot be written: it is closed, locked by another writer, or damaged."""


def _utc_ts(clock: Callable[[], datetime]) -> str:
    return clock().astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _seal(seq: int, ts: str, prev: str, fields: Mapping[str, Any]) -> bytes:
    """The line (without newline) for ``fields``: chain header, sorted fields, hash last."""
    head = f'{{"seq":{seq},"ts":"{ts}","prev":"{prev}"'.encode("ascii")
    rest = canonical_json(fields)
    body = head + (b"," + rest[1:] if len(rest) > 2 else b"}")
    return body[:-1] + _HASH_PREFIX + hashlib.sha256(body).hexdigest().encode("ascii") + b'"}'


def _body(line: bytes) -> bytes | None:
    """The line without its hash field when it has the sealed shape, else ``None``."""
    if len(line) <= _SUFFIX_LEN or line[-2:] != b'"}':
        return None
    if line[-_SUFFIX_LEN : -_SUFFIX_LEN + len(_HASH_PREFIX)] != _HASH_PREFIX:
        return None
    return line[:-_SUFFIX_LEN] + b"}"


def _chain_fields(body: bytes) -> tuple[bytes, bytes] | None:
    """(seq digits, prev hex) from the fixed header of a line body, or ``None`` without one."""
    prev_at = body.find(b'","prev":"', 0, _MAX_HEADER)
    ts_at = body.find(b',"ts":"', 0, prev_at)
    if (
        prev_at < 0
        or ts_at < 0
        or body[prev_at + 74 : prev_at + 75] != b'"'
        or not body.startswith(b'{"seq":')
    ):
        return None
    return body[7:ts_at], body[prev_at + 10 : prev_at + 74]


def _checkpoint_payload(seq: int, ts: str, prev: str, fields: Mapping[str, Any]) -> bytes:
    signed = {k: v for k, v in fields.items() if k not in ("signature", "hash")}
    signed.update(seq=seq, ts=ts, prev=prev)
    return _CHECKPOINT_CONTEXT + canonical_json(signed)


class AuditLog:
    """An append-only, hash-chained JSONL audit log; an `AuditSink`. Thread-safe.

    Nothing touches the disk until the first `write` (constructors do no
    I/O). Opening an existing file resumes its chain from the last line; a
    file whose last line is damaged is refused with `AuditLogError` rather
    than extended. ``signing_key`` signs the checkpoints; ``fsync`` makes every
    record durable before `write` returns (slower; off by default). ``clock``
    returns the UTC time stamped on lines, injectable for tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        signing_key: Ed25519PrivateKey | None = None,
        checkpoint_every: int = 1000,
        fsync: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0 (0: only on close)")
        self.path = Path(path)
        self._signing_key = signing_key
        self._key_id = key_id(signing_key) if signing_key is not None else None
        self._checkpoint_every = checkpoint_every
        self._fsync = fsync
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False
        self._failed: BaseException | None = None
        self._seq = 0
        self._prev = GENESIS
        self._since_checkpoint = 0

    def __repr__(self) -> str:
        signed = "signed" if self._signing_key is not None else "unsigned"
        return f"AuditLog({os.fspath(self.path)!r}, {signed}, seq={self._seq})"

    @property
    def seq(self) -> int:
        """The ``seq`` of the last line written (0 before the first)."""
        return self._seq

    def write(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` (sanitised) to the chain; raise if it cannot be persisted."""
        fields = sanitize_record(record)
        with self._lock:
            self._ensure_open()
            self._append(fields)
            self._since_checkpoint += 1
            if self._checkpoint_every and self._since_checkpoint >= self._checkpoint_every:
                self._append_checkpoint()

    def checkpoint(self) -> None:
        """Write a checkpoint now (signed when the log has a signing key)."""
        with self._lock:
            self._ensure_open()
            self._append_checkpoint()

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

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def verify(self) -> AuditVerification:
        """Verify this log's file (with the signing key's public half, when there is one)."""
        public = self._signing_key.public_key() if self._signing_key is not None else None
        return verify_audit_log(self.path, public)

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
        except OSError as exc:
            os.close(fd)
            raise AuditLogError(f"audit log {name!r} cannot be read: {exc.strerror}") from exc
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _append(self, fields: Mapping[str, Any]) -> None:
        self._write_line(_seal(self._seq + 1, _utc_ts(self._clock), self._prev, fields))

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
        seq, ts = self._seq + 1, _utc_ts(self._clock)
        fields: dict[str, Any] = {"type": "checkpoint"}
        if self._signing_key is not None:
            fields["key_id"] = self._key_id
            # The payload includes `prev`: the checkpoint vouches for the chain head.
            payload = _checkpoint_payload(seq, ts, self._prev, fields)
            fields["signature"] = sign_bytes(self._signing_key, payload)
        self._write_line(_seal(seq, ts, self._prev, fields))
        self._since_checkpoint = 0


def _resume(path: Path) -> tuple[int, str]:
    """(seq, prev) to continue the chain of ``path`` from its last line."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return 0, GENESIS
        tail = b""
        pos = size
        # Read backwards until the tail holds the whole last line and the newline before it.
        while pos > 0 and tail.count(b"\n") < 2:
            step = min(_TAIL_CHUNK, pos)
            pos -= step
            fh.seek(pos)
            tail = fh.read(step) + tail
    if not tail.endswith(b"\n"):
        raise AuditLogError(
            f"audit log {os.fspath(path)!r} ends in an incomplete line; "
            "run `camsdk audit verify` and move the file aside before writing again"
        )
    line = tail[:-1].rsplit(b"\n", 1)[-1]
    body = _body(line)
    chain = _chain_fields(body) if body is not None else None
    if (
        body is None
        or chain is None
        or not chain[0].isdigit()
        or hashlib.sha256(body).hexdigest().encode("ascii") != line[-66:-2]
    ):
        raise AuditLogError(f"audit log {os.fspath(path)!r}: the last line is damaged")
    return int(chain[0]), hashlib.sha256(line).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The result of `verify_audit_log`.

    ``records`` counts the verified record lines (checkpoints not included);
    ``first_broken_line`` is 1-based, ``None`` when the chain is intact.
    ``signed_through`` is the line of the last checkpoint whose signature was
    verified (0: none); lines after it are chained but not authenticated.
    """

    ok: bool
    records: int
    first_broken_line: int | None
    reason: str
    lines: int = 0
    checkpoints: int = 0
    signed_through: int = 0

    def __bool__(self) -> bool:
        return self.ok


def verify_audit_log(
    path: str | os.PathLike[str], public_key: Ed25519PublicKey | None = None
) -> AuditVerification:
    """Check the hash chain of an audit log, streaming; with ``public_key``, its checkpoints too.

    Stops at the first broken line. With ``public_key``, every checkpoint must
    carry a valid signature by that key, and a non-empty log must have at
    least one (else nothing in it is authenticated).
    """
    expected_key = key_id(public_key) if public_key is not None else None
    sha256 = hashlib.sha256
    prev = GENESIS.encode("ascii")
    records = checkpoints = signed_through = 0
    lineno = 0

    def broken(reason: str) -> AuditVerification:
        return AuditVerification(
            False, records, lineno, reason, lineno - 1, checkpoints, signed_through
        )

    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw[-1:] != b"\n":
                return broken("truncated: the last line is incomplete")
            line = raw[:-1]
            body = _body(line)
            if body is None:
                return broken("malformed: not a sealed audit line")
            if sha256(body).hexdigest().encode("ascii") != line[-66:-2]:
                return broken("hash mismatch: the line was altered")
            chain = _chain_fields(body)
            if chain is None:
                return broken("malformed: no seq/ts/prev header")
            if chain[1] != prev:
                return broken("prev mismatch: a line before it was removed, inserted or reordered")
            if chain[0] != b"%d" % lineno:
                return broken(f"seq is {chain[0].decode('ascii', 'replace')}, expected {lineno}")
            # Only lines with the marker can be checkpoints; parse just those.
            fields = _json_object(body) if _CHECKPOINT_MARK in body else None
            if fields is not None and fields.get("type") == "checkpoint":
                checkpoints += 1
                if public_key is not None and expected_key is not None:
                    why = _check_checkpoint(fields, public_key, expected_key)
                    if why:
                        return broken(why)
                    signed_through = lineno
            else:
                records += 1
            prev = sha256(line).hexdigest().encode("ascii")
    lines = lineno
    if public_key is not None and lines and not signed_through:
        return AuditVerification(
            False, records, 1, "no signed checkpoint: nothing is authenticated by the key", lines
        )
    tail = lines - signed_through if public_key is not None else 0
    reason = "chain intact" + (f"; {tail} line(s) after the last signed checkpoint" if tail else "")
    return AuditVerification(True, records, None, reason, lines, checkpoints, signed_through)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _check_checkpoint(fields: dict[str, Any], key: Ed25519PublicKey, expected: str) -> str | None:
    signature = fields.get("signature")
    if not isinstance(signature, str):
        return "checkpoint is not signed"
    if fields.get("key_id") != expected:
        return f"checkpoint signed by another key ({fields.get('key_id')!r})"
    payload = _checkpoint_payload(fields["seq"], fields["ts"], fields["prev"], fields)
    if not verify_bytes(key, payload, signature):
        return "checkpoint signature does not verify (forged checkpoint)"
    return None
