"""Reading values out of a device's JSON leniently, in bounded time and size.

Device JSON is untrusted and loosely typed: a number arrives as text on one
firmware and as a number on the next, an object is ``null`` or a list when
a feature is missing. Drivers read each field through one of these and get
the type they asked for, or a default, never an exception:

- `json_object` / `json_array`: the value when it is a JSON object / array,
  else an empty one;
- `json_int`: an integer from a number or numeric text (booleans count as
  0/1; anything beyond 2**53 or longer than 15 digits is the default);
- `json_float`: a finite float from a number or numeric text, else None;
- `json_text`: printable text from a string or number, at most ``limit``
  characters (control characters dropped; at most four times the limit is
  scanned).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_TEXT", "json_array", "json_float", "json_int", "json_object", "json_text"]

#: Longest text `json_text` keeps by default (names, models, versions).
MAX_TEXT = 128


def json_object(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def json_array(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def json_int(value: Any, default: int = 0) -> int:
    """An integer from a JSON number or numeric text; ``default`` otherwise."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -(2**53) < value < 2**53 else default
    if isinstance(value, float) and value == value and abs(value) < 2**53:
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 16:
        return int(value.strip())
    return default


def json_float(value: Any) -> float | None:
    """A finite float from a JSON number or numeric text; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and 0 < len(value) < 32:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if number == number and abs(number) < 1e12 else None


def json_text(value: Any, default: str = "", *, limit: int = MAX_TEXT) -> str:
    """Printable text from a JSON string or number, capped at ``limit`` characters."""
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return default
    text = "".join(c for c in value[: limit * 4] if c.isprintable())
    return text.strip()[:limit]
