"""`verify_audit_log`: what a log proves, checked line by line in bounded memory."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .._keys import key_id
from ._format import (
    CHECKPOINT_VERSION,
    GENESIS,
    MAX_LINE_BYTES,
    NOT_CANONICAL,
    SUFFIX_LEN,
    TS,
    AuditHead,
    Checkpoint,
    ParsedLine,
    as_checkpoint,
    checkpoint_signature_ok,
    header_problem,
    rest_fields,
)

__all__ = ["AuditVerification", "verify_audit_log", "writable_by_others"]

_CHUNK = 1 << 20
# Record fields repeat from line to line (same principal, camera, action, purpose);
# a field part already found canonical need not be parsed again. Bounded: short
# parts only, and the set is emptied when full.
_MEMO_MAX_LEN = 1024
_MEMO_MAX_COUNT = 4096


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The result of `verify_audit_log`.

    ``records`` counts the verified record lines (checkpoints not included);
    ``first_broken_line`` is 1-based, ``None`` when the log verified.
    ``signed_through`` is the line of the last checkpoint whose signature was
    verified (0: none); lines after it are chained but not authenticated.
    ``legacy_checkpoints`` counts version-1 checkpoints: with a key their
    signatures are checked, but they authenticate nothing (they do not move
    ``signed_through``). ``last_checkpoint`` is the head to keep for the next
    verification (the last signed checkpoint with a key, the last checkpoint
    without). ``warnings`` are findings that do not break the chain, such as
    a log file that others may write.
    """

    ok: bool
    records: int
    first_broken_line: int | None
    reason: str
    lines: int = 0
    checkpoints: int = 0
    signed_through: int = 0
    legacy_checkpoints: int = 0
    last_checkpoint: AuditHead | None = None
    warnings: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok


def writable_by_others(mode: int, what: str) -> str | None:
    """A warning when a file of this ``mode`` may be written by its group or by anyone."""
    loose = mode & (stat.S_IWGRP | stat.S_IWOTH)
    if not loose:
        return None
    if loose == stat.S_IWGRP | stat.S_IWOTH:
        who = "its group and everyone"
    else:
        who = "its group" if loose & stat.S_IWGRP else "everyone"
    return (
        f"the {what} is writable by {who} (mode {stat.S_IMODE(mode):04o}); "
        "whoever can write it can rewrite it: chmod 600"
    )


def verify_audit_log(
    path: str | os.PathLike[str],
    public_key: Ed25519PublicKey | None = None,
    *,
    expected_head: AuditHead | None = None,
) -> AuditVerification:
    """Check an audit log, streaming: canonical lines, the hash chain, and what was asked.

    Stops at the first broken line. Every line must be exactly as the writer
    writes it (no duplicate, reordered or re-encoded fields). With
    ``public_key``, every checkpoint must carry a valid signature by that key,
    and a non-empty log must have at least one version-2 checkpoint (else
    nothing in it is authenticated). With ``expected_head`` (typically read
    from a `CheckpointMirror` kept elsewhere) the log must still hold that
    exact line at that position: this detects a log cut back to an earlier
    point, which the file alone cannot show. Memory stays bounded whatever
    the file holds (lines over `MAX_LINE_BYTES` are refused).
    """
    check = _Verifier(public_key, expected_head)
    with open(path, "rb") as fh:
        check.warn_if_loose(os.fstat(fh.fileno()).st_mode)
        pending = b""
        while chunk := fh.read(_CHUNK):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            broken = check.lines(lines)
            if broken is not None:
                return broken
            if len(pending) > MAX_LINE_BYTES:
                return check.broken(f"malformed: line longer than {MAX_LINE_BYTES} bytes", 1)
    if pending:
        return check.broken("truncated: the last line is incomplete", 1)
    return check.finish()


