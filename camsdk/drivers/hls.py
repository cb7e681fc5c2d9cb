"""`HlsDriver`: ``hls+http://`` and ``hls+https://`` playlists as cameras.

Many cloud cameras, NVR web front ends and restreamers publish HLS. The
``hls+`` prefix says "this URL is an HLS playlist" explicitly; a plain
``https://.../index.m3u8`` reaches the generic HTTP driver, which hands the
same `PyAVReader` a `StreamSource` too.

`connect` fetches the playlist once with httpx (TLS verified unless
``verify_tls=False``, Basic or Digest credentials, redirects followed only
to the same host or ``allow_redirect_hosts``): it checks the credentials,
says whether the playlist is live or VOD, and turns a *master* playlist's
variants into profiles (``main`` = highest bandwidth, ``sub`` = lowest).
The media itself is read by FFmpeg's HLS demuxer in the shared pipeline:

- a live playlist is reloaded by FFmpeg and never "ends"; packets arrive a
  segment at a time, so ``stall_timeout`` must exceed the segment duration
  (a warning says so when it does not);
- a VOD playlist (``#EXT-X-ENDLIST``) ends with `StreamEndedError`;
- FFmpeg may fetch only over HTTP(S) for it (``protocol_whitelist``), so a
  playlist cannot point the reader at local files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from pydantic import Field

from camsdk._driver import CameraDriver, DriverOptions, StreamSource
from camsdk._errors import (
    AuthenticationError,
    CameraProtocolError,
    ConfigurationError,
)
from camsdk._log import get_logger
from camsdk._models import CameraConfig, CameraInfo, Capability, Credentials, StreamProfile
from camsdk._url import CameraURL

__all__ = ["HlsDriver", "HlsOptions", "Playlist", "parse_playlist"]

log = get_logger("camsdk.drivers.hls")

_USER_AGENT = "camsdk"
_PLAYLIST_LIMIT = 1024 * 1024
_MAX_REDIRECTS = 3
_ATTR = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


class HlsOptions(DriverOptions):
    """Options of ``hls+http(s)://`` playlists."""

    live_start_index: int = Field(
        -1, description="segment of a live playlist to start at, from the end (-1: newest)"
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


class HlsDriver(CameraDriver):
    """An HLS playlist read as a camera (see the module docstring and ``docs/drivers/hls.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("hls+http", "hls+https")
    display_name: ClassVar[str] = "HLS stream"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT | Capability.STREAM | Capability.AUDIO | Capability.RECORD
    )
    Options: ClassVar[type[DriverOptions]] = HlsOptions
    # Playlist URLs often carry the service's own tokens in their query.
    query_passthrough: ClassVar[bool] = True

    options: HlsOptions

    def __init__(
        self,
        *,
        url: CameraURL,
        credentials: Credentials | None = None,
        config: CameraConfig | None = None,
        options: DriverOptions | None = None,
    ) -> None:
        """Build the driver (no I/O). ``options`` default to the URL's query."""
        super().__init__(url=url, credentials=credentials, config=config, options=options)
        if url.scheme not in self.schemes or not url.host:
            raise ConfigurationError("an HLS URL looks like hls+https://host/path.m3u8",
                                     scheme=url.scheme, url=url.redacted())
        transport = url.scheme.removeprefix("hls+")
        self.playlist_url = CameraURL(transport, url.host, url.port, url.path, url.query,
                                      None, None, "")
        self._profiles: dict[str, str] = {"main": self.playlist_url.unsafe_str()}
        self.playlist: Playlist | None = None

    def _credentials(self) -> tuple[str | None, str | None]:
        if self.credentials is not None:
            return self.credentials.username, self.credentials.password.get_secret_value()
        return self.url.username, self.url.password

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
        allowed = {self.url.host, *self.config.allow_redirect_hosts}
        if parts.scheme not in ("http", "https") or parts.hostname not in allowed:
            raise CameraProtocolError(
                "the playlist points at another host or a non-HTTP URL; refused "
                "(allow the host with CameraConfig.allow_redirect_hosts)",
                scheme=self.url.scheme, url=self.url.redacted(),
            )

    async def _fetch(self, url: str) -> tuple[str, Playlist]:
        import httpx

        username, password = self._credentials()
        redacted = self.url.redacted()
        timeout = httpx.Timeout(self.config.request_timeout)
        async with httpx.AsyncClient(verify=self.config.verify_tls, timeout=timeout,
                                     follow_redirects=False,
                                     headers={"User-Agent": _USER_AGENT}) as client:
            auth: httpx.Auth | None = None
            for _ in range(_MAX_REDIRECTS + 2):
                async with client.stream("GET", url, auth=auth) as response:
                    if response.status_code == 401 and auth is None and username is not None:
                        challenge = response.headers.get("www-authenticate", "").lower()
                        auth = (httpx.DigestAuth(username, password or "")
                                if challenge.startswith("digest")
                                else httpx.BasicAuth(username, password or ""))
                        continue
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        self._check_same_origin(url)
                        continue
                    if response.status_code in (401, 403):
                        raise AuthenticationError(
                            f"the server refused the credentials (HTTP {response.status_code})",
                            scheme=self.url.scheme, url=redacted,
                        )
                    if response.status_code != 200:
                        raise CameraProtocolError(
                            f"the playlist request answered HTTP {response.status_code}",
                            scheme=self.url.scheme, url=redacted,
                        )
                    body = await _read_capped(response)
                    break
            else:
                raise CameraProtocolError("too many redirects", scheme=self.url.scheme,
                                          url=redacted)
        try:
            return url, parse_playlist(body.decode("utf-8", "replace"))
        except CameraProtocolError as exc:
            exc.scheme, exc.url = self.url.scheme, redacted
            raise

    # -- stream --------------------------------------------------------------------------

    async def stream_source(self, profile: str) -> StreamSource:
        """The profile's media playlist for FFmpeg's HLS demuxer, credentials in its URL."""
        target = self._profiles.get(profile)
        if target is None:
            raise ConfigurationError(
                f"unknown profile {profile!r} (known: {', '.join(self._profiles)})",
                scheme=self.url.scheme, url=self.url.redacted(),
            )
        username, password = self._credentials()
        parsed = CameraURL.parse(target)
        if username is not None and parsed.host == self.url.host:
            parsed = CameraURL(parsed.scheme, parsed.host, parsed.port, parsed.path,
                               parsed.query, username, password, parsed.fragment)
        options: dict[str, Any] = {
            # Socket timeout in microseconds: only a backstop that frees a stuck
            # reader, later than the session's own asyncio deadlines.
            "rw_timeout": str(int(
                (max(self.config.open_timeout, self.config.stall_timeout) + 2.0) * 1_000_000
            )),
            "protocol_whitelist": "http,https,tcp,tls,crypto",
            "live_start_index": str(self.options.live_start_index),
            "user_agent": _USER_AGENT,
        }
        if parsed.scheme == "https":
            options["tls_verify"] = "1" if self.config.verify_tls else "0"
        return StreamSource(
            url=parsed.unsafe_str(),
            options=options,
            format="hls",
            secrets=(password,) if password else (),
        )

    def __repr__(self) -> str:
        return f"HlsDriver({self.url.redacted()!r})"


async def _read_capped(response: Any) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > _PLAYLIST_LIMIT:
            raise CameraProtocolError("the playlist is larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)
