"""Requests and responses of `HttpDevice`: what a handler receives and what it returns."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import httpx

__all__ = [
    "Handler",
    "HeaderInput",
    "Request",
    "RequestRecord",
    "Response",
    "StreamingResponse",
]

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Request:
    """One request as a handler sees it.

    ``path`` is the raw path (not percent-decoded), ``target`` the path with
    its query as sent, ``query`` the decoded query (a multi-dict:
    ``query.get_list("id")``), ``headers`` case-insensitive, ``body`` the
    whole body (bounded by ``max_request_body``). ``match`` is the regex match
    of a pattern route, ``user`` the authenticated user name.
    """

    method: str
    target: str
    path: str
    query: httpx.QueryParams
    headers: httpx.Headers
    body: bytes = b""
    match: re.Match[str] | None = None
    user: str | None = None


class RequestRecord(NamedTuple):
    """One entry of `HttpDevice.requests` (``Authorization`` left out)."""

    method: str
    path: str
    query: httpx.QueryParams
    headers: httpx.Headers


def _header_pairs(headers: HeaderInput) -> tuple[tuple[str, str], ...]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return tuple((str(name), str(value)) for name, value in items)


class Response:
    """A complete response: ``Response(200, b"...", content_type="image/jpeg")``.

    ``headers`` is a mapping or a list of pairs (repeat a name by listing it
    twice). ``Content-Length`` is added unless given (a wrong one is a fault:
    see `FaultInjection.content_length`); a `str` body is sent as UTF-8 text.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes | str = b"",
        *,
        headers: HeaderInput = (),
        content_type: str | None = None,
    ) -> None:
        if isinstance(body, str):
            body = body.encode()
            content_type = content_type or "text/plain; charset=utf-8"
        self.status = status
        self.body = bytes(body)
        self.headers = _with_content_type(_header_pairs(headers), content_type)

    @classmethod
    def json(cls, data: Any, status: int = 200, *, headers: HeaderInput = ()) -> Response:
        """``data`` as an ``application/json`` body."""
        body = json.dumps(data, separators=(",", ":")).encode()
        return cls(status, body, headers=headers, content_type="application/json")

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


class StreamingResponse:
    """A long-lived body (MJPEG, a multipart event stream) written chunk by chunk.

    ``chunks`` is an async iterable of bytes, usually an async generator; it
    is closed when the client goes away or the device closes. ``chunked=True``
    frames it with ``Transfer-Encoding: chunked`` (the connection may be kept
    alive afterwards); ``chunked=False`` sends the bytes as they are and ends
    the body by closing the connection, as most cameras do for MJPEG.
    """

    __slots__ = ("chunked", "chunks", "headers", "status")

    def __init__(
        self,
        status: int,
        chunks: AsyncIterable[bytes],
        *,
        headers: HeaderInput = (),
        content_type: str | None = None,
        chunked: bool = True,
    ) -> None:
        self.status = status
        self.chunks = chunks
        self.headers = _with_content_type(_header_pairs(headers), content_type)
        self.chunked = chunked

    def __repr__(self) -> str:
        return f"StreamingResponse({self.status}, chunked={self.chunked})"


def _with_content_type(
    headers: tuple[tuple[str, str], ...], content_type: str | None
) -> tuple[tuple[str, str], ...]:
    if content_type is None or any(n.lower() == "content-type" for n, _ in headers):
        return headers
    return (*headers, ("Content-Type", content_type))


Handler = Callable[[Request], Awaitable[Response | StreamingResponse]]
