"""The seam between camsdk's HLS client and the HTTP client that fetches for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ._playlist import ByteRange

__all__ = ["FetchResult", "Fetcher"]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One fetched resource: its final URL (after the redirects allowed), body and type."""

    url: str = field(repr=False)
    content: bytes = field(repr=False)
    content_type: str = ""


class Fetcher(Protocol):
    """Fetches playlists, segments, keys and initialisation sections for `HlsUpstream`.

    The implementation (the device HTTP client) owns the network rules:
    it contacts only the hosts the caller named (plus
    ``CameraConfig.allow_redirect_hosts``), follows only redirects to them
    and never from https to http, verifies TLS, authenticates, applies
    request timeouts, refuses bodies over ``max_bytes`` while reading them,
    and raises typed camsdk errors (never httpx's). `HlsUpstream` calls it
    only with ``http``/``https`` URLs it checked itself.

    ``byte_range`` asks for ``byte_range.length`` bytes from
    ``byte_range.offset`` (an HTTP ``Range`` request). A fetcher that gets
    the whole resource back (a server ignoring ``Range``) may return it
    whole: the caller slices.
    """

    async def get(
        self, url: str, *, max_bytes: int, byte_range: ByteRange | None = None
    ) -> FetchResult:
        """GET ``url``; at most ``max_bytes`` of body, else a typed error."""
        ...
