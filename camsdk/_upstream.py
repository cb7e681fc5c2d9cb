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

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from ._errors import (
    CameraProtocolError,
    CameraTimeoutError,
    CamError,
    ConfigurationError,
    RedirectRefusedError,
)
from ._gate import CameraRef
from ._hls import ByteRange, FetchResult
from ._log import register_secret
from ._media import Discontinuity
from ._models import CameraConfig
from ._url import CameraURL

if TYPE_CHECKING:  # pragma: no cover
    from ._device_http import DeviceHttpClient
    from ._driver import CameraDriver, PacketSource, StreamSource
    from ._hls import HlsUpstream
    from ._media import MediaPacket, StreamInfo
    from ._pipeline._session import Upstream
    from ._rtsp import MetadataStream, RtspSettings, RtspUpstream, SessionDescription
    from ._talk import TalkChannel

__all__ = [
    "check_source",
    "open_source",
    "open_upstream",
    "rtsp_backchannel",
    "rtsp_describe",
    "rtsp_metadata",
    "rtsp_settings",
]

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
    if (source.tls is not None or source.pinned_sha256) and (
        source.client != "camsdk" or scheme not in ("rtsps", "https")
        or (source.pinned_sha256 and scheme != "rtsps")
    ):
        raise ConfigurationError(
            "a stream's tls context is for rtsps (and https playlists), its pinned_sha256 "
            "for rtsps, both read by camsdk's own client",
            scheme=camera.scheme, url=camera.url,
        )
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
        max_bytes=64 * 1024 * 1024, verify=source.tls,
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


def rtsp_settings(
    source: StreamSource, *, config: CameraConfig, hosts: frozenset[str], audio: bool = True
) -> RtspSettings:
    """The RTSP client's settings for ``source``: credentials apart, TLS, deadlines, hosts."""
    from ._http import tls_context
    from ._rtsp import RtspSettings

    creds = source.credentials
    password = creds.password.get_secret_value() if creds is not None else None
    if password:
        register_secret(password)
    tls = None
    if source.scheme == "rtsps":
        # A pinned fingerprint is the trust by itself; else the source's context or the CAs.
        tls = source.tls if source.tls is not None or source.pinned_sha256 else (
            tls_context(config.verify_tls))
    return RtspSettings(
        url=source.url,
        username=creds.username if creds is not None else None,
        password=password,
        transport=source.transport,
        tls=tls,
        pinned_sha256=source.pinned_sha256,
        request_timeout=config.request_timeout,
        # Other ports of the camera's own host are not implied: only the port it
        # was reached on, or hosts the caller (or the driver) named explicitly.
        allowed_hosts=hosts - {(urlsplit(source.url).hostname or "").lower()},
        audio=audio,
        user_agent=_USER_AGENT,
    )


class _RtspStream:
    """camsdk's RTSP upstream, with its losses turned into `Discontinuity` markers."""

    live = True
    finite = False

    def __init__(self, upstream: RtspUpstream) -> None:
        self._upstream = upstream

    @property
    def info(self) -> StreamInfo:
        return self._upstream.info

    def __aiter__(self) -> AsyncIterator[MediaPacket | Discontinuity]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket | Discontinuity]:
        upstream = self._upstream
        gaps = upstream.gaps
        async for packet in upstream:
            if upstream.gaps != gaps:
                gaps = upstream.gaps
                yield Discontinuity("loss")
            yield packet

    async def aclose(self) -> None:
        await self._upstream.aclose()


async def _open_rtsp(
    source: StreamSource, camera: CameraRef, *, config: CameraConfig, hosts: frozenset[str],
    audio: bool,
) -> Upstream:
    from ._rtsp import RtspUpstream

    upstream = RtspUpstream(rtsp_settings(source, config=config, hosts=hosts, audio=audio))
    try:
        await upstream.start()
    except BaseException as exc:
        await upstream.aclose()
        if isinstance(exc, CamError):
            exc.scheme, exc.url = camera.scheme, camera.url
        raise
    return _RtspStream(upstream)


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
    if source.scheme in _RTSP and source.client == "camsdk":
        return await _open_rtsp(source, camera, config=config, hosts=hosts, audio=audio)
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
    timeout: tuple[float | None, float | None] | None = None
    if scheme in _RTSP:
        # FFmpeg's client follows redirects on its own: describe first with
        # camsdk's, which refuses any to a host the caller did not name.
        from ._rtsp import describe

        settings = rtsp_settings(source, config=config, hosts=hosts, audio=audio)
        try:
            async with asyncio.timeout(config.open_timeout):
                described = await describe(settings)
        except CamError as exc:
            exc.scheme, exc.url = camera.scheme, camera.url
            raise
        if described.base_url.split("?", 1)[0] != source.url.split("?", 1)[0]:
            # Follow the allowed redirect ourselves; FFmpeg gets the final URL.
            url = _with_userinfo(described.base_url, source)
        options = {**_ffmpeg_rtsp_options(source, config), **options}
        backstop = _backstop(config)
        timeout = (backstop, backstop)
    else:
        options.setdefault("protocol_whitelist", "file")
    reader = PyAVReader(
        ReaderSource(url=url, shown=shown, options=options, format=fmt,
                     realtime=source.realtime, loop=source.loop, secrets=secrets,
                     timeout=timeout),
        audio=audio,
    )
    try:
        await reader.start()
    except BaseException:
        await reader.aclose()
        raise
    return reader


