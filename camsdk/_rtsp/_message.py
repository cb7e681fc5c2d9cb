"""RTSP/1.0 messages on the wire: rendering requests, framing what comes back.

`RtspFramer` cuts the byte stream of an RTSP connection into interleaved
binary frames (``$``, channel, 16-bit length, RFC 2326 10.12), responses and
the odd request a server sends. Everything is bounded: a header block is at
most 16 KiB and 64 lines, a body at most 64 KiB, and garbage between
messages is skipped for at most 64 KiB before the connection is declared
broken. Malformed input raises `CameraProtocolError`; it never makes the
framer buffer without bound or loop without consuming input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from camsdk._errors import CameraProtocolError

__all__ = [
    "BODY_LIMIT",
    "HEADER_LIMIT",
    "RtspFramer",
    "RtspRequest",
    "RtspResponse",
    "TransportSpec",
    "parse_response_head",
    "parse_rtp_info",
    "parse_session",
    "parse_transport",
    "render_request",
    "render_response",
]

HEADER_LIMIT = 16 * 1024
BODY_LIMIT = 64 * 1024
GARBAGE_LIMIT = 64 * 1024
_MAX_LINES = 64
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_METHOD = re.compile(rb"[A-Z][A-Z_]{1,31} ")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RtspResponse:
    """One response: status, headers (lower-case names, in order) and body."""

    status: int
    reason: str
    headers: Headers
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def cseq(self) -> int | None:
        """The CSeq this answers, when the server sent a readable one."""
        value = self.header("cseq")
        return int(value) if value is not None and value.isdigit() and len(value) < 10 else None


@dataclass(frozen=True, slots=True)
class RtspRequest:
    """A request sent *by the server* (rare: keepalives, ANNOUNCE, REDIRECT)."""

    method: str
    uri: str
    headers: Headers = field(default=())
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


def render_request(
    method: str, url: str, cseq: int, headers: list[tuple[str, str]], body: bytes = b""
) -> bytes:
    """The bytes of one request. Raises `CameraProtocolError` for values that would
    break the framing (line breaks or spaces in the URL, line breaks in headers)."""
    if " " in url or _UNSAFE.search(url):
        raise CameraProtocolError("refusing a request URL with spaces or control characters")
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}"]
    for name, value in headers:
        if _UNSAFE.search(value) or _UNSAFE.search(name):
            raise CameraProtocolError(f"refusing a {name} header with control characters")
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def render_response(status: int, reason: str, cseq: str | None) -> bytes:
    """A minimal response (to a request the server sent us)."""
    lines = [f"RTSP/1.0 {status} {reason}"]
    if cseq is not None and cseq.isdigit() and len(cseq) < 10:
        lines.append(f"CSeq: {cseq}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _parse_headers(lines: list[str]) -> Headers:
    if len(lines) > _MAX_LINES:
        raise CameraProtocolError("RTSP message has too many header lines")
    headers: list[tuple[str, str]] = []
    for line in lines:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not _TOKEN.fullmatch(name):
            raise CameraProtocolError("malformed RTSP header line")
        headers.append((name.lower(), value.strip()))
    return tuple(headers)


def parse_response_head(head: bytes) -> tuple[int, str, Headers]:
    """Status, reason and headers of a response head (without the blank line)."""
    if len(head) > HEADER_LIMIT:
        raise CameraProtocolError("RTSP header block is too large")
    lines = head.decode("utf-8", "replace").split("\r\n")
    if len(lines) == 1 and "\n" in lines[0]:
        lines = lines[0].split("\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("RTSP/1.") or len(code) != 3 or not code.isdigit():
        raise CameraProtocolError("the device does not answer in RTSP/1.x")
    status = int(code)
    if status < 100:
        raise CameraProtocolError("RTSP status out of range")
    return status, reason.strip()[:128], _parse_headers(lines[1:])


def _content_length(headers: Headers) -> int:
    values = {v for k, v in headers if k == "content-length"}
    if not values:
        return 0
    if len(values) > 1:
        raise CameraProtocolError("conflicting Content-Length headers")
    (text,) = values
    if not text.isdigit() or len(text) > 9:
        raise CameraProtocolError("malformed Content-Length")
    length = int(text)
    if length > BODY_LIMIT:
        raise CameraProtocolError(f"RTSP body larger than {BODY_LIMIT // 1024} KiB")
    return length


class RtspFramer:
    """Splits an RTSP connection's byte stream into frames, responses and requests.

    ``on_frame(channel, data)`` gets each interleaved frame, ``on_response``
    each `RtspResponse`, ``on_request`` each `RtspRequest`. With ``channels``
    (channel -> handler), frames go straight to their channel's handler (the
    hot path: one call per RTP packet) and ``on_frame`` gets the others. `feed` raises
    `CameraProtocolError` when the stream cannot be framed; the framer is then
    unusable. At most one partial message (< 16 KiB + 64 KiB) or frame
    (< 64 KiB) is held between calls.
    """

    __slots__ = ("_buf", "_garbage", "channels", "frames", "on_frame", "on_request",
                 "on_response")

    def __init__(
        self,
        on_frame: Callable[[int, bytes], None],
        on_response: Callable[[RtspResponse], None],
        on_request: Callable[[RtspRequest], None] | None = None,
        channels: dict[int, Callable[[bytes], None]] | None = None,
    ) -> None:
        self.on_frame = on_frame
        self.channels: dict[int, Callable[[bytes], None]] = {} if channels is None else channels
        self.on_response = on_response
        self.on_request = on_request
        self._buf = b""
        self._garbage = 0
        #: Interleaved frames seen (for statistics and tests).
        self.frames = 0

    @property
    def buffered(self) -> int:
        """Bytes held back, waiting for the rest of a message or frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        """Consume ``data``; call the callbacks for every complete unit in it."""
        buf = self._buf + data if self._buf else data
        pos = 0
        end = len(buf)
        on_frame = self.on_frame
        handlers = self.channels
        frames = 0
        try:
            while pos < end:
                if buf[pos] == 0x24:  # '$': the common case, kept tight
                    if end - pos < 4:
                        break
                    stop = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
                    if stop > end:
                        break
                    frames += 1
                    handler = handlers.get(buf[pos + 1])
                    if handler is not None:
                        handler(buf[pos + 4 : stop])
                    else:
                        on_frame(buf[pos + 1], buf[pos + 4 : stop])
                    pos = stop
                    self._garbage = 0
                    continue
                used = self._text(buf, pos, end)
                if used == 0:
                    break
                pos += used
        finally:
            self.frames += frames
            self._buf = buf[pos:] if pos < end else b""

    def _text(self, buf: bytes, pos: int, end: int) -> int:
        """Consume a message, blank line or garbage at ``pos``; 0 means "need more"."""
        first = buf[pos]
        if first in (0x0D, 0x0A):
            return 1
        head = buf[pos : pos + 5]
        is_response = head == b"RTSP/"[: len(head)]
        is_request = not is_response and _METHOD.match(buf, pos, min(end, pos + 33)) is not None
        if not is_response and not is_request:
            if head == b"HTTP/":
                raise CameraProtocolError("the device answers in HTTP, not RTSP")
            if end - pos < 33 and b" " not in buf[pos:end] and 0x41 <= first <= 0x5A:
                return 0  # could still become a request line
            return self._skip(buf, pos, end)
        if is_response and len(head) < 5:
            return 0
        stop = buf.find(b"\r\n\r\n", pos, pos + HEADER_LIMIT + 4)
        if stop < 0:
            if end - pos > HEADER_LIMIT:
                raise CameraProtocolError("RTSP header block is too large")
            return 0
        head_bytes = buf[pos:stop]
        if is_response:
            status, reason, headers = parse_response_head(head_bytes)
        else:
            method, uri, headers = _parse_request_head(head_bytes)
        length = _content_length(headers)
        body_start = stop + 4
        if body_start + length > end:
            return 0
        body = buf[body_start : body_start + length]
        self._garbage = 0
        if is_response:
            self.on_response(RtspResponse(status, reason, headers, body))
        elif self.on_request is not None:
            self.on_request(RtspRequest(method, uri, headers, body))
        return body_start + length - pos

    def _skip(self, buf: bytes, pos: int, end: int) -> int:
        """Skip junk up to the next plausible start (``$`` or ``RTSP/``), bounded."""
        nxt = end
        for marker in (b"$", b"RTSP/"):
            found = buf.find(marker, pos + 1, end)
            if found >= 0:
                nxt = min(nxt, found)
        skipped = nxt - pos
        self._garbage += skipped
        if self._garbage > GARBAGE_LIMIT:
            raise CameraProtocolError("the RTSP connection carries garbage")
        return skipped


