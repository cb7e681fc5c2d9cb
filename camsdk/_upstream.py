"""Opening a `StreamSource`: camsdk's transports, and the rules every stream URL obeys.

A driver says *where* a stream is; this module decides *how* it is read, the
same way for every driver:

- ``rtsp://`` / ``rtsps://``: camsdk's asyncio RTSP client (TCP interleaved
  by default); FFmpeg's RTSP client only with ``client="ffmpeg"``, after a
  pre-flight DESCRIBE by camsdk that checks the redirect rules;
- ``http(s)://`` HLS playlists: fetched by camsdk's HLS client through the
  device HTTP client (host pinning, TLS, caps, auth), PyAV only demuxes the
  segment bytes (see `camsdk._hls`);
- local files: only for drivers that read local media on the caller's
  behalf (`CameraDriver.local_sources`), with FFmpeg limited to ``file:``.

Everything else (``rtmp:``, ``srt:``, ``udp:``, ``concat:``, ``data:``, bare
paths ...) is refused: FFmpeg fetches nothing from the network on its own.
A network URL must name a host the driver may contact (the camera URL's,
``allow_redirect_hosts``, or the driver's declared egress hosts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._errors import CameraProtocolError, RedirectRefusedError
from ._gate import CameraRef
from ._hls import ByteRange, FetchResult
from ._log import register_secret
from ._models import CameraConfig
from ._url import CameraURL

if TYPE_CHECKING:  # pragma: no cover
    from ._device_http import DeviceHttpClient
    from ._driver import StreamSource
    from ._hls import HlsUpstream
    from ._media import MediaPacket, StreamInfo
    from ._pipeline._session import Upstream

__all__ = ["check_source", "open_upstream"]

_RTSP = frozenset({"rtsp", "rtsps"})
_HTTP = frozenset({"http", "https"})
_USER_AGENT = "camsdk"


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    from ._device_http import host_allowed

    return host_allowed(host, allowed)


def check_source(
    source: StreamSource, camera: CameraRef, *, local_ok: bool, hosts: frozenset[str]
) -> None:
    """Refuse a source no transport of camsdk may read (see the module docstring)."""
    scheme = source.scheme
    if scheme in _RTSP or (scheme in _HTTP and _is_hls(source)):
        try:
            host = (urlsplit(source.url).hostname or "").lower()
        except ValueError:
            host = ""
        if not host or not _host_allowed(host, hosts):
            raise RedirectRefusedError(
                f"the stream URL names a host the caller did not ({host[:64] or 'none'}); "
                "allow it with CameraConfig.allow_redirect_hosts",
                scheme=camera.scheme, url=camera.url, location=source.redacted_url,
            )
        return
    if scheme in _HTTP:
        raise CameraProtocolError(
            "an http(s) stream URL is read only as an HLS playlist (format='hls'); "
            "MJPEG comes from the driver's open_stream",
            scheme=camera.scheme, url=camera.url,
        )
    if local_ok and (scheme in ("", "file")):
        return
    shown = f"{scheme}:" if scheme else "a local path"
    raise CameraProtocolError(
        f"stream source uses {shown}, which camsdk does not read; refused",
        scheme=camera.scheme, url=camera.url,
    )


def _is_hls(source: StreamSource) -> bool:
    if source.format == "hls":
        return True
    path = urlsplit(source.url).path.lower()
    return path.endswith((".m3u8", ".m3u"))


class _DeviceFetcher:
    """The HLS client's `Fetcher` on the device HTTP client (pinning, TLS, auth, caps)."""

    def __init__(self, client: DeviceHttpClient) -> None:
        self._client = client

    async def get(
        self, url: str, *, max_bytes: int, byte_range: ByteRange | None = None
    ) -> FetchResult:
        headers = None
        if byte_range is not None:
            headers = {"Range": f"bytes={byte_range.offset}-{byte_range.end - 1}"}
        response = await self._client.get(url, max_bytes=max_bytes, headers=headers,
                                          action="HLS fetch")
        return FetchResult(response.url, response.content, response.media_type)


