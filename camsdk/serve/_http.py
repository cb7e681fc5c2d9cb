"""HTTP plumbing shared by the owner and requester APIs: bounded bodies, errors, headers.

Bodies are read with a hard cap (the ``Content-Length`` is checked first,
then the bytes are counted as they arrive), parsed as JSON and validated by
a pydantic model; every failure is a short JSON error, never a traceback.
`SecurityHeaders` adds the headers every answer carries (a strict content
security policy: the pages load nothing from anywhere else).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HttpError", "SecurityHeaders", "client_address", "error", "parse", "read_body",
           "target_of"]

M = TypeVar("M", bound=BaseModel)

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
     b"connect-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
     b"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
]


class HttpError(Exception):
    """An error answer: status and a message for the caller (no secrets)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON error answer."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 beyond)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HttpError(413, f"body larger than {limit} bytes")
        except ValueError:
            raise HttpError(400, "bad Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse(body: bytes, model: type[M]) -> M:
    """Validate a JSON body; 400 with the field problems (not the values) otherwise."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise HttpError(400, "the body is not JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise HttpError(422, problems) from None


def client_address(conn: HTTPConnection) -> str:
    """The peer's address (the key of rate limits and lockouts)."""
    return conn.client.host if conn.client is not None else "unknown"


def target_of(scope: Scope) -> str:
    """The request target as the client signed it: raw path and query."""
    raw: bytes = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    return (raw + (b"?" + query if query else b"")).decode("latin-1")


class SecurityHeaders:
    """ASGI middleware adding `_HEADERS` (and HSTS under TLS) to every HTTP answer."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        self._extra = [*_HEADERS]
        if tls:
            self._extra.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in self._extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO text (for JSON answers)."""
    return json.loads(json.dumps(value, default=str))
