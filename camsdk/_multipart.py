"""An incremental parser for ``multipart/x-mixed-replace`` (MJPEG over HTTP).

Cameras and streaming servers bend the multipart rules in every direction,
so the parser accepts what they send rather than what RFC 2046 says:

- the boundary may be declared as ``boundary=foo`` or ``boundary="--foo"``,
  and may appear in the body with or without the leading ``--`` (any run of
  up to 16 dashes before the token is accepted); when the content type
  declares none, the first ``--token`` line of the body defines it;
- CRLF or bare LF line endings, spaces or tabs after the boundary;
- an optional preamble before the first boundary and an epilogue after the
  closing ``--token--``;
- parts with a ``Content-Length`` (the fast path: the body is sliced without
  searching it) and without one (the body ends at the next boundary);
- a wrong ``Content-Length``: unless the sliced body ends like a JPEG or a
  boundary follows it, the parser falls back to searching for the boundary;
- garbage between parts (skipped up to the next boundary);
- parts that start straight after the boundary line without a header
  block (a JPEG, or a first line that is no ``Name: value`` header, as
  Dahua's ``Code=...`` event records).

**Eager mode** (``eager=True``) is for event streams: a device sends one
part, then nothing until the next event or heartbeat, seconds later. By
default a part with a ``Content-Length`` waits for the next boundary, which
proves the length right; in eager mode it is released as soon as its
declared bytes arrived, unless the bytes after it already show that the
length lies (they are neither a line ending nor a boundary), a boundary
line turns up inside the declared body (released at that boundary
instead), or the caller's ``complete`` check says the part is not whole
(then it waits for the boundary as usual). A declared length that is too
long is noticed early too: a part that ends with a line ending and that
``complete`` accepts is released without the missing bytes (so the check
must only accept a truly finished part: a closed root element, a balanced
JSON object). ``complete`` also decides whether a part the server ended
without a closing boundary is kept at `MultipartParser.finish`.

Data may arrive split at any byte. The parser keeps one buffer and a scan
offset, so no byte is searched twice (linear time), and it bounds memory: a
part larger than ``max_part_bytes``, a header block larger than
``max_header_bytes`` or that much data without any boundary is an error,
never an ever-growing buffer.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "MultipartError",
    "MultipartParser",
    "Part",
    "PartTooLargeError",
    "boundary_from_content_type",
]

#: Dashes accepted before the boundary token (RFC: exactly two).
_MAX_DASHES = 16
#: Spaces or tabs accepted after the boundary token ("transport padding").
_MAX_PADDING = 64
#: Longest line taken for a boundary when the content type declares none.
_MAX_LEARNED_BOUNDARY = 200
#: Line endings accepted between a part's body and the next boundary line.
_MAX_GAP = 4
#: Consumed bytes kept before compacting the buffer (amortises the copy).
_COMPACT_AT = 64 * 1024
_JPEG_END = b"\xff\xd9"
# A header line: a field name (an RFC 9110 token) and a colon.
_HEADER_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*:")
_JPEG_START = b"\xff\xd8"
_DASH = 0x2D
_LF = 0x0A


class MultipartError(ValueError):
    """The body breaks multipart framing in a way the parser cannot recover from."""


class PartTooLargeError(MultipartError):
    """A part (or the data before a boundary) is larger than the parser's limit."""


@dataclass(frozen=True, slots=True)
class Part:
    """One body part: its headers (names lower-cased) and its bytes."""

    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        """The part's media type, lower-cased, without parameters (``""`` if absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def __repr__(self) -> str:
        return f"Part(content_type={self.content_type!r}, size={len(self.body)})"


def boundary_from_content_type(content_type: str) -> str | None:
    """The ``boundary`` parameter of a ``Content-Type`` value, unquoted (``None`` if absent)."""
    for param in _split_params(content_type)[1:]:
        name, sep, value = param.partition("=")
        if sep and name.strip().lower() == "boundary":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1].replace('\\"', '"')
            return value or None
    return None


def _split_params(value: str) -> list[str]:
    """Split at ``;`` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _token(boundary: str | bytes) -> bytes:
    raw = boundary.encode("latin-1") if isinstance(boundary, str) else bytes(boundary)
    # Dashes in front are matched loosely in the body, so they are not part of the token.
    token = raw.strip().lstrip(b"-")
    if not token:
        raise MultipartError("multipart boundary is empty")
    return token


class _State(enum.Enum):
    PREAMBLE = "preamble"  # before the first boundary
    HEADERS = "headers"  # inside a part's header block
    BODY = "body"  # inside a part's body
    SEEK = "seek"  # after a body sliced by Content-Length, looking for the boundary
    EPILOGUE = "epilogue"  # after the closing boundary


