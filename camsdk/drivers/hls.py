"""`HlsDriver`: ``hls+http://`` and ``hls+https://`` playlists as cameras.

Many cloud cameras, NVR web front ends and restreamers publish HLS. The
``hls+`` prefix says "this URL is an HLS playlist" explicitly; a plain
``https://.../index.m3u8`` reaches the generic HTTP driver, which hands
camsdk's HLS client the same kind of `StreamSource`.

`connect` fetches the playlist once with httpx (TLS verified unless
``verify_tls=False``, Basic or Digest credentials, redirects followed only
to the same host or ``allow_redirect_hosts``): it checks the credentials,
says whether the playlist is live or VOD, and turns a *master* playlist's
variants into profiles (``main`` = highest bandwidth, ``sub`` = lowest).
The media is read by camsdk's own HLS client (playlists, reloads, segments
and keys through the device HTTP client, with its host pinning and TLS
rules; PyAV only demuxes segment bytes):

- a live playlist is reloaded and never "ends"; packets arrive a segment at
  a time, so ``stall_timeout`` must exceed the segment duration (a warning
  says so when it does not);
- a VOD playlist (``#EXT-X-ENDLIST``) ends with `StreamEndedError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

from pydantic import Field

from camsdk.driver import (
    CameraDriver,
    CameraInfo,
    CameraProtocolError,
    CameraURL,
    Capability,
    ConfigurationError,
    DeviceHttpClient,
    DriverOptions,
    RedirectRefusedError,
    StreamProfile,
    StreamSource,
    get_logger,
    host_allowed,
)

__all__ = ["HlsDriver", "HlsOptions", "Playlist", "parse_playlist"]

log = get_logger("camsdk.drivers.hls")

_PLAYLIST_LIMIT = 1024 * 1024
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


class HlsOptions(DriverOptions):
    """Options of ``hls+http(s)://`` playlists."""

    live_start_index: int = Field(
        default=-1, description="segment of a live playlist to start at, from the end (-1: newest)"
    )


@dataclass(frozen=True, slots=True)
class Variant:
    """One rendition of a master playlist."""

    uri: str
    bandwidth: int = 0
    width: int | None = None
    height: int | None = None
    codecs: str = ""


@dataclass(frozen=True, slots=True)
class Playlist:
    """What connect learned from the playlist."""

    variants: tuple[Variant, ...] = ()
    target_duration: float | None = None
    live: bool = True

    @property
    def master(self) -> bool:
        """Whether this is a master playlist (it lists variants, not segments)."""
        return bool(self.variants)


