"""Dahua CGI answers: ``key=value`` lines, config tables and error bodies.

The CGI API answers in plain text, one ``key=value`` per line
(``type=IPC-HDW5231R-ZE``, ``table.Encode[0].MainFormat[0].Video.FPS=25``),
and reports failures in the body, often with HTTP 200: ``Error`` on the
first line, a reason on the next (``Bad Request!``, ``Invalid Authority!``).
Older firmware leaves out the ``table.`` prefix of config keys; both forms
read the same here. Bodies are device input: line count and key length are
bounded, and anything that is not a ``key=value`` line is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "MAX_LINES",
    "error_reason",
    "indexed",
    "parse_bool",
    "parse_float",
    "parse_int",
    "parse_kv",
    "section",
]

#: Lines read from one answer (a 64-channel NVR's Encode table is a few thousand).
MAX_LINES = 50_000
_MAX_KEY = 256
_INDEX = re.compile(r"([A-Za-z0-9_]+)\[(\d{1,4})\]\.?(.*)")


def parse_kv(text: str) -> dict[str, str]:
    """``key=value`` lines as a dict (``table.`` prefix dropped, later keys win)."""
    out: dict[str, str] = {}
    for count, line in enumerate(text.splitlines()):
        if count >= MAX_LINES:
            break
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or len(key) > _MAX_KEY:
            continue
        if key.startswith("table."):
            key = key[6:]
        out[key] = value.strip()
    return out


def error_reason(text: str) -> str | None:
    """The reason of an ``Error`` body (``""`` when none given), or None if it is no error."""
    lines = [line.strip() for line in text.strip().splitlines()[:4] if line.strip()]
    if not lines or not lines[0].lower().startswith("error"):
        return None
    first = lines[0][5:].lstrip(" :")
    reason = first or (lines[1] if len(lines) > 1 else "")
    return reason.strip()[:120]


def section(values: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The keys under ``prefix.`` with the prefix removed."""
    head = prefix + "."
    return {key[len(head):]: value for key, value in values.items() if key.startswith(head)}


def indexed(values: Mapping[str, str], name: str) -> dict[int, dict[str, str]]:
    """``name[i].rest=value`` lines grouped by ``i``: ``{i: {rest: value}}``."""
    out: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        if not key.startswith(name + "["):
            continue
        found = _INDEX.fullmatch(key)
        if found is None or found.group(1) != name:
            continue
        out.setdefault(int(found.group(2)), {})[found.group(3)] = value
    return out


def parse_bool(value: str | None) -> bool | None:
    """``true``/``false`` (and 1/0) as a bool, anything else None."""
    if value is None:
        return None
    folded = value.strip().lower()
    if folded in ("true", "1", "yes", "on"):
        return True
    if folded in ("false", "0", "no", "off"):
        return False
    return None


def parse_int(value: str | None) -> int | None:
    """A decimal integer, or None."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("-"):
        return -int(text[1:]) if text[1:].isdigit() and len(text) < 20 else None
    return int(text) if text.isdigit() and len(text) < 20 else None


def parse_float(value: str | None) -> float | None:
    """A finite decimal number, or None."""
    if value is None or len(value) > 40:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None
