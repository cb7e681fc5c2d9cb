"""`HikvisionDriver`: ``hikvision://host[:port]/<channel>``, one channel of a camera or NVR.

Connecting logs in once per device (`SESSIONS`; a hub and all its cameras
share the login), reads the device's identity and channel catalogue (read
once per session), probes the channel's PTZ and two-way audio, and reports
only what the device has. Streams are the device's RTSP paths
(``/Streaming/Channels/<id>``) on the RTSP port the device reports, read by
camsdk's RTSP client; snapshots come from ISAPI (with the NVR proxy endpoint
as a second try, then the facade's stream keyframe). See
``docs/drivers/hikvision.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from camsdk.driver import (
    AuthenticationError,
    CameraConnectionError,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraProtocolError,
    CamError,
    Capability,
    ConfigurationError,
    DeviceHttpClient,
    DiscoveredCamera,
    HubDriver,
    PTZDriver,
    SessionSlot,
    Snapshot,
    StreamProfile,
    StreamSource,
    TalkChannel,
    UnsupportedCapabilityError,
    device_snapshot,
    looks_like_jpeg,
)

from ._api import SCHEME, SESSIONS, Catalog, HikSession, IsapiClient, login_key, open_session
from ._documents import StreamChannel
from ._options import HikvisionHubOptions, HikvisionOptions
from ._ptz import HikvisionPTZ, PTZSpace, probe_ptz

__all__ = ["HikvisionDriver", "parse_channel", "profile_name", "session_for"]

#: Cap on a device snapshot (a 4K JPEG is a few MB).
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
_NAMES = {1: "main", 2: "sub", 3: "third"}
_NUMBERS = {name: number for number, name in _NAMES.items()}


def profile_name(stream: StreamChannel) -> str:
    """``main``, ``sub``, ``third`` (``stream<n>`` beyond)."""
    return _NAMES.get(stream.number, f"stream{stream.number}")


def parse_channel(path: str) -> tuple[int, str | None]:
    """``/2`` -> channel 2; ``/101`` -> channel 1, main; ``/102`` -> channel 1, sub.

    A number above 100 whose last two digits are 01..09 is a stream id
    (channel * 100 + stream); channel 101 itself is written ``10101``.
    """
    text = path.strip("/") or "1"
    if not text.isdigit() or len(text) > 7:
        raise ValueError(f"the channel must be a number, not {text[:16]!r}")
    number = int(text)
    if number > 100 and 1 <= number % 100 <= 9:
        return number // 100, _NAMES.get(number % 100, f"stream{number % 100}")
    if number < 1:
        raise ValueError("channels are numbered from 1")
    return number, None


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def session_for(
    url_host: str, port: int | None, options: HikvisionHubOptions, username: str | None,
    password: str | None,
) -> tuple[tuple[str, int, bool, str, str], str]:
    """The `SESSIONS` key and base URL of a driver's device."""
    https = options.https
    real_port = port or (443 if https else 80)
    base = f"{'https' if https else 'http'}://{_host_text(url_host)}:{real_port}"
    return login_key(url_host, real_port, https, username, password), base


async def acquire_session(
    driver: CameraDriver[Any] | HubDriver[Any], *, key: tuple[str, int, bool, str, str],
    base: str, options: HikvisionHubOptions,
) -> HikSession:
    """The device's shared session, logging in if nobody on this loop has yet."""

    async def login() -> HikSession:
        http = DeviceHttpClient.for_driver(driver, base_url=base, auth=options.auth)
        client = IsapiClient(http, key=key, cooldown=options.auth_cooldown)
        try:
            client.check_refused()
        except BaseException:
            await http.aclose()
            raise
        return await open_session(client)

    return await SESSIONS.acquire(key, open=login, close=HikSession.aclose)