def parse_playlist(text: str) -> Playlist:
    """Parse an M3U8 playlist enough to pick variants and tell live from VOD."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("#EXTM3U"):
        raise CameraProtocolError("the URL does not serve an HLS playlist (no #EXTM3U)")
    variants: list[Variant] = []
    target: float | None = None
    live = True
    pending: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            pending = {k: v.strip('"') for k, v in _ATTR.findall(line.split(":", 1)[1])}
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            try:
                target = float(line.split(":", 1)[1])
            except ValueError:
                target = None
        elif line.startswith("#EXT-X-ENDLIST") or line == "#EXT-X-PLAYLIST-TYPE:VOD":
            live = False
        elif not line.startswith("#") and pending is not None:
            width = height = None
            resolution = pending.get("RESOLUTION", "")
            if "x" in resolution:
                w, _, h = resolution.partition("x")
                if w.isdigit() and h.isdigit():
                    width, height = int(w), int(h)
            bandwidth = pending.get("BANDWIDTH", "0")
            variants.append(Variant(line, int(bandwidth) if bandwidth.isdigit() else 0,
                                    width, height, pending.get("CODECS", "")))
            pending = None
    return Playlist(tuple(variants), target, live)


class HlsDriver(CameraDriver[HlsOptions]):
    """An HLS playlist read as a camera (see the module docstring and ``docs/drivers/hls.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("hls+http", "hls+https")
    display_name: ClassVar[str] = "HLS stream"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT | Capability.STREAM | Capability.AUDIO | Capability.RECORD
    )
    requires: ClassVar[str] = "pip install camsdk"
    # Playlist URLs often carry the service's own tokens in their query.
    query_passthrough: ClassVar[bool] = True

    def setup(self) -> None:
        """Check the URL and name the playlist it points at (no I/O)."""
        url = self.url
        if url.scheme not in self.schemes or not url.host:
            raise ConfigurationError("an HLS URL looks like hls+https://host/path.m3u8",
                                     scheme=url.scheme, url=url.redacted())
        transport = url.scheme.removeprefix("hls+")
        self.playlist_url = CameraURL(transport, url.host, url.port, url.path, url.query,
                                      None, None, "")
        self._profiles: dict[str, str] = {"main": self.playlist_url.unsafe_str()}
        self.playlist: Playlist | None = None
        self._http: DeviceHttpClient | None = None

    def _client(self) -> DeviceHttpClient:
        if self._http is None:
            base = f"{self.playlist_url.scheme}://{self.playlist_url.netloc_host}"
            self._http = DeviceHttpClient.for_driver(self, base_url=base)
        return self._http

    async def close(self) -> None:
        """Close the HTTP connections. Idempotent."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    # -- connect -------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Fetch the playlist: credentials, live or VOD, variants as profiles."""
        url, playlist = await self._fetch(self.playlist_url.unsafe_str())
        if playlist.master:
            ranked = sorted(playlist.variants, key=lambda v: v.bandwidth, reverse=True)
            for v in ranked:
                self._check_same_origin(urljoin(url, v.uri))
            self._profiles = {"main": urljoin(url, ranked[0].uri)}
            if len(ranked) > 1:
                self._profiles["sub"] = urljoin(url, ranked[-1].uri)
            # The live/VOD question is answered by the media playlist.
            _, media = await self._fetch(self._profiles["main"])
            chosen = {"main": ranked[0], "sub": ranked[-1]}
            profiles = tuple(
                StreamProfile(name=name, width=chosen[name].width, height=chosen[name].height,
                              bitrate=chosen[name].bandwidth or None)
                for name in self._profiles
            )
        else:
            self._profiles = {"main": url}
            media = playlist
            profiles = (StreamProfile(name="main"),)
        self.playlist = media
        target = media.target_duration
        if media.live and target is not None and self.config.stall_timeout < 2 * target:
            log.warning(
                "stall_timeout %.1f s is short for segments of %.1f s; false stalls will "
                "reconnect the stream", self.config.stall_timeout, target,
            )
        extra = {"type": "live" if media.live else "vod"}
        if target is not None:
            extra["target_duration"] = f"{target:g}"
        return CameraInfo(id=self.camera_id, name=self.url.host, model="HLS stream",
                          profiles=profiles, extra=extra)

    def _check_same_origin(self, target: str) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not host_allowed(
            parts.hostname or "", self.allowed_hosts()
        ):
            raise RedirectRefusedError(
                "the playlist points at another host or a non-HTTP URL; refused "
                "(allow the host with CameraConfig.allow_redirect_hosts)",
                scheme=self.url.scheme, url=self.url.redacted(), location=target[:100],
            )

    async def _fetch(self, url: str) -> tuple[str, Playlist]:
        response = await self._client().get(url, max_bytes=_PLAYLIST_LIMIT, action="playlist")
        try:
            return response.url, parse_playlist(response.text)
        except CameraProtocolError as exc:
            exc.scheme, exc.url = self.url.scheme, self.url.redacted()
            raise

    # -- stream --------------------------------------------------------------------------

    async def stream_source(self, profile: str) -> StreamSource:
        """The profile's media playlist, fetched by camsdk; credentials travel beside it."""
        target = self._profiles.get(profile)
        if target is None:
            raise ConfigurationError(
                f"unknown profile {profile!r} (known: {', '.join(self._profiles)})",
                scheme=self.url.scheme, url=self.url.redacted(),
            )
        return StreamSource(
            url=target,
            credentials=self.login(),
            format="hls",
            options={"live_start_index": str(self.options.live_start_index)},
        )
