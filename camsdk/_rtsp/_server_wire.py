"""Request parsing and response rendering for RTSP servers (RFC 2326 text).

Used by the gateway's restream (`camsdk.serve`) and the test server
(`camsdk.testing.RtspServer`).

Requests are parsed strictly (one request line, ``Name: value`` headers, a
numeric CSeq) so the server can tell clients exactly what they got wrong;
responses are rendered with CSeq, Server and Content-Length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "BODY_LIMIT",
    "BROKEN_SDP",
    "HEADER_LIMIT",
    "DIGITS",
    "BadRequest",
    "Request",
    "Response",
    "parse_head",
    "port_pair",
    "render",
]

#: Requests are small; anything bigger is garbage or an attack, not RTSP.
HEADER_LIMIT = 16 * 1024
BODY_LIMIT = 64 * 1024
_METHOD = re.compile(r"[A-Z][A-Z_]*")
DIGITS = re.compile(r"[0-9]{1,9}")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    551: "Option not supported",
}


class BadRequest(Exception):
    """A request the server cannot accept; ``fatal`` when the stream is unframeable."""

    def __init__(self, reason: str, *, cseq: str | None = None, fatal: bool = False) -> None:
        super().__init__(reason)
        self.cseq = cseq
        #: The byte stream can no longer be framed, so the connection must go.
        self.fatal = fatal


@dataclass(slots=True)
class Request:
    """One parsed request (header names lower case)."""

    method: str
    uri: str
    path: str
    cseq: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def session_id(self) -> str | None:
        """The session id of the ``Session`` header, without parameters."""
        value = self.headers.get("session")
        return value.split(";", 1)[0].strip() if value else None


@dataclass(slots=True)
class Response:
    """A response to render, and the session to start pacing once it is sent."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    #: The server's session to start pacing once the response is on the wire.
    play: Any = None


# Broken on purpose: a version that is not a number, lines without "=",
# an attribute for a payload type nobody declared, binary junk, and no media
# section a client could SET UP. Lenient clients (FFmpeg) then PLAY without a
# session and fail on the 454.
BROKEN_SDP = b"v=zero\r\no=- garbage\r\ns\r\nthis is not SDP\r\na=rtpmap:96\r\n\x00\xff\xfe\r\n"


def render(response: Response, cseq: str | None, server: str = "camsdk-testing") -> bytes:
    """The bytes of a response, naming ``server`` in its Server header."""
    lines = [f"RTSP/1.0 {response.status} {_REASONS.get(response.status, 'Error')}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append(f"Server: {server}")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    if response.body:
        lines.append(f"Content-Length: {len(response.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + response.body


def parse_head(head: bytes) -> Request:
    """Parse a request line and headers; raise `BadRequest` when malformed."""
    text = head.decode("utf-8", "replace")
    lines = text.split("\r\n")
    headers: dict[str, str] = {}
    malformed = False
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            malformed = True
            continue
        headers[name.lower()] = value.strip()
    cseq = headers.get("cseq")
    if cseq is not None and not DIGITS.fullmatch(cseq):
        cseq = None
    parts = lines[0].split(" ")
    if malformed or len(parts) != 3:
        raise BadRequest("malformed request", cseq=cseq)
    method, uri, version = parts
    if not _METHOD.fullmatch(method) or version not in ("RTSP/1.0", "RTSP/1.1"):
        raise BadRequest("bad request line", cseq=cseq)
    if cseq is None:
        raise BadRequest("missing or invalid CSeq")
    if uri == "*":
        path = "*"
    else:
        try:
            parsed = urlsplit(uri)
        except ValueError:
            raise BadRequest("bad request URI", cseq=cseq) from None
        if parsed.scheme.lower() not in ("rtsp", "rtspu", "rtsps", ""):
            raise BadRequest("bad request URI", cseq=cseq)
        path = parsed.path or "/"
    return Request(method, uri, path, cseq, headers)


def port_pair(value: str | None, default: int | None, *, limit: int) -> tuple[int, int]:
    """``"a-b"`` or ``"a"`` as two numbers; ``default`` (and +1) when absent."""
    if value is None:
        if default is None:
            raise BadRequest("missing port pair")
        return default, default + 1
    first, _, second = value.partition("-")
    try:
        a = int(first)
        b = int(second) if second else a + 1
    except ValueError:
        raise BadRequest("bad port pair") from None
    if not (0 <= a <= limit and 0 <= b <= limit):
        raise BadRequest("port pair out of range")
    return a, b


_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def auth_params(text: str) -> dict[str, str]:
    """The ``key=value`` parameters of a Digest header."""
    params: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(text):
        quoted = match.group(2)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        params[match.group(1).lower()] = value
    return params
