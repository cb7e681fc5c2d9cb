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
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin

from camsdk.driver import (
    USER_AGENT,
    BodyReader,
    CameraClosedError,
    CameraDriver,
    CameraInfo,
    CameraProtocolError,
    CameraTimeoutError,
    CameraURL,
    CamError,
    Capability,
    ConfigurationError,
    DeviceAuth,
    DeviceHttpClient,
    MultipartError,
    MultipartParser,
    PacketSource,
    SessionSlot,
    Snapshot,
    StreamProfile,
    StreamSource,
    StreamStalledError,
    UnsupportedCapabilityError,
    boundary_from_content_type,
    get_logger,
    jpeg_size,
    looks_like_jpeg,
    media_type,
    register_secret,
)

from ._options import HttpOptions
from ._stream import MjpegStream, first_picture

__all__ = ["HttpDriver", "HttpKind"]

log = get_logger("camsdk.drivers.http")

HttpKind = Literal["still", "mjpeg", "hls"]

PROFILE = "main"
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


class HttpDriver(CameraDriver[HttpOptions]):
    """JPEG stills, MJPEG and HLS over ``http(s)://`` (see ``docs/drivers/http.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("http", "https")
    display_name: ClassVar[str] = "HTTP (JPEG, MJPEG, HLS)"
    declared_capabilities: ClassVar[Capability] = Capability.SNAPSHOT | Capability.STREAM
    requires: ClassVar[str] = "pip install camsdk"
    # ?action=stream, ?resolution=640x480 ... belong to the device.
    query_passthrough: ClassVar[bool] = True

    def setup(self) -> None:
        """Check the URL, work out what to GET with which credentials (no I/O)."""
        url = self.url
        if url.scheme not in self.schemes:
            raise ConfigurationError(
                f"not an http(s) camera URL: {url.scheme}://",
                scheme=url.scheme,
                url=url.redacted(),
            )
        username, password = self.username, self.password
        camera_auth = DeviceAuth(username or "", password or "") if username or password else None
        self._target = _Target(url.without_credentials().unsafe_str(), camera_auth)
        self._snapshot_target: _Target | None = None
        self._hosts = set(self.allowed_hosts())
        if self.options.snapshot_url is not None:
            self._snapshot_target = self._still_target(self.options.snapshot_url, camera_auth)
        self._slot: SessionSlot[DeviceHttpClient] = SessionSlot(
            "camera", scheme=self.url.scheme, url=self.url.redacted())
        self._kind: HttpKind | None = None
        self._streams: weakref.WeakSet[MjpegStream] = weakref.WeakSet()

    def _still_target(self, raw: str, camera_auth: DeviceAuth | None) -> _Target:
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

    def _learned(self, kind: HttpKind) -> None:
        self._kind = kind
        caps = _CAPABILITIES[kind]
        if self._snapshot_target is not None:
            caps |= Capability.SNAPSHOT
        self.report_capabilities(caps)

    def _connected(self) -> HttpKind:
        self._slot.get()
        if self._kind is None:
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
        self._slot.check_open()
        if self._slot.peek() is None:
            self._slot.fill(DeviceHttpClient.for_driver(
                self, base_url=self._target.url, auth="none", allowed_hosts=self._hosts,
                headers={"User-Agent": USER_AGENT},
            ))
        mode = self.options.mode
        if mode == "auto" and _is_playlist_path(self.url.path):
            mode = "hls"
        async with self._get(self._target, "connect") as body:
            response = body.response
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
        self._learned(kind)
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
        http = self._slot.close()
        for stream in list(self._streams):
            await stream.aclose()
        if http is not None:
            await http.aclose()

    # -- requests --------------------------------------------------------------------------

    async def _open(
        self, target: _Target, action: str, timeout: float, on_idle: Callable[[], CamError]
    ) -> BodyReader:
        """GET ``target`` and return its body reader (the caller closes it)."""
        http = self._slot.get()
        return await http.open(
            "GET", target.url, idle_timeout=timeout, action=action, on_idle=on_idle,
            auth=target.auth if target.auth is not None else False,
        )

    @contextlib.asynccontextmanager
    async def _get(self, target: _Target, action: str) -> AsyncIterator[BodyReader]:
        """A GET answered in full within ``request_timeout``; closed on exit."""
        timeout = self.config.request_timeout

        def idle() -> CamError:
            return CameraTimeoutError(
                f"{action}: no data for {timeout:g} s",
                scheme=self.url.scheme,
                url=self.url.redacted(),
            )

        # The whole answer, not only each read, must come within request_timeout.
        async with self._slot.get().errors.deadline(timeout, action):
            body = await self._open(target, action, timeout, idle)
            try:
                yield body
            finally:
                await body.aclose()

    def _parser(self, response: Any) -> MultipartParser:
        boundary = boundary_from_content_type(response.headers.get("content-type", ""))
        try:
            return MultipartParser(boundary, max_part_bytes=self.options.max_frame_bytes)
        except MultipartError:  # an empty declared boundary: learn it from the body
            return MultipartParser(None, max_part_bytes=self.options.max_frame_bytes)

    async def _read_jpeg(
        self, response: Any, body: BodyReader, action: str, *, multipart: bool = False
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
            jpeg = await body.read_all(
                limit, f"{action}: picture", deadline=self.config.request_timeout
            )
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
            part, size, _, _ = await first_picture(
                body, self._parser(response), deadline=self.config.request_timeout
            )
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
        async with self._get(target, "snapshot") as body:
            jpeg, (width, height) = await self._read_jpeg(body.response, body, "snapshot")
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

        body = await self._open(self._target, "open stream", stall, stalled)
        try:
            parser = self._parser(body.response)
            first, size, arrived, pending = await first_picture(
                body, parser, deadline=self.config.open_timeout
            )
            stream = MjpegStream(
                body=body,
                parser=parser,
                first=first,
                size=size,
                arrived=arrived,
                pending=pending,
                stall=stall,
            )
        except BaseException:
            await body.aclose()
            raise
        if self._slot.closed:  # closed while the first picture was on its way
            await stream.aclose()
            self._connected()
        self._streams.add(stream)
        return stream

    async def _open_hls(self, profile: str) -> PacketSource:
        # The playlist has a URL: the facade reads it with camsdk's HLS transport.
        raise UnsupportedCapabilityError(
            "an HLS camera is read through stream_source", scheme=self.url.scheme,
            url=self.url.redacted(),
        )

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
        return StreamSource(url=self._target.url, credentials=self.login(), format="hls")

    def __repr__(self) -> str:
        return f"HttpDriver({self.shown!r}, kind={self._kind!r})"
