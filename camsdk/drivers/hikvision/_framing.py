"""`AlertFramer`: the alert stream's multipart framing, delivered without delay.

The kit's `MultipartParser` keeps a part until the next boundary shows up,
to check its ``Content-Length`` against the framing. On an MJPEG stream the
next frame is milliseconds away; on an alert stream the next part may be a
heartbeat ten seconds later, so the last alert of a burst would wait that
long. Alert parts are small, self-delimiting documents (XML or JSON; a
picture part ends with the JPEG end marker), so this framer hands a part
over as soon as ``Content-Length`` bytes have arrived *and* they end like a
complete document. When the declared length is wrong (too short, too long,
or absent) it falls back to the next boundary line, as the kit's parser
does. Parts split across chunks at any byte are reassembled.

Memory and time are bounded: one buffer, each byte scanned a bounded number
of times; a part larger than ``max_part``, a header block larger than
``max_header`` or that much data without a boundary raises
`MultipartError`.
"""

from __future__ import annotations

import re

from camsdk.driver import MultipartError, Part

__all__ = ["AlertFramer"]

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_JPEG_END = b"\xff\xd9"
_ALERT_END = b"</EventNotificationAlert>"


def _complete(body: bytes) -> bool:
    """Whether ``body`` ends like a whole alert document (or picture)."""
    tail = body.rstrip(b"\r\n\t ")
    return tail.endswith((b">", b"}", _JPEG_END))


class AlertFramer:
    """Feed bytes; get the alert stream's parts back as soon as each is whole."""

    def __init__(self, boundary: str | None, *, max_part: int = 2 * 1024 * 1024,
                 max_header: int = 16 * 1024) -> None:
        self._token = boundary.strip().lstrip("-").encode("latin-1") if boundary else None
        self._max_part = max_part
        self._max_header = max_header
        self._buf = bytearray()
        self._state = "seek"
        self._headers: dict[str, str] = {}
        self._length: int | None = None
        #: Parts whose declared ``Content-Length`` was wrong (framed by the boundary).
        self.resyncs = 0

    def _boundary_at(self, start: int) -> tuple[int, int] | None:
        """``(line start, line end)`` of the first boundary line at or after ``start``."""
        buf = self._buf
        token = self._token
        if token is None:
            # No declared boundary: the first "--token" line defines it.
            at = buf.find(b"--", start)
            while at >= 0:
                newline = buf.find(b"\n", at)
                if newline < 0:
                    return None
                line = bytes(buf[at:newline]).strip()
                if (at == 0 or buf[at - 1] in b"\r\n") and 2 < len(line) <= 200:
                    self._token = line.lstrip(b"-")
                    return at, newline + 1
                at = buf.find(b"--", newline)
            return None
        marker = b"--" + token
        at = buf.find(marker, start)
        while at >= 0:
            newline = buf.find(b"\n", at)
            if newline < 0:
                return None  # the line is not complete yet
            if at == 0 or buf[at - 1] in b"\r\n":
                return at, newline + 1
            at = buf.find(marker, at + 1)
        return None

    def feed(self, data: bytes) -> list[Part]:
        """Add ``data``; return every part it completed."""
        self._buf += data
        out: list[Part] = []
        while self._step(out):
            pass
        return out

    def _step(self, out: list[Part]) -> bool:
        buf = self._buf
        if self._state == "seek":
            found = self._boundary_at(0)
            if found is None:
                if len(buf) > self._max_part:
                    raise MultipartError(f"no multipart boundary in {len(buf)} bytes")
                return False
            del buf[: found[1]]
            self._state = "headers"
            return True
        if self._state == "headers":
            match = _HEADER_END.search(buf, 0, self._max_header + 4)
            if match is None:
                if len(buf) > self._max_header:
                    raise MultipartError("a part's headers exceed the limit")
                return False
            if buf.startswith((b"\r\n", b"\n")):  # no headers at all
                block, end = b"", (2 if buf.startswith(b"\r\n") else 1)
            else:
                block, end = bytes(buf[: match.start()]), match.end()
            headers: dict[str, str] = {}
            for line in block.decode("latin-1").splitlines():
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            del buf[:end]
            declared = headers.get("content-length", "").strip()
            self._headers = headers
            self._length = int(declared) if declared.isdigit() else None
            if self._length is not None and self._length > self._max_part:
                raise MultipartError(f"a part of {self._length} bytes exceeds the limit")
            self._state = "body"
            return True
        # body
        length = self._length
        if length is not None:
            window = min(len(buf), length)
            early = self._boundary_at(0)
            if early is not None and early[0] < window:
                self._length = None  # a boundary inside the declared body: the length lies
                self.resyncs += 1
                return True
            if len(buf) >= length and _complete(bytes(buf[:length])):
                out.append(Part(self._headers, bytes(buf[:length])))
                del buf[:length]
                self._state = "seek"
                return True
            if len(buf) >= length:
                self._length = None  # too short: the document goes on
                self.resyncs += 1
                return True
            if bytes(buf[-64:]).rstrip(b"\r\n\t ").endswith(_ALERT_END):
                # Too long, and the alert is plainly whole: do not wait for bytes that
                # will never belong to it.
                self.resyncs += 1
                out.append(Part(self._headers, bytes(buf).rstrip(b"\r\n")))
                buf.clear()
                self._state = "seek"
                return True
            return False
        found = self._boundary_at(0)
        if found is None:
            if len(buf) > self._max_part:
                raise MultipartError("a part exceeds the limit (no boundary found)")
            return False
        body = bytes(buf[: found[0]]).rstrip(b"\r\n")
        if body:
            out.append(Part(self._headers, body))
        del buf[: found[1]]
        self._state = "headers"
        return True