class HikvisionDriver(CameraDriver[HikvisionOptions]):
    """One channel of a Hikvision camera, NVR or DVR (``docs/drivers/hikvision.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("hikvision",)
    display_name: ClassVar[str] = "Hikvision camera / NVR channel (ISAPI)"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT
        | Capability.STREAM
        | Capability.AUDIO
        | Capability.EVENTS
        | Capability.PTZ
        | Capability.PTZ_PRESETS
        | Capability.RECORD
        | Capability.TWO_WAY_AUDIO
        | Capability.DISCOVERY
    )
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL: a host and a channel number (no I/O)."""
        if not self.url.host:
            raise ConfigurationError("a Hikvision URL names the device: hikvision://host/1",
                                     scheme=SCHEME, url=self.url.redacted())
        try:
            self.channel, self._url_profile = parse_channel(self.url.path)
        except ValueError as exc:
            raise ConfigurationError(str(exc), scheme=SCHEME, url=self.url.redacted()) from None
        self._key, self._base = session_for(self.url.host, self.url.port, self.options,
                                            self.username, self.password)
        self._slot: SessionSlot[HikSession] = SessionSlot("camera", scheme=SCHEME,
                                                          url=self.shown)
        self._streams: dict[str, StreamChannel] = {}
        self._ptz: PTZSpace | None = None
        self._talk_codec: str | None = None
        self._catalog: Catalog | None = None

    @property
    def session(self) -> HikSession:
        """The connected device session."""
        return self._slot.get()

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Log in (shared), read the catalogue, probe PTZ and talk; return the identity."""
        self._slot.check_open()
        session = self._slot.peek()
        if session is None:
            session = self._slot.fill(await acquire_session(
                self, key=self._key, base=self._base, options=self.options))
        catalog = self._catalog = await session.catalog()
        channel = catalog.channel(self.channel)
        streams = catalog.streams_of(self.channel)
        if channel is None and not streams:
            known = ", ".join(str(c.id) for c in catalog.channels) or "none"
            raise ConfigurationError(
                f"the device has no channel {self.channel} (channels: {known})",
                scheme=SCHEME, url=self.shown,
            )
        self._streams = {profile_name(s): s for s in streams}
        proxy = bool(channel is not None and channel.proxy)
        caps = Capability.SNAPSHOT | Capability.EVENTS
        if any(s.enabled for s in streams):
            caps |= Capability.STREAM | Capability.RECORD
            if any(s.audio_codec for s in streams):
                caps |= Capability.AUDIO
        self._ptz = await probe_ptz(session.client, self.channel, proxy=proxy)
        if self._ptz is not None:
            caps |= Capability.PTZ
            if self._ptz.presets:
                caps |= Capability.PTZ_PRESETS
        from ._talk import talk_codec  # the talk module is small; only its probe runs here

        self._talk_codec = await talk_codec(session, self.channel)
        if self._talk_codec is not None:
            caps |= Capability.TWO_WAY_AUDIO
        self.report_capabilities(caps)
        return self._info(session, catalog)

    def _info(self, session: HikSession, catalog: Catalog) -> CameraInfo:
        ident = session.identity
        channel = catalog.channel(self.channel)
        name = (channel.name if channel is not None and channel.name else ident.name)
        extra = {"channel": str(self.channel), "device_type": ident.device_type,
                 "rtsp_port": str(self._rtsp_port()),
                 "rtsp_port_source": "option" if self.options.rtsp_port else
                 catalog.rtsp_port_source}
        if ident.mac:
            extra["mac"] = ident.mac
        if channel is not None and channel.proxy:
            extra["proxy"] = "1"
        if ident.firmware_date:
            extra["firmware_date"] = ident.firmware_date
        return CameraInfo(
            id=f"hikvision:{ident.serial or ident.device_id or self.url.host}/{self.channel}",
            name=name,
            vendor="Hikvision",
            model=ident.model,
            firmware=ident.firmware,
            serial=ident.serial,
            hardware_id=ident.device_id,
            profiles=self._profiles(),
            extra=extra,
        )

    def _profiles(self) -> tuple[StreamProfile, ...]:
        order = sorted(self._streams.items(), key=lambda item: item[1].id)
        wanted = self.options.profile or self._url_profile
        if wanted in self._streams:
            order.sort(key=lambda item: item[0] != wanted)
        return tuple(
            StreamProfile(name=name, token=str(s.id), codec=s.codec, width=s.width,
                          height=s.height, fps=s.fps, bitrate=s.bitrate,
                          audio_codec=s.audio_codec)
            for name, s in order
        )

    async def close(self) -> None:
        """Release the shared session (the last user logs out). Idempotent."""
        if self._slot.close() is not None:
            await SESSIONS.release(self._key)

    # -- media -----------------------------------------------------------------------------

    def _stream(self, profile: str) -> StreamChannel:
        self.session  # noqa: B018 - raises when not connected
        stream = self._streams.get(profile)
        if stream is None and profile.isdigit():
            stream = next((s for s in self._streams.values() if str(s.id) == profile), None)
        if stream is None:
            known = ", ".join(self._streams) or "none"
            raise ConfigurationError(f"unknown profile {profile!r} (known: {known})",
                                     scheme=SCHEME, url=self.shown)
        return stream

    def _rtsp_port(self) -> int:
        if self.options.rtsp_port is not None:
            return self.options.rtsp_port
        if self._catalog is not None and self._catalog.rtsp_port is not None:
            return self._catalog.rtsp_port
        return 554  # the device did not say (old firmware): RTSP's registered port

    async def stream_source(self, profile: str) -> StreamSource:
        """``rtsp://host:<device's RTSP port>/Streaming/Channels/<id>``; credentials beside it."""
        stream = self._stream(profile)
        if not stream.enabled:
            raise UnsupportedCapabilityError(
                f"stream {stream.id} is disabled on the device", scheme=SCHEME, url=self.shown)
        url = (f"rtsp://{_host_text(self.url.host)}:{self._rtsp_port()}"
               f"/Streaming/Channels/{stream.id}")
        return StreamSource(url=url, credentials=self.login(), transport=self.options.transport)

    async def snapshot(self, profile: str) -> Snapshot:
        """A JPEG from ISAPI; an error body is retried once, then the NVR proxy endpoint.

        When all fail the facade falls back to a keyframe of the stream.
        """
        stream = self._stream(profile)
        client = self.session.client
        primary = f"/ISAPI/Streaming/channels/{stream.id}/picture"
        attempts = [primary, primary]
        catalog = self._catalog
        if stream.proxy or (catalog is not None and catalog.proxies):
            attempts.append(f"/ISAPI/ContentMgmt/StreamingProxy/channels/{stream.id}/picture")
        failure: CamError | None = None
        error_body = False
        for index, path in enumerate(attempts):
            if index == 1 and not error_body:
                continue  # retry only an error body, not a missing endpoint or a dead link
            error_body = False
            try:
                response = await client.request(
                    "GET", path, max_bytes=MAX_SNAPSHOT_BYTES,
                    timeout=self.config.snapshot_timeout)
            except AuthenticationError:
                raise
            except (CameraConnectionError, CameraProtocolError) as exc:
                failure = exc
                continue
            if 200 <= response.status < 300 and looks_like_jpeg(response.content):
                try:
                    return device_snapshot(response.content, content_type=response.media_type,
                                           camera_id=self.camera_id, scheme=SCHEME,
                                           url=self.shown)
                except CameraProtocolError as exc:
                    failure = exc
                    continue
            if 200 <= response.status < 300:
                error_body = True
                failure = CameraProtocolError(
                    f"{path}: the device sent {response.media_type or 'an untyped body'!r} "
                    f"({len(response.content)} bytes), not a JPEG",
                    scheme=SCHEME, url=self.shown)
            else:
                failure = client.device_error(response)
                error_body = response.status >= 500 or "busy" in str(failure).lower()
        assert failure is not None
        raise failure

    # -- events, PTZ, talk -----------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """This channel's alerts from the device's shared alert stream."""
        from ._alert_stream import alert_hub
        from ._events import camera_events

        hub = alert_hub(self.session, self.options, self.config)
        return camera_events(hub, self.channel, timeout=self.options.event_timeout)

    def ptz(self) -> PTZDriver:
        """PTZ of this channel (``PTZCtrl``, or ``PTZCtrlProxy`` on an NVR)."""
        session = self.session
        if self._ptz is None:
            raise UnsupportedCapabilityError("the device reports no PTZ for this channel",
                                             scheme=SCHEME, url=self.shown)
        return HikvisionPTZ(session.client, self._ptz)

    async def open_talk(self) -> TalkChannel:
        """Open the channel's two-way audio (G.711 over ISAPI)."""
        from ._talk import IsapiTalk

        session = self.session
        if self._talk_codec is None:
            raise UnsupportedCapabilityError("the device reports no two-way audio",
                                             scheme=SCHEME, url=self.shown)
        return await IsapiTalk.open(session, self, self._talk_codec)

    @classmethod
    def discover(cls, timeout: float) -> AsyncIterator[DiscoveredCamera]:
        """Hikvision devices answering an SADP probe (see `_discovery`)."""
        from ._discovery import probe

        return probe(timeout)
