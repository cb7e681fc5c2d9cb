"""Framing of the CGI event stream: multipart text parts, delivered as soon as complete.

The device sends the next boundary only with its next event or heartbeat
(seconds later), so the kit's `MultipartParser` runs in eager mode: a part
is taken the moment its declared length is met and its text is whole (a
``Heartbeat``, ``Code=`` fields, a ``data=`` JSON block whose braces
balance). A wrong length (some firmware miscounts) falls back to the next
boundary, and a part without a header block (``Code=...`` straight after
the boundary) is read too, in the kit. `EventParts` gives the bodies as
bytes and the framing errors as `EventFramingError`.

Bounded: a part, a header block or garbage without a boundary larger than
the limits is an `EventFramingError`.
"""

from __future__ import annotations

import re

from camsdk.driver import MultipartError, MultipartParser, Part

__all__ = ["EventFramingError", "EventParts", "looks_whole"]

_RECORD = re.compile(r"Code=[^;\r\n]*(;[A-Za-z_]+=[^;\r\n]*)*")
_MAX_HEADERS = 16 * 1024


class EventFramingError(ValueError):
    """The stream breaks the framing beyond recovery (a limit passed)."""


def _balanced(text: str) -> bool:
    depth, quoted, escaped = 0, False, False
    for char in text:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quoted


def looks_whole(body: bytes) -> bool:
    """Whether a part's text is complete: ``Heartbeat``, or records with whole data."""
    text = body.decode("utf-8", "replace").strip()
    if text == "Heartbeat":
        return True
    if not text.startswith("Code="):
        return False
    for record in re.split(r"[\r\n]+(?=Code=)", text):
        head, sep, data = record.partition(";data=")
        if not _RECORD.fullmatch(head.strip()):
            return False
        if sep and not (data.strip().endswith(("}", "]")) and _balanced(data)):
            return False
    return True


class EventParts:
    """Feed bytes, get the bodies of complete parts (see the module docstring)."""

    def __init__(self, boundary: str | None, *, max_part: int = 256 * 1024) -> None:
        token = (boundary or "").strip().strip('"')
        self._parser = MultipartParser(
            token or None, max_part_bytes=max_part, max_header_bytes=_MAX_HEADERS,
            eager=True, complete=_whole_part,
        )

    @property
    def resyncs(self) -> int:
        """Parts whose declared length was wrong (framed by the boundary instead)."""
        return self._parser.resyncs

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the bodies of the parts it completed."""
        try:
            return [part.body for part in self._parser.feed(data)]
        except MultipartError as exc:
            raise EventFramingError(str(exc)) from exc

    def finish(self) -> list[bytes]:
        """The end of the stream: a last part that is whole (no boundary after it) counts."""
        try:
            return [part.body for part in self._parser.finish()]
        except MultipartError as exc:
            raise EventFramingError(str(exc)) from exc


def _whole_part(part: Part) -> bool:
    return looks_whole(part.body)
