"""`HttpDriver`: cameras that serve a JPEG still, an MJPEG stream or an HLS playlist over HTTP.

What the URL serves decides what the camera can do. `HttpDriver.connect`
makes one GET and reads the response's content type (and, when that says
nothing useful, the first bytes of its body):

- ``image/jpeg`` -> a **still**: SNAPSHOT only; every `snapshot` GETs the URL;
- ``multipart/x-mixed-replace`` -> **MJPEG**: SNAPSHOT and STREAM;
  `open_stream` yields each JPEG as a keyframe packet (`MjpegStream`), and
  `snapshot` takes one part from a fresh request;
- a ``.m3u8`` path or an HLS playlist type -> **HLS**: STREAM (and snapshots
  from the stream's keyframes); `stream_source` hands the playlist URL to
  the shared PyAV pipeline.

``mode=still|mjpeg|hls`` overrides the detection for devices that label
their responses wrongly. Basic and Digest authentication answer the
device's own challenge (`DeviceAuth`); every body read is bounded in size
and time; httpx errors become camsdk errors at this boundary.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Literal
from urllib.parse import urljoin

import anyio
import httpx

from camsdk import __version__
from camsdk._driver import CameraDriver, DriverOptions, PacketSource, StreamSource
from camsdk._errors import (
    CameraClosedError,
    CameraProtocolError,
    CameraTimeoutError,
    CamError,
    ConfigurationError,
    StreamStalledError,
    UnsupportedCapabilityError,
)
from camsdk._http import tls_context
from camsdk._log import get_logger, register_secret
from camsdk._models import (
    CameraConfig,
    CameraInfo,
    Capability,
    Credentials,
    Snapshot,
    StreamProfile,
)
from camsdk._url import CameraURL

from ._jpeg import jpeg_size, looks_like_jpeg
from ._multipart import MultipartError, MultipartParser, boundary_from_content_type
from ._options import HttpOptions
from ._stream import MjpegStream, first_picture
from ._transport import (
    BodyReader,
    DeviceAuth,
    ErrorContext,
    close_response,
    exchange_deadline,
    media_type,
)

__all__ = ["HttpDriver", "HttpKind"]

log = get_logger("camsdk.drivers.http")

HttpKind = Literal["still", "mjpeg", "hls"]

PROFILE = "main"
_USER_AGENT = f"camsdk/{__version__}"
_STILL_TYPES = frozenset({"image/jpeg", "image/jpg", "image/pjpeg"})
_PLAYLIST_TYPES = frozenset(
    {"application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl"}
)
# Types that say nothing about the body: look at its first bytes instead.
_VAGUE_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "text/plain"})
# A media playlist lists segments, not media: a few hundred KiB at most.
_PLAYLIST_LIMIT = 1024 * 1024
_MAX_REDIRECTS = 5
_EOI = b"\xff\xd9"
# Bytes some cameras put after a still's end-of-image marker.
_PADDING = b"\r\n\t \x00"
_MODELS: dict[HttpKind, str] = {
    "still": "HTTP JPEG still",
    "mjpeg": "HTTP MJPEG stream",
    "hls": "HTTP HLS stream",
}
_CAPABILITIES: dict[HttpKind, Capability] = {
    "still": Capability.SNAPSHOT,
    "mjpeg": Capability.SNAPSHOT | Capability.STREAM,
    # The facade makes HLS snapshots from the stream's keyframes.
    "hls": Capability.SNAPSHOT | Capability.STREAM,
}


@dataclass(frozen=True, slots=True)
class _Target:
    """One URL the driver GETs: without userinfo, with the auth that goes with it."""

    url: str = field(repr=False)
    auth: DeviceAuth | None = field(repr=False)


def _is_playlist_path(path: str) -> bool:
    return path.lower().endswith(".m3u8")


def _kind_from_type(content_type: str) -> HttpKind | None:
    if content_type in _STILL_TYPES:
        return "still"
    if content_type.startswith("multipart/"):
        return "mjpeg"
    if content_type in _PLAYLIST_TYPES:
        return "hls"
    return None


def _sniff(head: bytes) -> HttpKind | None:
    if looks_like_jpeg(head):
        return "still"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"#EXTM3U"):
        return "hls"
    if text.startswith(b"--"):
        return "mjpeg"
    return None


class HttpDriver(CameraDriver):
    """JPEG stills, MJPEG and HLS over ``http(s)://`` (see ``docs/drivers/http.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("http", "https")
    display_name: ClassVar[str] = "HTTP (JPEG, MJPEG, HLS)"
    declared_capabilities: ClassVar[Capability] = Capability.SNAPSHOT | Capability.STREAM
    requires: ClassVar[str] = ""
    Options: ClassVar[type[DriverOptions]] = HttpOptions
    # ?action=stream, ?resolution=640x480 ... belong to the device.
    query_passthrough: ClassVar[bool] = True

    options: HttpOptions

    def __init__(
        self,
        *,
        url: CameraURL,
        credentials: Credentials | None = None,
        config: CameraConfig | None = None,
        options: DriverOptions | None = None,
    ) -> None:
        """Build the driver (no I/O). ``url`` is the device URL; its query goes to the device."""
        if url.scheme not in self.schemes:
            raise ConfigurationError(
                f"not an http(s) camera URL: {url.scheme}://",
                scheme=url.scheme,
                url=url.redacted(),
            )
        super().__init__(url=url, credentials=credentials, config=config, options=options)
        config, options = self.config, self.options
        username, password = self._userinfo()
        secrets = [password] if password else []
        camera_auth = DeviceAuth(username or "", password or "") if username or password else None
        self._target = _Target(url.without_credentials().unsafe_str(), camera_auth)
        self._snapshot_target: _Target | None = None
        self._hosts = {url.host.lower(), *(h.lower() for h in config.allow_redirect_hosts)}
        if options.snapshot_url is not None:
            self._snapshot_target = self._still_target(options.snapshot_url, camera_auth, secrets)
        self._errors = ErrorContext(url.scheme, url.redacted(), tuple(secrets))
        self._client: httpx.AsyncClient | None = None
        self._kind: HttpKind | None = None
        self._closed = False
        self._streams: weakref.WeakSet[MjpegStream] = weakref.WeakSet()

    def _userinfo(self) -> tuple[str | None, str | None]:
        """User name and password: `Credentials` when given, else the URL's userinfo."""
        if self.credentials is not None:
            return self.credentials.username, self.credentials.password.get_secret_value()
        return self.url.username, self.url.password

    def _still_target(
        self, raw: str, camera_auth: DeviceAuth | None, secrets: list[str]
    ) -> _Target:
        """The ``snapshot_url`` target. Camera credentials go only to the camera's host."""
        parsed = CameraURL.parse(urljoin(self._target.url, raw))
        if parsed.scheme not in self.schemes:
            raise ConfigurationError(
                "snapshot_url must be http(s)", scheme=self.url.scheme, url=self.url.redacted()
            )
        self._hosts.add(parsed.host.lower())
        auth: DeviceAuth | None
        if parsed.username is not None or parsed.password is not None:
            if parsed.password:
                secrets.append(parsed.password)
                register_secret(parsed.password)
            auth = DeviceAuth(parsed.username or "", parsed.password or "")
        elif parsed.host.lower() == self.url.host.lower():
            auth = camera_auth
        else:
            auth = None
        return _Target(parsed.without_credentials().unsafe_str(), auth)

    # -- state -----------------------------------------------------------------------------

    @property
    def kind(self) -> HttpKind | None:
        """What the URL serves (``still``, ``mjpeg``, ``hls``), known after `connect`."""
        return self._kind

    @property
    def capabilities(self) -> Capability:
        """Declared capabilities until `connect`, then what the URL turned out to serve."""
        if self._kind is None:
            return self.declared_capabilities
        caps = _CAPABILITIES[self._kind]
        if self._snapshot_target is not None:
            caps |= Capability.SNAPSHOT
        return caps

    def _connected(self) -> HttpKind:
        if self._closed:
            raise CameraClosedError(
                "camera is closed", scheme=self.url.scheme, url=self.url.redacted()
            )
        if self._kind is None or self._client is None:
            raise CameraClosedError(
                "camera is not connected", scheme=self.url.scheme, url=self.url.redacted()
            )
        return self._kind

    def _check_profile(self, profile: str) -> None:
        if profile != PROFILE:
            raise ConfigurationError(
                f"unknown profile {profile!r}; an HTTP camera has one: {PROFILE}",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """GET the URL once and decide from the answer what it serves (see module docstring)."""
        if self._closed:
            raise CameraClosedError(
                "camera is closed", scheme=self.url.scheme, url=self.url.redacted()
            )
        if self._client is None:
            self._client = self._new_client()
        mode = self.options.mode
        if mode == "auto" and _is_playlist_path(self.url.path):
            mode = "hls"
        async with self._get(self._target, "connect") as (response, body):
            content_type = media_type(response)
            kind = _kind_from_type(content_type) if mode == "auto" else mode
            if kind is None and content_type in _VAGUE_TYPES:
                kind = _sniff(await body.peek(8))
            if kind is None:
                raise CameraProtocolError(
                    f"connect: the URL serves {content_type[:64] or 'an untyped body'!r}, "
                    "not a JPEG, an MJPEG stream or an HLS playlist (set mode= to override)",
                    scheme=self.url.scheme,
                    url=self.url.redacted(),
                )
            size: tuple[int, int] | None = None
            if kind == "hls":
                await self._check_playlist(body)
            else:
                multipart = kind == "mjpeg"
                _, size = await self._read_jpeg(response, body, "connect", multipart=multipart)
            server = response.headers.get("server", "")
        self._kind = kind
        log.debug("%s serves %s (%s)", self.url.redacted(), kind, content_type or "untyped")
        return self._info(kind, content_type, server, size)

    def _info(
        self, kind: HttpKind, content_type: str, server: str, size: tuple[int, int] | None
    ) -> CameraInfo:
        profiles: tuple[StreamProfile, ...] = ()
        if kind == "mjpeg" and size is not None:
            profiles = (
                StreamProfile(
                    name=PROFILE, token=PROFILE, codec="mjpeg", width=size[0], height=size[1]
                ),
            )
        elif kind == "hls":
            profiles = (StreamProfile(name=PROFILE, token=PROFILE),)
        extra = {"mode": kind, "content_type": content_type[:100]}
        if server:
            extra["server"] = server[:100]
        return CameraInfo(
            id=self.camera_id,
            name=self.url.host,
            model=_MODELS[kind],
            profiles=profiles,
            extra=extra,
        )

    async def close(self) -> None:
        """Close open MJPEG streams and the HTTP client. Idempotent."""
        self._closed = True
        for stream in list(self._streams):
            await stream.aclose()
        client, self._client = self._client, None
        if client is not None:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    def _new_client(self) -> httpx.AsyncClient:
        cfg = self.config
        return httpx.AsyncClient(
            verify=tls_context(cfg.verify_tls),
            timeout=httpx.Timeout(cfg.request_timeout, connect=cfg.connect_timeout),
            follow_redirects=True,
            max_redirects=_MAX_REDIRECTS,
            headers={"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"},
            event_hooks={"request": [self._check_request]},
        )

    async def _check_request(self, request: httpx.Request) -> None:
        """Every request, redirects included: only to hosts the caller named, no downgrade."""
        host = request.url.host.lower()
        if host not in self._hosts:
            raise CameraProtocolError(
                f"device redirected to another host ({host[:64]}); allow it with "
                "CameraConfig.allow_redirect_hosts",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )
        if self.url.scheme == "https" and request.url.scheme != "https":
            raise CameraProtocolError(
                "device redirected from https to plain http; refused",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )

    # -- requests --------------------------------------------------------------------------

    async def _send(self, target: _Target, action: str, *, stream: bool = False) -> httpx.Response:
        """GET ``target`` (streaming) and check its status; the caller closes the response."""
        client = self._client
        if client is None:
            raise CameraClosedError(
                "camera is not connected", scheme=self.url.scheme, url=self.url.redacted()
            )
        cfg = self.config
        # A stream's body reads are bounded by stall_timeout (BodyReader); the
        # socket timeout must not cut in first.
        read = max(cfg.request_timeout, cfg.stall_timeout) if stream else cfg.request_timeout
        try:
            request = client.build_request(
                "GET", target.url, timeout=httpx.Timeout(read, connect=cfg.connect_timeout)
            )
            response = await client.send(request, auth=target.auth, stream=True)
        except CamError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise self._errors.translate(exc, action) from exc
        try:
            self._errors.check_response(response, action, has_auth=target.auth is not None)
        except BaseException:
            await close_response(response)
            raise
        return response

    def _reader(
        self,
        response: httpx.Response,
        action: str,
        timeout: float,
        on_idle: Callable[[], CamError],
    ) -> BodyReader:
        return BodyReader(
            response, idle_timeout=timeout, on_idle=on_idle, errors=self._errors, action=action
        )

    @contextlib.asynccontextmanager
    async def _get(
        self, target: _Target, action: str
    ) -> AsyncIterator[tuple[httpx.Response, BodyReader]]:
        """A GET answered in full within ``request_timeout``; closed on exit."""
        timeout = self.config.request_timeout

        def idle() -> CamError:
            return CameraTimeoutError(
                f"{action}: no data for {timeout:g} s",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )

        # The whole answer, not only each read, must come within request_timeout.
        async with exchange_deadline(timeout, self._errors, action):
            response = await self._send(target, action)
            body = self._reader(response, action, timeout, idle)
            try:
                yield response, body
            finally:
                await body.aclose()
                await close_response(response)

    def _parser(self, response: httpx.Response) -> MultipartParser:
        boundary = boundary_from_content_type(response.headers.get("content-type", ""))
        try:
            return MultipartParser(boundary, max_part_bytes=self.options.max_frame_bytes)
        except MultipartError:  # an empty declared boundary: learn it from the body
            return MultipartParser(None, max_part_bytes=self.options.max_frame_bytes)

    async def _read_jpeg(
        self, response: httpx.Response, body: BodyReader, action: str, *, multipart: bool = False
    ) -> tuple[bytes, tuple[int, int]]:
        """One JPEG from a still's body or from the first part of a multipart body."""
        content_type = media_type(response)
        head = await body.peek(2)
        if looks_like_jpeg(head) and not content_type.startswith("multipart/"):
            limit = self.options.max_frame_bytes
            declared = response.headers.get("content-length", "").strip()
            if declared.isdigit() and int(declared) > limit:
                raise CameraProtocolError(
                    f"{action}: picture of {declared} bytes is larger than the limit of {limit}",
                    scheme=self.url.scheme,
                    url=self.url.redacted(),
                )
            jpeg = await body.read_all(limit, f"{action}: picture")
            if not jpeg.rstrip(_PADDING).endswith(_EOI):
                # A body cut short (a hang-up, a Content-Length that lies) is no picture.
                raise CameraProtocolError(
                    f"{action}: the picture is cut short (no end-of-image marker)",
                    scheme=self.url.scheme,
                    url=self.url.redacted(),
                )
            size = jpeg_size(jpeg)
            if size is None:
                raise CameraProtocolError(
                    f"{action}: the JPEG has no frame header",
                    scheme=self.url.scheme,
                    url=self.url.redacted(),
                )
            return jpeg, size
        if multipart or content_type.startswith("multipart/") or self._kind == "mjpeg":
            part, size, _, _ = await first_picture(body, self._parser(response), self._errors)
            return part.body, size
        raise CameraProtocolError(
            f"{action}: the device sent {content_type[:64] or 'an untyped body'!r}, not a JPEG",
            scheme=self.url.scheme,
            url=self.url.redacted(),
        )

    async def _check_playlist(self, body: BodyReader) -> None:
        playlist = await body.read_all(_PLAYLIST_LIMIT, "connect: playlist")
        if not playlist.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U"):
            raise CameraProtocolError(
                "connect: the URL did not return an HLS playlist (no #EXTM3U)",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )

    # -- media -----------------------------------------------------------------------------

    async def snapshot(self, profile: str) -> Snapshot:
        """GET a JPEG: the ``snapshot_url``, the still URL, or one part of the MJPEG stream."""
        kind = self._connected()
        self._check_profile(profile)
        target = self._snapshot_target
        if target is None:
            if kind == "hls":
                raise UnsupportedCapabilityError(
                    "an HLS camera has no still URL (set snapshot_url=); use the stream",
                    scheme=self.url.scheme,
                    url=self.url.redacted(),
                )
            target = self._target
        async with self._get(target, "snapshot") as (response, body):
            jpeg, (width, height) = await self._read_jpeg(response, body, "snapshot")
        return Snapshot(
            jpeg=jpeg,
            width=width,
            height=height,
            captured_at=datetime.now(UTC),
            source="device",
            camera_id=self.camera_id,
        )

    async def open_stream(self, profile: str) -> PacketSource:
        """MJPEG: a fresh request read by `MjpegStream`. HLS: the PyAV reader of `stream_source`.

        The facade asks the driver class whether it overrides ``open_stream``,
        not the instance, so HLS cameras come through here too and get the
        same reader the facade would have built from `stream_source`.
        """
        kind = self._connected()
        self._check_profile(profile)
        if kind == "hls":
            return await self._open_hls(profile)
        if kind != "mjpeg":
            raise UnsupportedCapabilityError(
                "this URL serves JPEG stills, not a stream",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )
        stall = self.config.stall_timeout

        def stalled() -> CamError:
            return StreamStalledError(
                f"no MJPEG data for {stall:g} s", scheme=self.url.scheme, url=self.url.redacted()
            )

        response = await self._send(self._target, "open stream", stream=True)
        body = self._reader(response, "stream", stall, stalled)
        try:
            parser = self._parser(response)
            first, size, arrived, pending = await first_picture(body, parser, self._errors)
            stream = MjpegStream(
                response=response,
                body=body,
                parser=parser,
                first=first,
                size=size,
                arrived=arrived,
                pending=pending,
                errors=self._errors,
            )
        except BaseException:
            await body.aclose()
            await close_response(response)
            raise
        if self._closed:  # closed while the first picture was on its way
            await stream.aclose()
            self._connected()
        self._streams.add(stream)
        return stream

    async def _open_hls(self, profile: str) -> PacketSource:
        from camsdk._pipeline._reader import PyAVReader

        reader = PyAVReader(await self.stream_source(profile))
        try:
            await reader.start()
        except BaseException:
            await reader.aclose()
            raise
        return reader

    async def stream_source(self, profile: str) -> StreamSource:
        """The HLS playlist URL for the PyAV pipeline, credentials percent-encoded in it."""
        kind = self._connected()
        self._check_profile(profile)
        if kind != "hls":
            raise UnsupportedCapabilityError(
                "only HLS playlists are read through a stream URL; MJPEG comes from open_stream",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )
        username, password = self._userinfo()
        url = self.url
        with_credentials = CameraURL(
            url.scheme, url.host, url.port, url.path, url.query, username, password, url.fragment
        )
        options = {
            # FFmpeg's own socket timeout, in microseconds: it frees a stuck
            # reader thread; the session's stall watchdog does the rest.
            "rw_timeout": str(int(self.config.stall_timeout * 1_000_000)),
            "user_agent": _USER_AGENT,
        }
        if url.scheme == "https":
            options["tls_verify"] = "1" if self.config.verify_tls else "0"
        return StreamSource(
            url=with_credentials.unsafe_str(),
            options=options,
            secrets=(password,) if password else (),
        )

    def __repr__(self) -> str:
        return f"HttpDriver({self.url.redacted()!r}, kind={self._kind!r})"
