"""A small httpx fetcher for the end-to-end tests, standing in for the device HTTP client.

It keeps the rules the real client keeps, reduced to what the tests need:
only the hosts it was given, redirects only among them and never from
https to http, bodies capped while they are read, typed camsdk errors.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urljoin, urlsplit

import httpx

from camsdk import (
    AuthenticationError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    DeviceError,
    RedirectRefusedError,
)
from camsdk._hls import ByteRange, FetchResult

_MAX_REDIRECTS = 3


class HttpxFetcher:
    """`camsdk._hls.Fetcher` on httpx, pinned to ``hosts``."""

    def __init__(self, hosts: Collection[str], *, timeout: float = 5.0) -> None:
        self._hosts = {h.lower() for h in hosts}
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"Accept-Encoding": "identity"}
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _check(self, url: str, previous: str | None) -> None:
        parts = urlsplit(url)
        if (parts.hostname or "").lower() not in self._hosts:
            raise RedirectRefusedError("refused: a host the caller did not name")
        if previous is not None and previous.startswith("https:") and parts.scheme != "https":
            raise RedirectRefusedError("refused: https to http")

    async def get(
        self, url: str, *, max_bytes: int, byte_range: ByteRange | None = None
    ) -> FetchResult:
        headers = {}
        if byte_range is not None:
            headers["Range"] = f"bytes={byte_range.offset}-{byte_range.end - 1}"
        previous: str | None = None
        for _ in range(_MAX_REDIRECTS + 1):
            self._check(url, previous)
            try:
                async with self._client.stream("GET", url, headers=headers) as response:
                    if response.is_redirect and "location" in response.headers:
                        previous, url = url, urljoin(url, response.headers["location"])
                        continue
                    status = response.status_code
                    if status in (401, 403):
                        raise AuthenticationError(f"HTTP {status}")
                    if status not in (200, 206):
                        raise DeviceError(f"HTTP {status}", code=str(status))
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise CameraProtocolError(f"body larger than {max_bytes} bytes")
                    kind = response.headers.get("content-type", "")
                    return FetchResult(str(response.url), bytes(body), kind)
            except httpx.TimeoutException as exc:
                raise CameraTimeoutError("HTTP request timed out") from exc
            except httpx.HTTPError as exc:
                raise CameraUnreachableError(f"HTTP failed: {type(exc).__name__}") from exc
        raise CameraProtocolError("too many redirects")
