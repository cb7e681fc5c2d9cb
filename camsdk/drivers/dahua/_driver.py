"""`DahuaDriver`: one channel of a Dahua, Amcrest or Lorex camera, NVR or door station.

``dahua://host[:port]/<channel>`` (channel from 1, default 1; the port is the
device's web port). Connecting reads the device through the shared session
(`_session`): identity, the channel's title and stream formats, the RTSP
port, and what the channel offers (PTZ caps, an audio output). Streams are
``rtsp://host:<device RTSP port>/cam/realmonitor?channel=N&subtype=0|1|2``
read by camsdk's RTSP client, credentials beside the URL. Snapshots come from
``/cgi-bin/snapshot.cgi``, retried once when the device answers an error
body, then from the ONVIF snapshot endpoint NVRs serve for proxied channels;
after that the facade takes the stream's keyframe. See
``docs/drivers/dahua.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import ClassVar

from camsdk.driver import (
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraProtocolError,
    Capability,
    ConfigurationError,
    DiscoveredCamera,
    PTZDriver,
    SessionSlot,
    Snapshot,
    StreamProfile,
    StreamSource,
    TalkChannel,
    UnsupportedCapabilityError,
    device_snapshot,
    get_logger,
    looks_like_jpeg,
)

from ._device import ChannelInfo, DeviceInfo, StreamFormat
from ._options import DahuaOptions
from ._ptz import DahuaPTZ, PTZCaps, read_caps
from ._session import DahuaSession, SessionLease
from ._text import parse_int

__all__ = ["DahuaDriver", "parse_channel"]

log = get_logger("camsdk.dahua")

#: Cap on a device snapshot (a 4K JPEG is a few MB).
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
#: Pause before retrying a snapshot the device answered with an error body (it was busy).
SNAPSHOT_RETRY_DELAY = 0.2
MAX_CHANNEL = 256


def parse_channel(path: str) -> int | None:
    """The channel in a URL path (``/3`` -> 3; ``""`` -> None), or `ValueError`."""
    text = path.strip("/")
    if not text:
        return None
    number = parse_int(text)
    if number is None or not 1 <= number <= MAX_CHANNEL or "/" in text:
        raise ValueError(text)
    return number


class DahuaDriver(CameraDriver[DahuaOptions]):
    """One channel of a Dahua-family device (``docs/drivers/dahua.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("dahua",)
    display_name: ClassVar[str] = "Dahua / Amcrest / Lorex"
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
        """Check the URL: a host and an optional channel number (no I/O)."""
        if not self.url.host:
            raise ConfigurationError(
                "a Dahua URL names the device: dahua://host[:port]/<channel>",
                scheme="dahua", url=self.shown,
            )
        try:
            channel = parse_channel(self.url.path)
        except ValueError:
            raise ConfigurationError(
                f"the channel in a Dahua URL is a number 1..{MAX_CHANNEL}: "
                "dahua://host[:port]/<channel>",
                scheme="dahua", url=self.shown,
            ) from None
        self.channel = channel or 1
        self._lease = SessionLease(
            self.url, self.login(), self.config, self.options, self.allowed_hosts()
        )
        self._slot: SessionSlot[DahuaSession] = SessionSlot("camera", scheme="dahua",
                                                            url=self.shown)
        self._info: DeviceInfo | None = None
        self._formats: dict[str, StreamFormat] = {}
        self._ptz_caps = PTZCaps()
        self._talk_codec: str | None = None

    @property
    def camera_id(self) -> str:
        """``dahua:<serial>/<channel>`` once connected, else from the URL."""
        info = self._info
        if info is None or not (info.serial or info.mac):
            return super().camera_id
        return f"dahua:{info.serial or info.mac}/{self.channel}"

    @property
    def session(self) -> DahuaSession:
        """The device's shared session."""
        return self._slot.get()

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Read the device and this channel; narrow the capabilities to what it offers."""
        self._slot.check_open()
        session = self._slot.fill(await self._lease.acquire())
        info = self._info = await session.device()
        channel = info.channels.get(self.channel)
        if channel is None:
            known = ", ".join(str(n) for n in sorted(info.channels)) or "none"
            raise ConfigurationError(
                f"the device has no channel {self.channel} (channels: {known})",
                scheme="dahua", url=self.shown,
            )
        self._formats = {f.name: f for f in channel.formats if f.enabled}
        self.report_capabilities(await self._probe(session, info, channel))
        return self._camera_info(info, channel)

    async def close(self) -> None:
        """Release the shared session (the last user closes it). Idempotent."""
        if self._slot.closed:
            return
        self._slot.close()
        await self._lease.release()

    async def _probe(
        self, session: DahuaSession, info: DeviceInfo, channel: ChannelInfo
    ) -> Capability:
        caps = Capability.SNAPSHOT | Capability.EVENTS
        rtsp_port = self.options.rtsp_port or info.rtsp_port
        if rtsp_port is not None and channel.main_enabled:
            caps |= Capability.STREAM | Capability.RECORD
            if any(f.audio_codec for f in channel.formats):
                caps |= Capability.AUDIO
        elif rtsp_port is None:
            log.warning("%s: the device reports no RTSP port; pass rtsp_port= to stream",
                        self.shown)
        try:
            self._ptz_caps = await read_caps(session.api, self.channel)
        except CameraProtocolError as exc:
            log.debug("%s: no PTZ (%s)", self.shown, exc)
            self._ptz_caps = PTZCaps()
        if self._ptz_caps.moves:
            caps |= Capability.PTZ
            if self._ptz_caps.presets:
                caps |= Capability.PTZ_PRESETS
        self._talk_codec = await self._talk_support(session, channel)
        if self._talk_codec is not None:
            caps |= Capability.TWO_WAY_AUDIO
        return caps

    async def _talk_support(self, session: DahuaSession, channel: ChannelInfo) -> str | None:
        """The talk codec when the device has an audio output, else None."""
        try:
            outputs = await session.api.cgi(
                "/cgi-bin/devAudioOutput.cgi", {"action": "getCollect"},
                action="audio outputs",
            )
        except CameraProtocolError:
            return None
        if (parse_int(outputs.get("result")) or 0) < 1:
            return None
        if self.options.talk_codec != "auto":
            return self.options.talk_codec
        encoded = {f.audio_codec for f in channel.formats}
        return "pcm_mulaw" if "pcm_mulaw" in encoded and "pcm_alaw" not in encoded else "pcm_alaw"

    def _camera_info(self, info: DeviceInfo, channel: ChannelInfo) -> CameraInfo:
        name = channel.title or info.name or info.model
        extra = {"channel": str(self.channel), "device_class": info.device_class}
        if info.rtsp_port is not None:
            extra["rtsp_port"] = str(info.rtsp_port)
        if info.mac:
            extra["mac"] = info.mac
        if len(info.channels) > 1 and info.name:
            extra["device_name"] = info.name
        return CameraInfo(
            id=self.camera_id,
            name=name,
            vendor=info.vendor,
            model=info.model,
            firmware=info.firmware,
            serial=info.serial,
            hardware_id=info.mac,
            profiles=self.stream_profiles(),
            extra=extra,
        )

    # -- media ---------------------------------------------------------------------------

    def stream_profiles(self) -> tuple[StreamProfile, ...]:
        """main, sub (and third where the device encodes it), from the Encode table."""
        return tuple(
            StreamProfile(
                name=f.name, token=str(f.subtype), codec=f.codec, width=f.width,
                height=f.height, fps=f.fps, bitrate=f.bitrate, audio_codec=f.audio_codec,
            )
            for f in self._formats.values()
        )

    def _format(self, profile: str) -> StreamFormat:
        found = self._formats.get(profile)
        if found is None:
            for candidate in self._formats.values():
                if str(candidate.subtype) == profile:
                    return candidate
            known = ", ".join(self._formats) or "none"
            raise ConfigurationError(
                f"unknown profile {profile!r} (known: {known})", scheme="dahua", url=self.shown
            )
        return found

    async def stream_source(self, profile: str) -> StreamSource:
        """The channel's RTSP URL on the device's own RTSP port; credentials beside it."""
        chosen = self._format(profile)
        session = self.session
        port = self.options.rtsp_port or (session.info.rtsp_port if session.info else None)
        if port is None:
            raise UnsupportedCapabilityError(
                "the device reports no RTSP port (pass rtsp_port=)", scheme="dahua",
                url=self.shown,
            )
        host = self.url.host
        netloc = f"[{host}]" if ":" in host else host
        url = (f"rtsp://{netloc}:{port}/cam/realmonitor?channel={self.channel}"
               f"&subtype={chosen.subtype}")
        return StreamSource(url=url, credentials=self.login(), transport=self.options.transport,
                            client=self.options.client)

    async def snapshot(self, profile: str) -> Snapshot:
        """A JPEG from the device (see the module docstring for the fallbacks)."""
        self._format(profile)
        api = self.session.api
        channel = str(self.channel)
        attempts = (
            ("/cgi-bin/snapshot.cgi", {"channel": channel}),
            ("/cgi-bin/snapshot.cgi", {"channel": channel}),
            ("/onvifsnapshot/media_service/snapshot", {"channel": channel, "subtype": "0"}),
        )
        problem = "no answer"
        for number, (path, params) in enumerate(attempts):
            if number == 1:
                await asyncio.sleep(SNAPSHOT_RETRY_DELAY)
            response = await api.fetch(
                path, params, action="snapshot", max_bytes=MAX_SNAPSHOT_BYTES,
                timeout=self.config.snapshot_timeout,
            )
            data = response.content
            if 200 <= response.status < 300 and looks_like_jpeg(data):
                return device_snapshot(data, content_type=response.media_type,
                                       camera_id=self.camera_id, scheme="dahua", url=self.shown)
            problem = (f"HTTP {response.status}, {response.media_type or 'untyped'}, "
                       f"{len(data)} bytes")
            log.debug("%s: snapshot attempt %d failed (%s)", self.shown, number + 1, problem)
            if response.status == 404 and path.startswith("/cgi-bin"):
                # No snapshot CGI at all: a retry cannot help, the alternative may.
                continue
        raise CameraProtocolError(
            f"snapshot: the device sent no JPEG ({problem})", scheme="dahua", url=self.shown
        )

    # -- events, PTZ, talk ---------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """This channel's events (and the device-wide ones), from the shared connection."""
        source = self.session.event_source()
        return source.events(self.channel)  # type: ignore[no-any-return]

    def ptz(self) -> PTZDriver:
        """PTZ of this channel."""
        if not self._ptz_caps.moves:
            raise UnsupportedCapabilityError(
                "the device reports no PTZ for this channel", scheme="dahua", url=self.shown
            )
        return DahuaPTZ(self.session.api, self.channel, self._ptz_caps)

    async def open_talk(self) -> TalkChannel:
        """Start an audio upload to the device's speaker."""
        from ._talk import DahuaTalk

        codec = self._talk_codec
        if codec is None:
            raise UnsupportedCapabilityError(
                "the device has no audio output", scheme="dahua", url=self.shown
            )
        session = self.session
        # Refresh the Digest challenge first: the upload body cannot be sent twice.
        await session.api.cgi("/cgi-bin/devAudioOutput.cgi", {"action": "getCollect"},
                              action="audio outputs")
        talk = DahuaTalk(session.api, self.channel, codec, timeout=self.config.request_timeout)
        talk.open()
        return talk

    @classmethod
    def discover(cls, timeout: float) -> AsyncIterator[DiscoveredCamera]:
        """Dahua devices answering ``DHDiscover.search`` on the local link."""
        from ._discovery import probe

        return probe(timeout)
