"""The audit line format: sealing a line, reading it back strictly, signing checkpoints.

A line is ``{"seq":N,"ts":"<UTC>","prev":"<hex>",<fields>,"hash":"<hex>"}``:
the chain header in that order, then the record's fields in canonical JSON
(sorted keys, compact, UTF-8, nothing escaped that need not be), then the
hash. The writer never writes anything else, so the reader accepts nothing
else: a line must be exactly what sealing its own parsed fields gives back.
That one rule rejects duplicate keys (the parse keeps one of them, so the
re-serialisation is shorter), reordered keys, re-encoded strings and numbers,
whitespace and reserved names repeated after the header. What the hash chain
covers (the bytes) and what a reader sees (the parsed fields) are then the
same thing.

Checkpoint signatures, version 2 (``"version":2``), cover the line's own
body without the signature member: the context string
``camsdk-audit-checkpoint-v2\\n`` followed by
``{"seq":N,"ts":"...","prev":"...","key_id":"...","type":"checkpoint","version":2}``.
Every byte of the line except the signature value and the hash (a function
of the rest) is signed, ``seq`` and ``prev`` included, so a checkpoint cannot
be moved to another position or another chain. Version 1 checkpoints (no
``version`` field) signed a re-serialisation of parsed fields instead; they
are recognised, their signatures checked, but they authenticate nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from json.scanner import make_scanner
from typing import Any, NamedTuple, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._keys import canonical_json, sign_bytes, verify_bytes

try:  # CPython's C encoder, built once: json.dumps builds a new one per call.
    import _json
except ImportError:  # pragma: no cover - other Pythons
    _json = None  # type: ignore[assignment]

__all__ = [
    "CHECKPOINT_VERSION",
    "GENESIS",
    "HEADER",
    "MAX_LINE_BYTES",
    "NOT_CANONICAL",
    "SUFFIX_LEN",
    "TS",
    "AuditHead",
    "Checkpoint",
    "ParsedLine",
    "as_checkpoint",
    "canonical_text",
    "checkpoint_signature_ok",
    "header_problem",
    "parse_line",
    "rest_fields",
    "seal",
    "sealed_body",
    "sign_checkpoint",
    "unsealed_body",
    "utc_ts",
]

#: ``prev`` of the first line.
GENESIS = "0" * 64
#: The longest line the writer writes and the reader accepts (bounded memory for hostile files).
MAX_LINE_BYTES = 1 << 20
#: The checkpoint format this camsdk writes.
CHECKPOINT_VERSION = 2

_CONTEXT_V1 = b"camsdk-audit-checkpoint-v1\n"
_CONTEXT_V2 = b"camsdk-audit-checkpoint-v2\n"
_HASH_PREFIX = b',"hash":"'
SUFFIX_LEN = len(_HASH_PREFIX) + 64 + 2  # ,"hash":"<64 hex>"}
_MAX_HEADER = 128  # {"seq":<digits>,"ts":"<27 chars>","prev":"<64 hex>" is shorter
#: The time stamp as the writer writes it (27 bytes).
TS = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
#: The chain header exactly as the writer writes it: no leading zeros, microsecond UTC time.
HEADER = re.compile(
    rb'\{"seq":([1-9][0-9]{0,18}),"ts":"(' + TS.pattern + rb')","prev":"([0-9a-f]{64})"'
)
_V1_FIELDS = (frozenset({"type"}), frozenset({"type", "key_id", "signature"}))
_V2_FIELDS = (frozenset({"type", "version"}), frozenset({"type", "version", "key_id", "signature"}))

# The C scanner itself: JSONDecoder.raw_decode adds a Python call per line.
_scan: Callable[[str, int], tuple[Any, int]] = cast(Any, make_scanner)(json.JSONDecoder())


def _no_default(value: Any) -> Any:
    raise TypeError(f"not a JSON value: {type(value).__name__}")


if _json is not None:
    _encoder = _json.make_encoder(
        None, _no_default, _json.encode_basestring, None, ":", ",", True, False, False
    )

    def canonical_text(value: Any) -> str:
        """``canonical_json(value)`` as text, without building an encoder per call."""
        return "".join(_encoder(value, 0))

else:  # pragma: no cover - other Pythons

    def canonical_text(value: Any) -> str:
        """``canonical_json(value)`` as text."""
        return canonical_json(value).decode("utf-8")


def utc_ts(clock: Callable[[], datetime]) -> str:
    """The time stamp of a line: UTC, microseconds, ``Z``."""
    return clock().astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def unsealed_body(seq: int, ts: str, prev: str, fields: Mapping[str, Any]) -> bytes:
    """The line without its hash: chain header, then ``fields`` in canonical JSON."""
    head = f'{{"seq":{seq},"ts":"{ts}","prev":"{prev}"'.encode("ascii")
    rest = canonical_json(fields)
    return head + (b"," + rest[1:] if len(rest) > 2 else b"}")


def seal(seq: int, ts: str, prev: str, fields: Mapping[str, Any]) -> bytes:
    """The line (without newline) for ``fields``: chain header, sorted fields, hash last."""
    body = unsealed_body(seq, ts, prev, fields)
    return body[:-1] + _HASH_PREFIX + hashlib.sha256(body).hexdigest().encode("ascii") + b'"}'


def sealed_body(line: bytes) -> bytes | None:
    """The line without its hash field when it has the sealed shape, else ``None``."""
    if len(line) <= SUFFIX_LEN or line[-2:] != b'"}':
        return None
    if line[-SUFFIX_LEN : -SUFFIX_LEN + len(_HASH_PREFIX)] != _HASH_PREFIX:
        return None
    return line[:-SUFFIX_LEN] + b"}"


def rest_fields(rest: bytes) -> dict[str, Any] | None:
    """The fields in ``rest`` (what follows the chain header), or ``None`` unless canonical.

    Canonical means: one JSON object without the reserved names whose
    canonical serialisation is exactly these bytes (which also rules out
    duplicate keys: the parse keeps one, so the serialisation is shorter).
    Hostile input costs bounded time: the line is length-capped, nesting is
    capped by the C parser's recursion guard, long digit strings by Python's
    int limit.
    """
    if rest[:1] != b",":
        return {} if rest == b"}" else None
    try:
        text = "{" + rest[1:].decode("utf-8")
        value = _scan(text, 0)[0]
        # Equal text means the whole input was one object, in exactly this form.
        if canonical_text(value) != text:
            return None
    except (ValueError, RecursionError, TypeError, StopIteration):
        return None
    if "seq" in value or "ts" in value or "prev" in value or "hash" in value:
        return None
    return cast(dict[str, Any], value)


def header_problem(body: bytes, seq: int, prev: bytes) -> str:
    """Why ``body`` does not start with the canonical header for ``seq`` and ``prev``."""
    prev_at = body.find(b'","prev":"', 0, _MAX_HEADER)
    ts_at = body.find(b',"ts":"', 0, prev_at)
    if (
        prev_at < 0
        or ts_at < 0
        or body[prev_at + 74 : prev_at + 75] != b'"'
        or not body.startswith(b'{"seq":')
    ):
        return "malformed: no seq/ts/prev header"
    if body[prev_at + 10 : prev_at + 74] != prev:
        return "prev mismatch: a line before it was removed, inserted or reordered"
    found = body[7:ts_at]
    if found != b"%d" % seq:
        return f"seq is {found.decode('ascii', 'replace')[:24]}, expected {seq}"
    return "malformed: the seq/ts/prev header is not in canonical form"


class ParsedLine(NamedTuple):
    """A line that passed every check that needs no context: shape, hash, canonical form."""

    seq: int
    ts: str
    prev: str
    fields: dict[str, Any]


def parse_line(line: bytes) -> ParsedLine | str:
    """Parse one line (no newline) strictly; a string says why it is not a sealed line."""
    if len(line) > MAX_LINE_BYTES:
        return f"malformed: line longer than {MAX_LINE_BYTES} bytes"
    body = sealed_body(line)
    if body is None:
        return "malformed: not a sealed audit line"
    if hashlib.sha256(body).hexdigest().encode("ascii") != line[-66:-2]:
        return "hash mismatch: the line was altered"
    header = HEADER.match(body)
    if header is None:
        return "malformed: no canonical seq/ts/prev header"
    fields = rest_fields(body[header.end() :])
    if fields is None:
        return NOT_CANONICAL
    seq, ts, prev = header.groups()
    return ParsedLine(int(seq), ts.decode("ascii"), prev.decode("ascii"), fields)


NOT_CANONICAL = (
    "malformed: not in canonical form (duplicate, reordered or re-encoded fields); "
    "camsdk never writes such a line"
)


class Checkpoint(NamedTuple):
    """The parts of a checkpoint line the verifier needs."""

    version: int
    key_id: str | None
    signature: str | None


def as_checkpoint(fields: Mapping[str, Any]) -> Checkpoint | str | None:
    """``None`` for a record, a `Checkpoint`, or a string saying why the checkpoint is malformed."""
    if fields.get("type") != "checkpoint":
        return None
    keys = fields.keys()
    if "version" not in fields:
        version, allowed = 1, _V1_FIELDS
    elif type(fields["version"]) is int and fields["version"] == CHECKPOINT_VERSION:
        version, allowed = CHECKPOINT_VERSION, _V2_FIELDS
    else:
        return f"checkpoint version {fields['version']!r} is not supported by this camsdk"
    if keys not in allowed:
        return f"malformed checkpoint: fields {sorted(keys)}"
    key_id, signature = fields.get("key_id"), fields.get("signature")
    if "signature" in fields and not (isinstance(key_id, str) and isinstance(signature, str)):
        return "malformed checkpoint: key_id and signature must be strings"
    return Checkpoint(version, key_id, signature)


def sign_checkpoint(
    key: Ed25519PrivateKey, seq: int, ts: str, prev: str, fields: Mapping[str, Any]
) -> str:
    """The version-2 signature of a checkpoint line whose fields (without signature) are these."""
    return sign_bytes(key, _CONTEXT_V2 + unsealed_body(seq, ts, prev, fields))


def checkpoint_signature_ok(
    key: Ed25519PublicKey, line: ParsedLine, checkpoint: Checkpoint
) -> bool:
    """Whether the checkpoint's signature is ``key``'s, over what its version signs."""
    if checkpoint.signature is None:
        return False
    unsigned = {k: v for k, v in line.fields.items() if k != "signature"}
    if checkpoint.version == CHECKPOINT_VERSION:
        payload = _CONTEXT_V2 + unsealed_body(line.seq, line.ts, line.prev, unsigned)
    else:
        unsigned.update(seq=line.seq, ts=line.ts, prev=line.prev)
        payload = _CONTEXT_V1 + canonical_json(unsigned)
    return verify_bytes(key, payload, checkpoint.signature)


@dataclass(frozen=True, slots=True)
class AuditHead:
    """A line a log must still hold: its position and the SHA-256 of its bytes.

    Kept away from the log (a `CheckpointMirror`, another machine), it lets
    `verify_audit_log` detect a log cut back to before that line, which the
    file alone cannot show. ``digest`` is what the next line's ``prev`` holds.
    """

    seq: int
    digest: str

    def __post_init__(self) -> None:
        if self.seq < 1 or not re.fullmatch(r"[0-9a-f]{64}", self.digest):
            raise ValueError("AuditHead needs seq >= 1 and a SHA-256 hex digest")

    @classmethod
    def from_line(cls, line: bytes | str) -> AuditHead:
        """The head for a checkpoint line (newline optional); `ValueError` for anything else."""
        raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
        raw = raw[:-1] if raw.endswith(b"\n") else raw
        parsed = parse_line(raw)
        if isinstance(parsed, str):
            raise ValueError(f"not an audit checkpoint line: {parsed}")
        checkpoint = as_checkpoint(parsed.fields)
        if not isinstance(checkpoint, Checkpoint):
            raise ValueError(f"not an audit checkpoint line: {checkpoint or 'a record'}")
        return cls(parsed.seq, hashlib.sha256(raw).hexdigest())
