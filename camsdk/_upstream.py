"""Opening a `StreamSource`: camsdk's transports, and the rules every stream URL obeys.

A driver says *where* a stream is; this module decides *how* it is read, the
same way for every driver:

- ``rtsp://`` / ``rtsps://``: camsdk's asyncio RTSP client (TCP interleaved
  by default); FFmpeg's RTSP client only with ``client="ffmpeg"``, after a
  pre-flight DESCRIBE by camsdk that checks the redirect rules;
- ``http(s)://`` HLS playlists: fetched by camsdk through the device HTTP
  client (host pinning, TLS, caps), PyAV only demuxes segment bytes;
- local files: only for drivers that read local media on the caller's
  behalf (`CameraDriver.local_sources`), with FFmpeg limited to ``file:``.

Everything else (``rtmp:``, ``srt:``, ``udp:``, ``concat:``, ``data:``, bare
paths ...) is refused: FFmpeg fetches nothing from the network on its own.
A network URL must name a host the driver may contact (the camera URL's,
``allow_redirect_hosts``, or the driver's declared egress hosts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._errors import CameraProtocolError, RedirectRefusedError
from ._gate import CameraRef
from ._log import register_secret
from ._models import CameraConfig
from ._url import CameraURL

if TYPE_CHECKING:  # pragma: no cover
    from ._driver import StreamSource
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
    elif scheme in _HTTP:
        fmt = "hls"
        options = {
            "rw_timeout": str(int(_backstop(config) * 1_000_000)),
            "protocol_whitelist": "http,https,tcp,tls,crypto",
            "user_agent": _USER_AGENT,
            **options,
        }
        if scheme == "https":
            options["tls_verify"] = "1" if config.verify_tls else "0"
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