_TRANSPORTS = {"tcp": "tcp", "udp": "udp", "auto": "udp+tcp", "http": "http"}


def _with_userinfo(url: str, source: StreamSource) -> str:
    """``url`` with the source's credentials as userinfo (for FFmpeg only; never shown)."""
    parsed = CameraURL.parse(url)
    creds = source.credentials
    if creds is None:
        return url
    return CameraURL(parsed.scheme, parsed.host, parsed.port, parsed.path, parsed.query,
                     creds.username, creds.password.get_secret_value(),
                     parsed.fragment).unsafe_str()


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


# -- for drivers (through camsdk.driver) -------------------------------------------------


def _driver_ref(driver: CameraDriver[Any]) -> CameraRef:
    return CameraRef(driver.camera_id, driver.url.redacted(), driver.url.scheme)


async def rtsp_describe(
    driver: CameraDriver[Any], source: StreamSource, *, backchannel: bool = False
) -> SessionDescription:
    """DESCRIBE ``source`` with camsdk's RTSP client, under the driver's rules.

    For a driver's ``connect`` probe: checks the credentials, learns the
    tracks. ``backchannel=True`` asks with ONVIF's backchannel ``Require``
    header (a camera without one answers `UnsupportedCapabilityError`).
    Redirects only to hosts the driver may contact; deadline
    ``request_timeout``.
    """
    from ._rtsp import describe
    from ._rtsp._session import RtspSession

    check_source(source, _driver_ref(driver), local_ok=False, hosts=driver.allowed_hosts())
    settings = rtsp_settings(source, config=driver.config, hosts=driver.allowed_hosts())
    try:
        async with asyncio.timeout(driver.config.request_timeout * 2):
            if not backchannel:
                return await describe(settings)
            session = RtspSession(settings, require="www.onvif.org/ver20/backchannel")
            try:
                return await session.describe()
            finally:
                session.abort()
    except TimeoutError:
        raise CameraTimeoutError(
            "the camera did not answer DESCRIBE in time", scheme=driver.url.scheme,
            url=driver.url.redacted(),
        ) from None
    except CamError as exc:
        exc.scheme, exc.url = driver.url.scheme, driver.url.redacted()
        raise


async def rtsp_backchannel(driver: CameraDriver[Any], source: StreamSource) -> TalkChannel:
    """Open the ONVIF audio backchannel of ``source`` (for a driver's ``open_talk``)."""
    from ._rtsp import open_backchannel

    check_source(source, _driver_ref(driver), local_ok=False, hosts=driver.allowed_hosts())
    settings = rtsp_settings(source, config=driver.config, hosts=driver.allowed_hosts())
    try:
        return await open_backchannel(settings)
    except CamError as exc:
        exc.scheme, exc.url = driver.url.scheme, driver.url.redacted()
        raise


def rtsp_metadata(driver: CameraDriver[Any], source: StreamSource) -> MetadataStream:
    """The ONVIF metadata documents of ``source`` (``async with``/``async for``)."""
    from ._rtsp import metadata_stream

    check_source(source, _driver_ref(driver), local_ok=False, hosts=driver.allowed_hosts())
    return metadata_stream(rtsp_settings(source, config=driver.config,
                                         hosts=driver.allowed_hosts()))


async def open_source(driver: CameraDriver[Any], source: StreamSource) -> PacketSource:
    """Open ``source`` with camsdk's transports, for a driver that wraps the result.

    A cloud driver whose stream is a lease (`camsdk.cloud.LeasedSource`)
    opens the URL the vendor handed out here, in its ``open_stream``.
    """
    upstream = await open_upstream(
        source, _driver_ref(driver), config=driver.config,
        local_ok=type(driver).local_sources, hosts=driver.allowed_hosts(),
    )
    return cast("PacketSource", upstream)
