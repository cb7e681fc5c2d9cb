"""Framing of the CGI event stream: multipart text parts, delivered as soon as complete.

The kit's `MultipartParser` confirms a part's ``Content-Length`` by the next
boundary, which the device sends only with its next event or heartbeat: every
event would wait for the next heartbeat (seconds). Dahua parts are small text
(``Code=...`` records, ``Heartbeat``) that end with a line ending, so this
reader takes a part the moment its declared length is met, a line ending (or
a boundary) follows it, and the text is whole (a ``Heartbeat``, ``Code=`` fields,
a ``data=`` JSON block whose braces balance). Otherwise the length is wrong
(some firmware miscounts) and the part ends at the next boundary instead.

Bounded: a part, a header block or garbage without a boundary larger than
the limits is a `CameraProtocolError`-worthy `EventFramingError`.
"""

from __future__ import annotations

import re

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
        token = (boundary or "").strip().strip('"').lstrip("-")
        self._token = token.encode("latin-1", "replace") if token else None
        self._max = max_part
        self._buf = bytearray()
        self._state = "seek"
        self._length: int | None = None
        #: Parts whose declared length was wrong (framed by the boundary instead).
        self.resyncs = 0

    def _boundary_at(self, line: bytes) -> bool:
        stripped = line.strip()
        if not stripped.startswith(b"--"):
            return False
        name = stripped.lstrip(b"-").rstrip(b"-")
        if self._token is None and name and len(name) <= 200 and b" " not in name:
            self._token = name
            return True
        return self._token is not None and name == self._token

    def _find_boundary(self, start: int) -> tuple[int, int] | None:
        """``(line start, line end)`` of the next boundary line at or after ``start``."""
        buf = self._buf
        position = start
        while True:
            dash = buf.find(b"--", position)
            if dash < 0:
                return None
            line_start = dash
            while line_start > start and buf[line_start - 1] not in b"\r\n":
                line_start -= 1
            end = buf.find(b"\n", dash)
            if end < 0:
                return None
            if not buf[line_start:dash].strip() and self._boundary_at(bytes(buf[dash:end])):
                return line_start, end + 1
            position = end + 1

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the bodies of the parts it completed."""
        self._buf += data
        out: list[bytes] = []
        while self._step(out):
            pass
        if len(self._buf) > self._max + _MAX_HEADERS:
            raise EventFramingError(f"no complete event part in {len(self._buf)} bytes")
        return out

    def finish(self) -> list[bytes]:
        """The end of the stream: a last part that is whole (no boundary after it) counts."""
        pending = bytes(self._buf).strip(b"\r\n") if self._state == "body" else b""
        self._buf.clear()
        self._state, self._length = "seek", None
        return [pending] if pending and looks_whole(pending) else []

    def _step(self, out: list[bytes]) -> bool:
        buf = self._buf
        if self._state == "seek":
            found = self._find_boundary(0)
            if found is None:
                return False
            del buf[: found[1]]
            self._state, self._length = "headers", None
            return True
        if self._state == "headers":
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > _MAX_HEADERS:
                    raise EventFramingError("event part headers too long")
                return False
            line = bytes(buf[:end]).strip()
            if line and b":" in line and not line.startswith((b"Code=", b"Heartbeat")):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and value.strip().isdigit():
                    self._length = int(value.strip())
                del buf[: end + 1]
                return True
            if line:  # no header block: the body starts straight after the boundary
                self._state = "body"
                return True
            del buf[: end + 1]
            self._state = "body"
            return True
        return self._body(out)

    def _body(self, out: list[bytes]) -> bool:
        buf = self._buf
        length = self._length
        if length is not None and len(buf) >= length:
            body = bytes(buf[:length])
            after = bytes(buf[length : length + 2])
            if not after:
                return False
            ending = 2 if after == b"\r\n" else 1 if after[:1] == b"\n" else 0
            if after == b"\r":
                return False  # the line ending is split across reads
            if (ending or after[:1] == b"-") and looks_whole(body):
                out.append(body)
                del buf[: length + ending]
                self._state = "seek"
                return True
            self.resyncs += 1
            self._length = None  # the declared length is wrong: frame by the boundary
            return True
        found = self._find_boundary(0)
        if length is not None and length <= self._max and found is None:
            return False  # the declared length is not met yet, and no boundary says it lies
        if length is not None:
            self.resyncs += 1
        if found is None:
            if len(buf) > self._max:
                raise EventFramingError(f"event part larger than {self._max} bytes")
            return False
        line_start, line_end = found
        body = bytes(buf[:line_start]).rstrip(b"\r\n")
        if body:
            out.append(body)
        del buf[:line_end]
        self._state, self._length = "headers", None
        return True