class MultipartParser:
    """Feed it bytes as they arrive; it returns each complete `Part` once.

    ``boundary`` is the content type's parameter (see
    `boundary_from_content_type`), or ``None`` to learn it from the body.
    Call `finish` at the end of the body to get a last part that the server
    ended without a closing boundary (kept only when it is a complete JPEG,
    its ``Content-Length`` was met, or ``complete`` accepts it).

    ``eager=True`` releases a part as soon as its ``Content-Length`` bytes
    arrived (event streams; see the module docstring); ``complete`` is the
    caller's check that a part is whole (an XML document closed, a JSON
    object balanced), consulted before a part is released early.
    """

    def __init__(
        self,
        boundary: str | bytes | None,
        *,
        max_part_bytes: int = 8 * 1024 * 1024,
        max_header_bytes: int = 16 * 1024,
        eager: bool = False,
        complete: Callable[[Part], bool] | None = None,
    ) -> None:
        self._token: bytes | None = _token(boundary) if boundary is not None else None
        self._max_part = max_part_bytes
        self._max_header = max_header_bytes
        self._eager = eager
        self._complete = complete
        self._buf = bytearray()
        # Everything before _pos is consumed. In HEADERS it is the start of the
        # next header line, in BODY the start of the body.
        self._pos = 0
        # Where the next search resumes; never moves backwards within a state.
        self._scan = 0
        # A boundary may start here without a line ending before it (right
        # after a sliced body, or at the very start of the stream); -1 = none.
        self._anchor = 0
        self._state = _State.PREAMBLE
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._length: int | None = None
        self._skipped = 0
        self._eof = False
        #: Times the framing was recovered (wrong Content-Length, garbage between parts).
        self.resyncs = 0

    @property
    def boundary(self) -> bytes | None:
        """The boundary token without leading dashes (learnt from the body if undeclared)."""
        return self._token

    @property
    def buffered(self) -> int:
        """Bytes held for a part not complete yet."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> list[Part]:
        """Add ``data``; return the parts it completed (often none, sometimes several)."""
        if self._eof:
            raise MultipartError("data fed after finish()")
        self._buf += data
        out: list[Part] = []
        self._run(out)
        self._compact()
        return out

    def finish(self) -> list[Part]:
        """Signal the end of the body; return what it completed."""
        if self._eof:
            return []
        self._eof = True
        out: list[Part] = []
        self._run(out)
        if self._state is _State.BODY and self._length is None:
            # The server closed without a final boundary: keep the last
            # part only if it is whole.
            body = bytes(self._buf[self._pos :]).rstrip(b"\r\n\t ")
            part = Part(self._headers, body)
            if body and (
                (body.startswith(_JPEG_START) and body.endswith(_JPEG_END))
                or (self._complete is not None and self._complete(part))
            ):
                out.append(part)
        self._buf = bytearray()
        self._pos = self._scan = 0
        self._state = _State.EPILOGUE
        return out

    # -- the state machine ------------------------------------------------------------------

    def _run(self, out: list[Part]) -> None:
        while True:
            state = self._state
            if state is _State.PREAMBLE and self._token is None:
                progressed = self._learn_boundary()
            elif state in (_State.PREAMBLE, _State.SEEK):
                progressed = self._seek()
            elif state is _State.HEADERS:
                progressed = self._read_headers()
            elif state is _State.BODY:
                by_length = self._length is not None
                progressed = self._body_by_length(out) if by_length else self._body_by_scan(out)
            else:  # EPILOGUE: whatever follows the closing boundary is ignored
                self._pos = self._scan = len(self._buf)
                progressed = False
            if not progressed:
                return

    def _learn_boundary(self) -> bool:
        """No declared boundary: the first ``--token`` line of the body is one."""
        buf = self._buf
        while True:
            newline = buf.find(b"\n", self._scan)
            if newline < 0:
                self._scan = len(buf)
                if self._skipped + len(buf) - self._pos > self._max_part:
                    raise PartTooLargeError(f"no multipart boundary in {self._max_part} bytes")
                return False
            line = bytes(buf[self._pos : newline]).rstrip(b"\r").rstrip(b" \t")
            self._pos = self._scan = newline + 1
            if (
                line.startswith(b"--")
                and len(line) <= _MAX_LEARNED_BOUNDARY
                and line.strip(b"-")
                and not any(c in line for c in b" \t")
            ):
                self._token = line.lstrip(b"-")
                self._begin_headers()
                return True
            self._skipped += len(line) + 1
            self._check_skipped()

    def _seek(self) -> bool:
        """Find the next boundary line, skipping whatever is in front of it."""
        found = self._find_boundary(self._pos)
        if found is None:
            # Nothing before the scan offset can start a boundary any more,
            # except the dashes and the line ending just before it.
            self._skip_garbage(keep_from=max(self._pos, self._scan - _MAX_DASHES - 1))
            return False
        start, end, closing = found
        if self._state is _State.SEEK and bytes(self._buf[self._pos : start]).strip(b"\r\n\t "):
            self.resyncs += 1
        self._skipped = 0
        self._pos = self._scan = end
        if closing:
            self._state = _State.EPILOGUE
        else:
            self._begin_headers()
        return True

    def _begin_headers(self) -> None:
        self._state = _State.HEADERS
        self._headers = {}
        self._header_bytes = 0
        self._scan = self._pos

    def _read_headers(self) -> bool:
        buf = self._buf
        if self._scan == self._pos and not self._headers:
            head = bytes(buf[self._pos : self._pos + 2])
            if head == _JPEG_START:
                # Some servers put the picture straight after the boundary line.
                self._begin_body(None)
                return True
            if len(head) < 2 and not self._eof and head in (b"", b"\xff"):
                return False
        while True:
            newline = buf.find(b"\n", self._scan)
            if newline < 0:
                self._scan = len(buf)
                if self._header_bytes + len(buf) - self._pos > self._max_header:
                    raise MultipartError(f"part headers longer than {self._max_header} bytes")
                return False
            line = bytes(buf[self._pos : newline]).rstrip(b"\r")
            if not self._header_bytes and line.strip() and not _HEADER_LINE.match(line):
                # No header block: this first line is already the body.
                self._begin_body(None)
                return True
            self._header_bytes += newline + 1 - self._pos
            if self._header_bytes > self._max_header:
                raise MultipartError(f"part headers longer than {self._max_header} bytes")
            self._pos = self._scan = newline + 1
            if not line.strip():
                self._begin_body(_content_length(self._headers))
                return True
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                self._headers[name.strip().lower()] = value.strip()

    def _begin_body(self, length: int | None) -> None:
        if length is not None and length > self._max_part:
            raise PartTooLargeError(
                f"part of {length} bytes is larger than the limit of {self._max_part}"
            )
        self._state = _State.BODY
        self._length = length
        # An empty body: the boundary line may follow the blank line at once.
        self._scan = self._anchor = self._pos

    def _body_by_length(self, out: list[Part]) -> bool:
        assert self._length is not None
        start = self._pos
        end = start + self._length
        if len(self._buf) < end:
            if not self._eof:
                if self._eager:
                    return self._early_end(start, out)
                return False
            # The body ended short of its declared length: maybe the length
            # was wrong and a boundary is in there.
            self.resyncs += 1
            self._length = None
            self._scan = start
            return True
        body = bytes(self._buf[start:end])
        whole = body.startswith(_JPEG_START) and body.endswith(_JPEG_END)
        follows = True if whole else self._boundary_follows(end)
        if follows is None and self._eager and not self._eof:
            # Nothing after the body contradicts its length: release it now,
            # unless the caller sees that it is not whole.
            follows = True if self._complete is None else (
                self._complete(Part(self._headers, body)) or None
            )
        if follows is None:
            return False  # need the bytes after the body to decide
        if not follows:
            # The declared length was wrong: find the real end by the boundary.
            return self._resync_by_scan(start)
        if body:
            out.append(Part(self._headers, body if whole else _trim_padding(body)))
        self._pos = self._scan = self._anchor = end
        self._state = _State.SEEK
        self._skipped = 0
        return True

    def _early_end(self, start: int, out: list[Part]) -> bool:
        """Eager mode, fewer bytes than declared so far: is the length too long?

        A boundary line inside the declared body says so (the part ends
        there). So does a part that ends with a line ending and that the
        caller's ``complete`` check accepts as whole: the device wrote it
        all and waits for its next event, with the rest of the declared
        length never coming.
        """
        if self._find_boundary(start) is not None:
            return self._resync_by_scan(start)
        buf = self._buf
        if self._complete is None or not buf.endswith(b"\n"):
            return False
        body = bytes(buf[start:]).rstrip(b"\r\n\t ")
        part = Part(self._headers, body)
        if not body or not self._complete(part):
            return False
        self.resyncs += 1
        out.append(part)
        self._pos = self._scan = self._anchor = len(buf)
        self._state = _State.SEEK
        self._skipped = 0
        return True

    def _resync_by_scan(self, start: int) -> bool:
        """The declared length was wrong: find the part's end by the boundary."""
        self.resyncs += 1
        self._length = None
        self._scan = start
        return True

    def _body_by_scan(self, out: list[Part]) -> bool:
        start = self._pos
        found = self._find_boundary(start)
        if found is None:
            if self._scan - start > self._max_part + _MAX_DASHES + 2:
                raise PartTooLargeError(
                    f"part larger than the limit of {self._max_part} bytes (no boundary found)"
                )
            return False
        line_start, end, closing = found
        body = bytes(self._buf[start:line_start])
        if body.endswith(b"\r\n"):
            body = body[:-2]
        elif body.endswith(b"\n"):
            body = body[:-1]
        body = _trim_padding(body)
        if len(body) > self._max_part:
            raise PartTooLargeError(
                f"part of {len(body)} bytes is larger than the limit of {self._max_part}"
            )
        if body:
            out.append(Part(self._headers, body))
        self._pos = self._scan = end
        if closing:
            self._state = _State.EPILOGUE
        else:
            self._begin_headers()
        return True

    # -- boundary matching ------------------------------------------------------------------

    def _find_boundary(self, floor: int) -> tuple[int, int, bool] | None:
        """The next boundary line at or after the scan offset: ``(line_start, end, closing)``.

        ``line_start`` is where its dashes begin, ``end`` is just past its line
        ending. A match must start a line (or sit at the anchor, or follow a
        JPEG's end marker directly); ``floor`` bounds the walk back over dashes.
        Returns ``None`` until enough bytes arrived to be sure.
        """
        token = self._token
        assert token is not None
        buf = self._buf
        while True:
            at = buf.find(token, self._scan)
            if at < 0:
                self._scan = max(self._scan, len(buf) - len(token) + 1)
                return None
            start = at
            while start > floor and buf[start - 1] == _DASH and at - start < _MAX_DASHES:
                start -= 1
            if not (
                start == self._anchor
                or (start > floor and buf[start - 1] == _LF)
                or (at - start >= 2 and start - 2 >= floor and buf[start - 2 : start] == _JPEG_END)
            ):
                self._scan = at + 1
                continue
            tail = self._match_tail(at + len(token))
            if tail is None:
                self._scan = at  # look at this candidate again with more data
                return None
            if tail is False:
                self._scan = at + 1
                continue
            end, closing = tail
            return start, end, closing

    def _match_tail(self, i: int) -> tuple[int, bool] | Literal[False] | None:
        """After a token at ``i``: optional ``--``, padding, then a line ending.

        Returns ``(end, closing)``, ``False`` when this is no boundary, or
        ``None`` when more data is needed.
        """
        buf = self._buf
        n = len(buf)
        closing = False
        if i < n and buf[i] == _DASH:
            if i + 1 >= n:
                return (n, True) if self._eof else None
            if buf[i + 1] != _DASH:
                return False
            closing = True
            i += 2
        padding = 0
        while i < n and buf[i] in b" \t":
            i += 1
            padding += 1
            if padding > _MAX_PADDING:
                return False
        if i >= n:
            return (n, closing) if self._eof else None
        if buf[i] == _LF:
            return i + 1, closing
        if buf[i] == 0x0D:
            if i + 1 >= n:
                return (n, closing) if self._eof else None
            if buf[i + 1] == _LF:
                return i + 2, closing
        if closing:
            return n, True  # an epilogue may follow on the same line; it is ignored
        return False

    def _boundary_follows(self, end: int) -> bool | None:
        """Whether a boundary line starts at ``end`` (after at most a few line endings)."""
        buf = self._buf
        n = len(buf)
        i = end
        while i < n and i - end < _MAX_GAP and buf[i] in b"\r\n":
            i += 1
        if i >= n:
            return True if self._eof else None
        dashes = 0
        while i < n and buf[i] == _DASH and dashes < _MAX_DASHES:
            i += 1
            dashes += 1
        token = self._token
        assert token is not None
        have = bytes(buf[i : i + len(token)])
        if have != token[: len(have)]:
            return False
        if len(have) < len(token):
            return False if self._eof else None
        tail = self._match_tail(i + len(token))
        if tail is None:
            return None
        return tail is not False

    # -- bookkeeping ------------------------------------------------------------------------

    def _skip_garbage(self, *, keep_from: int) -> None:
        if keep_from > self._pos:
            self._skipped += keep_from - self._pos
            self._pos = keep_from
            if self._anchor < self._pos:
                self._anchor = -1
        self._check_skipped()

    def _check_skipped(self) -> None:
        if self._skipped > self._max_part:
            raise PartTooLargeError(f"no multipart boundary in {self._skipped} bytes")

    def _compact(self) -> None:
        pos = self._pos
        if pos >= _COMPACT_AT and pos * 2 >= len(self._buf):
            del self._buf[:pos]
            self._pos = 0
            self._scan -= pos
            self._anchor = self._anchor - pos if self._anchor >= pos else -1


def _trim_padding(body: bytes) -> bytes:
    """A JPEG part ends at its end marker; what follows is padding or garbage.

    (Line endings, a length off by a few bytes, or junk between parts that
    only a boundary search could delimit.) Other parts are left as they are.
    """
    if body.startswith(_JPEG_START) and not body.endswith(_JPEG_END):
        end = body.rfind(_JPEG_END)
        if end > 0:
            return body[: end + 2]
    return body


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None