class _Verifier:
    """The state of one verification: counts, the chain head, the signature checks."""

    def __init__(self, public_key: Ed25519PublicKey | None, head: AuditHead | None) -> None:
        self.public_key = public_key
        self.expected_key = key_id(public_key) if public_key is not None else None
        self.head = head
        self.lineno = 0
        self.prev = GENESIS.encode("ascii")
        self.records = self.checkpoints = self.signed_through = self.legacy = 0
        self.last: AuditHead | None = None
        self.warnings: tuple[str, ...] = ()
        self.memo: set[bytes] = set()

    def warn_if_loose(self, mode: int) -> None:
        warning = writable_by_others(mode, "audit log file")
        if warning:
            self.warnings += (warning,)

    def broken(self, reason: str, ahead: int = 0) -> AuditVerification:
        """The result for a log broken at line ``lineno + ahead`` (good up to the line before)."""
        at = self.lineno + ahead
        return AuditVerification(
            False, self.records, at, reason, at - 1, self.checkpoints,
            self.signed_through, self.legacy, self.last, self.warnings,
        )  # fmt: skip

    def lines(self, lines: list[bytes]) -> AuditVerification | None:
        """Check a batch of whole lines; the result when one is broken, else ``None``."""
        # The hot path: a few slices, two hashes, and (for field parts not seen
        # before) one parse and one re-serialisation. State lives in locals here.
        sha256, ts_match, memo = hashlib.sha256, TS.fullmatch, self.memo
        lineno, prev, records = self.lineno, self.prev, self.records
        prev_tail = b'","prev":"' + prev + b'"'
        head_seq = self.head.seq if self.head is not None else 0
        reason = ""
        for line in lines:
            lineno += 1
            size = len(line)
            if (
                size <= SUFFIX_LEN
                or size > MAX_LINE_BYTES
                or line[-2:] != b'"}'
                or line[-SUFFIX_LEN : -SUFFIX_LEN + 9] != b',"hash":"'
            ):
                reason = (
                    f"malformed: line longer than {MAX_LINE_BYTES} bytes"
                    if size > MAX_LINE_BYTES
                    else "malformed: not a sealed audit line"
                )
                break
            body = line[:-SUFFIX_LEN] + b"}"
            if sha256(body).hexdigest().encode("ascii") != line[-66:-2]:
                reason = "hash mismatch: the line was altered"
                break
            seq_prefix = b'{"seq":%d,"ts":"' % lineno
            at = len(seq_prefix)
            if (
                not body.startswith(seq_prefix)
                or body[at + 27 : at + 102] != prev_tail
                or ts_match(body, at, at + 27) is None
            ):
                reason = header_problem(body, lineno, prev)
                break
            rest = body[at + 102 :]
            digest = sha256(line).hexdigest()
            if rest in memo:
                records += 1
            else:
                fields = rest_fields(rest)
                if fields is None:
                    reason = NOT_CANONICAL
                    break
                checkpoint = as_checkpoint(fields) if "type" in fields else None
                if checkpoint is None:
                    records += 1
                    if len(rest) <= _MEMO_MAX_LEN:
                        if len(memo) >= _MEMO_MAX_COUNT:
                            memo.clear()
                        memo.add(rest)
                else:
                    ts = body[at : at + 27].decode("ascii")
                    parsed = ParsedLine(lineno, ts, prev.decode("ascii"), fields)
                    reason = self._checkpoint(parsed, checkpoint, digest)
                    if reason:
                        break
            if lineno == head_seq and digest != self.head.digest:  # type: ignore[union-attr]
                reason = "differs from the expected (mirrored) checkpoint line"
                break
            prev = digest.encode("ascii")
            prev_tail = b'","prev":"' + prev + b'"'
        self.lineno, self.prev, self.records = lineno, prev, records
        return self.broken(reason) if reason else None

    def _checkpoint(self, line: ParsedLine, checkpoint: Checkpoint | str, digest: str) -> str:
        """Count a checkpoint line; a reason when it is malformed or its signature fails."""
        if isinstance(checkpoint, str):
            return checkpoint
        self.checkpoints += 1
        self.legacy += checkpoint.version < CHECKPOINT_VERSION
        if self.public_key is None:
            self.last = AuditHead(line.seq, digest)
            return ""
        if checkpoint.signature is None:
            return "checkpoint is not signed"
        if checkpoint.key_id != self.expected_key:
            return f"checkpoint signed by another key ({checkpoint.key_id!r})"
        if not checkpoint_signature_ok(self.public_key, line, checkpoint):
            return "checkpoint signature does not verify (forged checkpoint)"
        if checkpoint.version >= CHECKPOINT_VERSION:
            self.signed_through, self.last = line.seq, AuditHead(line.seq, digest)
        return ""

    def finish(self) -> AuditVerification:
        """The result once every line verified: what the whole file does and does not prove."""
        lines = self.lineno
        head_seq = self.head.seq if self.head is not None else 0
        if head_seq > lines:
            return self.broken(
                f"truncated: the log ends at line {lines}, "
                f"before the expected (mirrored) checkpoint at line {head_seq}",
                1,
            )
        legacy = (
            f"; {self.legacy} legacy v1 checkpoint(s) not authenticated"
            if self.legacy and self.public_key is not None
            else ""
        )
        if self.public_key is not None and lines and not self.signed_through:
            return AuditVerification(
                False, self.records, 1,
                "no signed checkpoint: nothing is authenticated by the key" + legacy,
                lines, self.checkpoints, 0, self.legacy, self.last, self.warnings,
            )  # fmt: skip
        reason = "chain intact"
        if self.public_key is not None and lines > self.signed_through:
            reason += f"; {lines - self.signed_through} line(s) after the last signed checkpoint"
        reason += legacy
        if head_seq:
            reason += f"; holds the expected checkpoint at line {head_seq}"
        return AuditVerification(
            True, self.records, None, reason, lines, self.checkpoints,
            self.signed_through, self.legacy, self.last, self.warnings,
        )  # fmt: skip
