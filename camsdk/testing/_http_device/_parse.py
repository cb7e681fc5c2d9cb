"""Reading requests off the wire for `HttpDevice`: the head, then a bounded body."""

from __future__ import annotations

import asyncio

import httpx

from ._messages import Request

__all__ = ["HEADER_LIMIT", "BadRequest", "read_request"]

#: Largest request head (request line and headers) read; more is a 431.
HEADER_LIMIT = 32 * 1024
_TRAILER_LINES = 64


class BadRequest(Exception):
    """A request that cannot be served; answered with ``status``, then the device hangs up."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


async def read_request(
    reader: asyncio.StreamReader, *, max_body: int
) -> tuple[Request, bool] | None:
    """The next request and whether the client keeps the connection; None when it hung up.

    Raises `BadRequest` (400, 413 or 431) for one that breaks HTTP/1.1 or the limits.
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest(431) from None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400)
    method, target, version = parts
    pairs = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise BadRequest(400)
        pairs.append((name.strip(), value.strip()))
    headers = httpx.Headers(pairs)
    try:
        body = await _read_body(reader, headers, max_body)
    except (ValueError, asyncio.LimitOverrunError):
        raise BadRequest(400) from None
    path, _, query = target.partition("?")
    connection = headers.get("connection", "").lower()
    keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    request = Request(
        method=method.upper(),
        target=target,
        path=path,
        query=httpx.QueryParams(query),
        headers=headers,
        body=body,
    )
    return request, keep


async def _read_body(reader: asyncio.StreamReader, headers: httpx.Headers, limit: int) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, limit)
    length_text = headers.get("content-length", "0").strip() or "0"
    if not length_text.isdigit():
        raise ValueError("bad Content-Length")
    length = int(length_text)
    if length > limit:
        raise BadRequest(413)
    return await reader.readexactly(length) if length else b""


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            for _ in range(_TRAILER_LINES):
                if await reader.readuntil(b"\r\n") == b"\r\n":
                    return bytes(body)
            raise ValueError("too many trailer lines")
        if len(body) + size > limit:
            raise BadRequest(413)
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("bad chunk framing")