def _parse_request_head(head: bytes) -> tuple[str, str, Headers]:
    lines = head.decode("utf-8", "replace").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("RTSP/1."):
        raise CameraProtocolError("malformed request from the server")
    return parts[0], parts[1][:1024], _parse_headers(lines[1:])


# -- header values ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransportSpec:
    """The parts of a ``Transport`` reply a client acts on."""

    protocol: str
    interleaved: tuple[int, int] | None = None
    client_port: tuple[int, int] | None = None
    server_port: tuple[int, int] | None = None
    ssrc: int | None = None
    source: str | None = None


def _pair(text: str, limit: int) -> tuple[int, int] | None:
    first, _, second = text.partition("-")
    if not first.isdigit() or len(first) > 5 or (second and (not second.isdigit()
                                                               or len(second) > 5)):
        return None
    a = int(first)
    b = int(second) if second else a + 1
    if a > limit or b > limit:
        return None
    return a, b


def parse_transport(value: str) -> TransportSpec:
    """Parse the first alternative of a ``Transport`` header (lenient about case)."""
    first = value.split(",", 1)[0]
    parts = [p.strip() for p in first.split(";")]
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, val = part.partition("=")
        params[key.strip().lower()] = val.strip().strip('"')
    ssrc: int | None = None
    text = params.get("ssrc", "")
    if text:
        try:
            ssrc = int(text, 16) & 0xFFFFFFFF
        except ValueError:
            ssrc = None
    return TransportSpec(
        protocol=parts[0].upper(),
        interleaved=_pair(params["interleaved"], 255) if "interleaved" in params else None,
        client_port=_pair(params["client_port"], 65535) if "client_port" in params else None,
        server_port=_pair(params["server_port"], 65535) if "server_port" in params else None,
        ssrc=ssrc,
        source=params.get("source") or None,
    )


def parse_session(value: str) -> tuple[str, float | None]:
    """Session id and its timeout in seconds (``None`` when absent or unreadable)."""
    sid, _, rest = value.partition(";")
    sid = sid.strip()
    if not sid or len(sid) > 256 or _UNSAFE.search(sid) or " " in sid:
        raise CameraProtocolError("malformed Session header")
    timeout: float | None = None
    for part in rest.split(";"):
        key, _, val = part.partition("=")
        if key.strip().lower() == "timeout":
            try:
                timeout = float(val.strip())
            except ValueError:
                timeout = None
            if timeout is not None and not 1 <= timeout <= 86400:
                timeout = None
    return sid, timeout


def parse_rtp_info(value: str) -> list[dict[str, str]]:
    """The entries of an ``RTP-Info`` header: ``url``, ``seq``, ``rtptime`` when given."""
    entries: list[dict[str, str]] = []
    for item in value.split(",")[:16]:
        entry: dict[str, str] = {}
        for part in item.split(";"):
            key, _, val = part.strip().partition("=")
            entry[key.strip().lower()] = val.strip()
        entries.append(entry)
    return entries
