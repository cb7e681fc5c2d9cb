"""One mapping of HTTP failures onto the camsdk error tree.

Used around every request *and* around every read of a streamed body
(`ErrorMapping.mapping`), so a connection that breaks in the middle of an
MJPEG stream or an event stream becomes the same typed error as one that
breaks while connecting. Messages never carry credentials: the text of a
foreign exception is scrubbed of URL passwords, secret query values and every
registered secret before it is quoted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx

from .._errors import (
    AuthenticationError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    DeviceError,
)
from .._log import scrub
from .._url import redact_text

__all__ = ["ErrorMapping", "media_type"]

# Encodings that leave the bytes as they are, and those httpx decodes for us
# (then the decoded size is what read caps count, so a bomb stops at the cap).
_IDENTITY = frozenset({"", "identity", "none"})
_DECODABLE = _IDENTITY | {"gzip", "deflate", "x-gzip"}


def media_type(response: httpx.Response) -> str:
    """The response's media type, lower-cased, without parameters."""
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class ErrorMapping:
    """What every error of one device carries, and how foreign errors map onto the tree."""

    scheme: str
    url: str
    secrets: tuple[str, ...] = ()

    def text(self, exc: BaseException) -> str:
        """``exc``'s message without URL credentials, secret query values or known secrets."""
        return redact_text(scrub(str(exc)), self.secrets)[:300]

    def translate(self, exc: BaseException, action: str) -> CamError:
        """Map an httpx, TLS or socket exception onto the camsdk tree (chain it with ``from``)."""
        if isinstance(exc, CamError):
            if exc.scheme is None:
                exc.scheme = self.scheme
            if exc.url is None:
                exc.url = self.url
            return exc
        kind = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException | TimeoutError):
            return CameraTimeoutError(
                f"{action}: timed out ({kind})", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, httpx.TooManyRedirects):
            return CameraProtocolError(
                f"{action}: too many redirects", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return ConfigurationError(
                f"{action}: unsupported or invalid URL ({self.text(exc)})",
                scheme=self.scheme, url=self.url,
            )
        if isinstance(exc, httpx.LocalProtocolError | httpx.RemoteProtocolError) and (
            "Content-Length" in str(exc) or "chunk" in str(exc).lower()
        ):
            return CameraProtocolError(
                f"{action}: malformed HTTP framing ({self.text(exc)})",
                scheme=self.scheme, url=self.url,
            )
        if isinstance(exc, httpx.LocalProtocolError | httpx.DecodingError):
            return CameraProtocolError(
                f"{action}: malformed HTTP ({self.text(exc)})", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, ssl.SSLError) or (
            isinstance(exc, httpx.ConnectError) and "CERTIFICATE" in str(exc).upper()
        ):
            return CameraUnreachableError(
                f"{action}: TLS failed ({self.text(exc)})", scheme=self.scheme, url=self.url
            )
        if isinstance(exc, httpx.TransportError | OSError):
            # Refused, reset, DNS, or the device hung up mid-body.
            return CameraUnreachableError(
                f"{action}: connection failed ({kind}: {self.text(exc)})",
                scheme=self.scheme, url=self.url,
            )
        return CameraProtocolError(
            f"{action}: HTTP error ({kind}: {self.text(exc)})", scheme=self.scheme, url=self.url
        )

    @contextlib.contextmanager
    def mapping(self, action: str) -> Iterator[None]:
        """Translate foreign exceptions raised in the block (camsdk errors pass through)."""
        try:
            yield
        except CamError as exc:
            self.translate(exc, action)
            raise
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ssl.SSLError) as exc:
            raise self.translate(exc, action) from exc

    @contextlib.asynccontextmanager
    async def deadline(self, seconds: float, action: str) -> AsyncIterator[None]:
        """Bound a whole exchange (request, answer head and body) by ``seconds``.

        Per-read timeouts miss a device that trickles one byte just often
        enough (slowloris); this deadline does not. Raises `CameraTimeoutError`.
        """
        try:
            async with asyncio.timeout(seconds) as bound:
                yield
        except TimeoutError:
            if bound.expired():
                raise CameraTimeoutError(
                    f"{action}: no complete answer within {seconds:g} s",
                    scheme=self.scheme, url=self.url,
                ) from None
            raise

    def check_response(
        self, response: httpx.Response, action: str, *, has_auth: bool, decoded: bool = True
    ) -> None:
        """Raise the camsdk error for a response that is not a 2xx with a readable body.

        ``decoded=False`` (raw bodies: MJPEG, event streams) accepts only
        identity-encoded bodies.
        """
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
                scheme=self.scheme, url=self.url, code=str(status),
            )
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in (_DECODABLE if decoded else _IDENTITY):
            raise CameraProtocolError(
                f"{action}: device sent a {encoding[:32]!r}-encoded body; not read",
                scheme=self.scheme, url=self.url,
            )
