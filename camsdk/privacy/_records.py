"""What an audit record may contain: plain JSON values, no media, no secrets.

Every sink runs records through `sanitize_record` before keeping them, so a
facade bug that puts a password, a token or a JPEG into a record cannot get
it onto disk or into a log: string values go through `redact_text`, fields
named like a secret are masked, binary values are refused outright.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from .._access import Principal
from .._url import redact_text

__all__ = ["REDACTED", "RESERVED_FIELDS", "sanitize_record"]

#: What a secret-named field's value is replaced with.
REDACTED = "***"
#: Fields the audit log writes itself; a record may not set them.
RESERVED_FIELDS = frozenset({"seq", "ts", "prev", "hash"})

_SECRET_NAME = re.compile(
    r"pass(?:word|wd|phrase)?$|^pwd$|password|passwd|token|secret|credential|authori[sz]ation"
    r"|api[_-]?key|private[_-]?key|cookie",
    re.IGNORECASE,
)
_MAX_STRING = 2048
_MAX_DEPTH = 8
# Records repeat the same short strings (ids, purposes, redacted URLs) on every
# request; remembering which strings redaction leaves unchanged keeps an audited
# request well under 1 ms. Strings that held a secret are never remembered.
_CLEAN_MAX_LEN = 256
_CLEAN_MAX_COUNT = 4096
_clean_strings: set[str] = set()


def _redact(text: str) -> str:
    if text in _clean_strings:
        return text
    redacted = redact_text(text)
    if redacted == text and len(text) <= _CLEAN_MAX_LEN:
        if len(_clean_strings) >= _CLEAN_MAX_COUNT:
            _clean_strings.clear()  # crude bound; refilling costs one redaction each
        _clean_strings.add(text)
    return redacted


@functools.lru_cache(maxsize=1024)
def is_secret_name(name: str) -> bool:
    """Whether a field called ``name`` probably holds a secret."""
    return _SECRET_NAME.search(name) is not None


def sanitize_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return a JSON-ready copy of ``record`` with secrets redacted.

    Raises `TypeError` for binary or unknown value types (media must never be
    audited) and `ValueError` for reserved field names or non-finite numbers.
    """
    clean = _sanitize_mapping(record, 0)
    reserved = RESERVED_FIELDS.intersection(clean)
    if reserved:
        raise ValueError(f"audit records may not set {sorted(reserved)}: the log writes them")
    if clean.get("type") == "checkpoint":
        raise ValueError("audit records may not pose as checkpoints")
    return clean


def _sanitize_mapping(mapping: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"audit record keys must be strings, not {type(key).__name__}")
        out[key] = REDACTED if is_secret_name(key) else _sanitize_value(value, depth)
    return out


def _sanitize_value(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError("audit record is nested too deeply")
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str):
        text = _redact(str.__str__(value))  # the characters, not a subclass's __str__
        return text if len(text) <= _MAX_STRING else text[:_MAX_STRING] + "...[truncated]"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("audit record numbers must be finite")
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError("audit records must not carry binary data (media never goes to the audit)")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, Principal):
        return redact_text(value.id)
    if isinstance(value, PurePath):
        return redact_text(str(value))
    if isinstance(value, Mapping):
        return _sanitize_mapping(value, depth + 1)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_sanitize_value(item, depth + 1) for item in items]
    raise TypeError(f"audit records take JSON values only, not {type(value).__name__}")
