"""The httpx side of the HTTP driver: authentication, bounded body reads, error mapping.

Nothing here knows about cameras beyond what an error message needs; the
driver (`camsdk.drivers.http._driver`) decides what a response means.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from typing import Literal

import anyio
import httpx

from camsdk._errors import (
    AuthenticationError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    DeviceError,
)
from camsdk._log import scrub
from camsdk._url import redact_text

__all__ = [
    "BodyReader",
    "DeviceAuth",
    "ErrorContext",
    "close_response",
    "exchange_deadline",
    "media_type",
]

# Encodings that leave the bytes as they are; anything else is refused rather
# than inflated, since a few compressed bytes can expand without bound.
_IDENTITY = frozenset({"", "identity", "none"})


class DeviceAuth(httpx.Auth):
    """Answers the device's own challenge: Digest when it asks for Digest, else Basic.

    The first request goes out without credentials, so a password is never
    sent in clear to a device that would have taken a Digest. Once the device
    has said which scheme it wants, later requests use it from the start
    (Digest reuses the last challenge, as `httpx.DigestAuth` does).
    """

    def __init__(self, username: str, password: str) -> None:
        self._basic = httpx.BasicAuth(username, password)
        self._digest = httpx.DigestAuth(username, password)
        self.scheme: Literal["basic", "digest"] | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Drive one request through the device's challenge (see the class docstring)."""
        if self.scheme == "basic":
            yield from self._basic.auth_flow(request)
            return
        if self.scheme == "digest":
            yield from self._digest.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        challenges = [c.strip().lower() for c in response.headers.get_list("www-authenticate")]
        if any(c.startswith("digest") for c in challenges):
            self.scheme = "digest"
            # Hand DigestAuth the challenge we already hold instead of asking again.
            flow = self._digest.auth_flow(request)
            next(flow)
            try:
                retry = flow.send(response)
            except StopIteration:
                return
            answer = yield retry
            try:
                flow.send(answer)
            except StopIteration:
                pass
        elif not challenges or any(c.startswith("basic") for c in challenges):
            self.scheme = "basic"
            yield from self._basic.auth_flow(request)
        # Any other scheme: the 401 stands and becomes an AuthenticationError.


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What every error of one camera carries, and how to keep its secrets out of text."""

    scheme: str
    url: str
    secrets: tuple[str, ...] = ()

    def text(self, exc: BaseException) -> str:
        """``exc``'s message without URL credentials, secret query values or known secrets."""
        return redact_text(scrub(str(exc)), self.secrets)[:300]

    def translate(self, exc: Exception, action: str) -> CamError:
        """Map an httpx (or socket) exception onto the camsdk tree; chain it with ``from``."""
        kind = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return CameraTimeoutError(
                f"{action}: timed out ({kind})", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, httpx.TooManyRedirects):
            return CameraProtocolError(
                f"{action}: too many redirects", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(
                f"{action}: unsupported URL ({self.text(exc)})", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, httpx.LocalProtocolError | httpx.DecodingError):
            return CameraProtocolError(
                f"{action}: malformed HTTP ({self.text(exc)})", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, httpx.TransportError | OSError):
            # Refused, reset, DNS, TLS, or the device hung up mid-body.
            return CameraUnreachableError(
                f"{action}: connection failed ({kind}: {self.text(exc)})",
                scheme=self.scheme,
                url=self.url,
            )
        if isinstance(exc, httpx.InvalidURL):
            return ConfigurationError(
                f"{action}: invalid URL ({self.text(exc)})", scheme=self.scheme, url=self.url
            )
        return CameraProtocolError(
            f"{action}: HTTP error ({kind}: {self.text(exc)})", scheme=self.scheme, url=self.url
        )

    def check_response(self, response: httpx.Response, action: str, *, has_auth: bool) -> None:
        """Raise the camsdk error for a response that is not a 2xx with a plain body."""
        status = response.status_code
        if status in (401, 403):
            hint = (
                "device refused the credentials"
                if has_auth
                else "device requires credentials (pass credentials= or user:password@ in the URL)"
            )
            raise AuthenticationError(
                f"{action}: {hint} (HTTP {status})", scheme=self.scheme, url=self.url
            )
        if not 200 <= status < 300:
            reason = f"HTTP {status}"
            if 300 <= status < 400:
                reason += " redirect that was not followed"
            raise DeviceError(
                f"{action}: device answered {reason}",
                scheme=self.scheme,
                url=self.url,
                code=str(status),
            )
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in _IDENTITY:
            raise CameraProtocolError(
                f"{action}: device sent a {encoding[:32]!r}-encoded body; only identity is read",
                scheme=self.scheme,
                url=self.url,
            )


def media_type(response: httpx.Response) -> str:
    """The response's media type, lower-cased, without parameters."""
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


async def close_response(response: httpx.Response) -> None:
    """Close ``response`` even while the caller is being cancelled."""
    with anyio.CancelScope(shield=True):
        try:
            await response.aclose()
        except (httpx.HTTPError, OSError):
            pass  # the connection is already broken; closing it is all that was asked


@contextlib.asynccontextmanager
async def exchange_deadline(
    seconds: float, errors: ErrorContext, action: str
) -> AsyncIterator[None]:
    """Bound a whole exchange (request, answer head and body) by ``seconds``.

    Per-read timeouts miss a device that trickles one byte just often enough
    (slowloris); this deadline does not. Raises `CameraTimeoutError`.
    """
    try:
        async with asyncio.timeout(seconds) as deadline:
            yield
    except TimeoutError:
        if deadline.expired():
            raise CameraTimeoutError(
                f"{action}: no complete answer within {seconds:g} s",
                scheme=errors.scheme,
                url=errors.url,
            ) from None
        raise


class BodyReader:
    """Reads a streamed response chunk by chunk, each read bounded by ``idle_timeout``.

    ``on_idle`` builds the error for a read that got no byte in time (a
    `StreamStalledError` for streams, a `CameraTimeoutError` for stills);
    httpx errors are translated through ``errors``. `unread` pushes bytes
    back in front (after sniffing the start of a body).
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        idle_timeout: float,
        on_idle: Callable[[], CamError],
        errors: ErrorContext,
        action: str,
    ) -> None:
        self._chunks: AsyncIterator[bytes] = response.aiter_raw()
        self._idle = idle_timeout
        self._on_idle = on_idle
        self._errors = errors
        self._action = action
        self._head = b""
        self._done = False

    async def chunk(self) -> bytes | None:
        """The next chunk of the body, or ``None`` at its end."""
        if self._head:
            head, self._head = self._head, b""
            return head
        if self._done:
            return None
        try:
            async with asyncio.timeout(self._idle) as deadline:
                return await anext(self._chunks)
        except StopAsyncIteration:
            self._done = True
            return None
        except TimeoutError:
            if deadline.expired():
                raise self._on_idle() from None
            raise
        except (httpx.HTTPError, OSError) as exc:
            raise self._errors.translate(exc, self._action) from exc

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of the next chunk."""
        self._head = data + self._head

    async def peek(self, size: int) -> bytes:
        """At least ``size`` bytes from the start (fewer if the body is shorter), unread."""
        data = b""
        while len(data) < size:
            chunk = await self.chunk()
            if chunk is None:
                break
            data += chunk
        self.unread(data)
        return data[:size]

    async def read_all(self, limit: int, what: str) -> bytes:
        """The rest of the body; `CameraProtocolError` as soon as it passes ``limit`` bytes."""
        parts: list[bytes] = []
        total = 0
        while (chunk := await self.chunk()) is not None:
            total += len(chunk)
            if total > limit:
                raise CameraProtocolError(
                    f"{what} is larger than the limit of {limit} bytes",
                    scheme=self._errors.scheme,
                    url=self._errors.url,
                )
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        """Finish the chunk iterator (the response itself is closed by its owner)."""
        self._done = True
        closer = getattr(self._chunks, "aclose", None)
        if closer is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await closer()
                except (httpx.HTTPError, OSError, RuntimeError):
                    # RuntimeError: the generator is running in a cancelled read.
                    pass