class _HlsStream:
    """An `HlsUpstream` that owns the HTTP client it fetches with."""

    def __init__(self, upstream: HlsUpstream, client: DeviceHttpClient) -> None:
        self._upstream = upstream
        self._client = client

    @property
    def info(self) -> StreamInfo:
        return self._upstream.info

    @property
    def live(self) -> bool:
        return self._upstream.live

    @property
    def finite(self) -> bool:
        return self._upstream.finite

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._upstream.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._upstream.aclose()
        finally:
            await self._client.aclose()


async def _open_hls(
    source: StreamSource, camera: CameraRef, *, config: CameraConfig, hosts: frozenset[str]
) -> Upstream:
    from ._device_http import DeviceHttpClient
    from ._hls import HlsUpstream

    parts = urlsplit(source.url)
    client = DeviceHttpClient(
        base_url=f"{parts.scheme}://{parts.netloc}", scheme=camera.scheme, shown_url=camera.url,
        credentials=source.credentials, config=config, allowed_hosts=hosts,
        max_bytes=64 * 1024 * 1024,
    )
    try:
        start_index = int(source.options.get("live_start_index", "-1"))
    except ValueError:
        start_index = -1
    upstream = HlsUpstream(
        source.url, _DeviceFetcher(client), live_start_index=start_index,
        url_for_errors=camera.url, scheme=camera.scheme, allowed_hosts=hosts,
    )
    stream = _HlsStream(upstream, client)
    try:
        await upstream.start()
    except BaseException:
        await stream.aclose()
        raise
    return stream


async def open_upstream(
    source: StreamSource,
    camera: CameraRef,
    *,
    config: CameraConfig,
    local_ok: bool,
    hosts: frozenset[str],
    audio: bool = True,
) -> Upstream:
    """Open ``source`` with the right transport and return it started (`info` known)."""
    check_source(source, camera, local_ok=local_ok, hosts=hosts)
    if source.scheme in _HTTP:
        return await _open_hls(source, camera, config=config, hosts=hosts)
    from ._pipeline._reader import PyAVReader, ReaderSource

    scheme = source.scheme
    shown = source.redacted_url
    secrets: tuple[str, ...] = ()
    url = source.url
    options = dict(source.options)
    fmt = source.format
    if source.credentials is not None:
        password = source.credentials.password.get_secret_value()
        register_secret(password)
        secrets = (password,) if password else ()
        parsed = CameraURL.parse(url)
        url = CameraURL(parsed.scheme, parsed.host, parsed.port, parsed.path, parsed.query,
                        source.credentials.username, password, parsed.fragment).unsafe_str()
    if scheme in _RTSP:
        options = {**_ffmpeg_rtsp_options(source, config), **options}
    else:
        options.setdefault("protocol_whitelist", "file")
    reader = PyAVReader(
        ReaderSource(url=url, shown=shown, options=options, format=fmt,
                     realtime=source.realtime, loop=source.loop, secrets=secrets),
        audio=audio,
    )
    try:
        await reader.start()
    except BaseException:
        await reader.aclose()
        raise
    return reader


_TRANSPORTS = {"tcp": "tcp", "udp": "udp", "auto": "udp+tcp", "http": "http"}


def _backstop(config: CameraConfig) -> float:
    """FFmpeg's socket timeout: later than any asyncio deadline of the session."""
    return max(config.open_timeout, config.stall_timeout) + 2.0


def _ffmpeg_rtsp_options(source: StreamSource, config: CameraConfig) -> dict[str, str]:
    return {
        "rtsp_transport": _TRANSPORTS[source.transport],
        # Socket I/O timeout in microseconds: only a backstop that frees a
        # stuck reader. The session's asyncio deadlines are the real ones.
        "timeout": str(int(_backstop(config) * 1_000_000)),
        # Stop probing after the first packet: parameter sets come from the
        # SDP, so the first frame follows the first keyframe at once.
        "probesize": "32",
        "analyzeduration": "1000000",
        "fpsprobesize": "0",
        # Data tracks (ONVIF metadata) are not set up: they cost bandwidth.
        "allowed_media_types": "video+audio",
        "user_agent": _USER_AGENT,
    }
