"""`ReolinkDriver`: ``reolink://host[:port]/<channel>``, one camera or one NVR channel.

Connecting takes the device's shared session (`_api.SESSIONS`: one login
per device per process), reads its identity and ports once per session
(`_device`) and the channel's stream configuration; cameras a hub hands out
find all of that already read. Streams are the device's RTSP URLs (from
``GetRtspUrl`` where the firmware has it, else ``<codec>Preview_<NN>_<profile>``
on the port ``GetNetPort`` reports); snapshots are ``cmd=Snap``; events
come from the shared `EventHub`; PTZ from `ReolinkPTZ`. Battery channels
are woken only within their `WakeBudget`, each wake audited under the
caller's name. See ``docs/drivers/reolink.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from camsdk.driver import (
    AccessDeniedError,
    Action,
    AuthenticationError,
    CameraClosedError,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraProtocolError,
    CameraUnreachableError,
    Capability,
    ConfigurationError,
    DeviceUrlPolicy,
    DiscoveredCamera,
    PTZDriver,
    SessionSlot,
    Snapshot,
    StreamOpenError,
    StreamProfile,
    StreamSource,
    UnsupportedCapabilityError,
    current_request,
    extension,
    get_logger,
    jpeg_size,
    looks_like_jpeg,
)

from ._api import SESSIONS, ReolinkSession, take_session
from ._device import ChannelMedia, DeviceState, device_state, load_channels, refresh_status
from ._model import EncodedStream
from ._options import ReolinkOptions
from ._ptz import ReolinkPTZ
from ._wake import WakeBudget

__all__ = ["ReolinkDriver", "parse_channel"]

log = get_logger("camsdk.reolink")

_DEFAULT_PROFILES = ("main", "sub")
# A sleeping camera's status is read again when older than this (it does not wake it).
_STATUS_MAX_AGE = 2.0


def parse_channel(path: str, shown: str) -> int:
    """The channel of ``reolink://host/<channel>`` (0 when the path is empty)."""
    text = path.strip("/")
    if not text:
        return 0
    if not text.isdigit() or len(text) > 3:
        raise ConfigurationError(
            f"a Reolink URL names a channel number: reolink://host[:port]/<0..255>, not "
            f"{text[:16]!r}", scheme="reolink", url=shown,
        )
    return int(text)


class ReolinkDriver(CameraDriver[ReolinkOptions]):
    """A Reolink camera, or one channel of a Reolink NVR / Home Hub."""

    schemes: ClassVar[tuple[str, ...]] = ("reolink",)
    display_name: ClassVar[str] = "Reolink camera / NVR channel"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT
        | Capability.STREAM
        | Capability.AUDIO
        | Capability.EVENTS
        | Capability.PTZ
        | Capability.PTZ_PRESETS
        | Capability.RECORD
        | Capability.DISCOVERY
        | Capability.BATTERY
    )
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL; no I/O."""
        if not self.url.host:
            raise ConfigurationError("a Reolink URL names the device: reolink://host[:port]/<ch>",
                                     scheme="reolink", url=self.shown)
        self.channel = parse_channel(self.url.path, self.shown)
        scheme = "https" if self.options.https else "http"
        self._base = f"{scheme}://{self.url.netloc_host}"
        self._key: tuple[str, str, str] | None = None
        self._slot: SessionSlot[ReolinkSession] = SessionSlot("camera", scheme="reolink",
                                                              url=self.shown)
        self._state: DeviceState | None = None
        self._media = ChannelMedia()
        self._battery = False
        self._ptz_presets = False
        self._ptz_position = False

    # -- identity ----------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        """``reolink:<serial>`` (``/<channel>`` on an NVR) once connected, else from the URL."""
        state = self._state
        if state is None or not state.info.serial:
            return super().camera_id
        if state.info.is_nvr or state.info.channels > 1:
            return f"reolink:{state.info.serial}/{self.channel}"
        return f"reolink:{state.info.serial}"

    @property
    def session(self) -> ReolinkSession:
        """The device session (after `connect`)."""
        return self._slot.get()

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Take the shared session, read the device and this channel (see the module doc)."""
        self._slot.check_open()
        self._key, session = await take_session(self, self._base)
        self._slot.fill(session)
        creds = self.login()
        assert creds is not None
        state = self._state = await device_state(session, creds.username)
        channels = state.channels()
        if self.channel not in channels:
            raise ConfigurationError(
                f"the device has no channel {self.channel} (it has {len(channels)}: "
                f"{', '.join(map(str, channels[:8]))}{' ...' if len(channels) > 8 else ''})",
                scheme="reolink", url=self.shown,
            )
        status = state.status.get(self.channel)
        if status is not None and not status.online:
            raise CameraUnreachableError(
                f"channel {self.channel} is offline on the {state.info.model or 'NVR'}",
                scheme="reolink", url=self.shown,
            )
        ability = state.ability(self.channel)
        self._battery = bool(ability and ability.battery) or (
            status is not None and status.sleeping is not None)
        self.battery_powered = self._battery
        # GetEnc wakes a battery camera: a sleeping one keeps its sleep.
        if not (self._battery and status is not None and status.sleeping):
            await load_channels(session, state, [self.channel])
        self._media = state.media.get(self.channel, ChannelMedia())
        if self._battery:
            session.wake_budgets.setdefault(self.channel, WakeBudget(
                wakes_per_hour=self.options.wakes_per_hour,
                awake_seconds_per_hour=self.options.awake_seconds_per_hour,
                awake_per_wake=self.options.awake_per_wake,
            ))
        self.report_capabilities(self._probe(state, ability))
        return self._info(state)

    def _probe(self, state: DeviceState, ability: Any) -> Capability:
        caps = Capability.SNAPSHOT | Capability.EVENTS
        if state.ports.rtsp_enabled and not self._media.refused:
            caps |= Capability.STREAM | Capability.RECORD
            if self._media.audio:
                caps |= Capability.AUDIO
        if ability is not None and ability.ptz:
            caps |= Capability.PTZ
            self._ptz_presets = ability.presets
            self._ptz_position = ability.ptz_position
            if ability.presets:
                caps |= Capability.PTZ_PRESETS
        if self._battery:
            caps |= Capability.BATTERY
        return caps

    def _info(self, state: DeviceState) -> CameraInfo:
        info = state.info
        status = state.status.get(self.channel)
        nvr = info.is_nvr or info.channels > 1
        name = (status.name if status is not None else "") or (
            f"{info.name} {self.channel + 1}".strip() if nvr else info.name)
        extra = {
            "device_type": info.device_type,
            "channel": str(self.channel),
            "rtsp_port": str(self.options.rtsp_port or state.ports.rtsp),
            "onvif": "on" if state.ports.onvif_enabled else "off",
        }
        if info.hardware:
            extra["hardware"] = info.hardware
        if nvr:
            extra["nvr_model"] = info.model
        if self._battery:
            extra["battery"] = "1"
        if self._media.refused:
            extra["stream_refused"] = self._media.refused
        return CameraInfo(
            id=self.camera_id,
            name=name,
            vendor="Reolink",
            # On an NVR the channel's own camera model is in GetChannelstatus.typeInfo.
            model=(status.model if status is not None and status.model and nvr else info.model),
            firmware=info.firmware,
            serial=info.serial if not nvr else (status.uid if status and status.uid else ""),
            hardware_id=state.mac,
            profiles=self._profiles(),
            extra=extra,
        )

    def _profiles(self) -> tuple[StreamProfile, ...]:
        streams = self._media.streams or [EncodedStream(p) for p in _DEFAULT_PROFILES]
        audio = "aac" if self._media.audio else None
        return tuple(
            StreamProfile(name=s.profile, token=s.profile,
                          codec=s.codec if self._media.streams else None,
                          width=s.width, height=s.height, fps=s.fps, bitrate=s.bitrate,
                          audio_codec=audio)
            for s in streams
        )

    async def close(self) -> None:
        """Let go of the shared session (the last user logs out). Idempotent."""
        if self._slot.closed:
            return
        self._slot.close()
        key, self._key = self._key, None
        if key is not None:
            await SESSIONS.release(key)

    # -- battery care ------------------------------------------------------------------------

    async def _asleep(self) -> bool:
        """Whether this battery channel sleeps now (``GetChannelstatus`` does not wake it)."""
        if not self._battery or self._state is None:
            return False
        await refresh_status(self.session, self._state, max_age=_STATUS_MAX_AGE)
        status = self._state.status.get(self.channel)
        return bool(status is not None and status.sleeping)

    def _wake(self, reason: str) -> None:
        """Spend one wake of the budget, audited under the caller; refuse when spent."""
        budget = self.session.wake_budgets.get(self.channel)
        if budget is None:
            return
        verdict = budget.spend()
        self.audit_record("device.wake", channel=self.channel, reason=reason,
                          allowed=verdict.allowed, wakes_left=verdict.wakes_left)
        if not verdict.allowed:
            raise AccessDeniedError(
                f"the camera sleeps and its {verdict.reason}", scheme="reolink",
                url=self.shown, reason="wake budget",
            )

    # -- media -------------------------------------------------------------------------------

    def _stream(self, profile: str) -> EncodedStream:
        for stream in self._media.streams or [EncodedStream(p) for p in _DEFAULT_PROFILES]:
            if stream.profile == profile:
                return stream
        names = ", ".join(p.name for p in self._profiles())
        raise ConfigurationError(f"unknown profile {profile!r} (known: {names})",
                                 scheme="reolink", url=self.shown)

    async def stream_source(self, profile: str) -> StreamSource:
        """The channel's RTSP URL for ``profile`` (see the module docstring)."""
        stream = self._stream(profile)
        state = self._state
        if state is None:
            raise CameraClosedError("camera is not connected", scheme="reolink", url=self.shown)
        if not state.ports.rtsp_enabled:
            raise UnsupportedCapabilityError("RTSP is switched off on the device",
                                             scheme="reolink", url=self.shown)
        if self._battery and await self._asleep():
            self._wake("stream")
        return StreamSource(url=self._rtsp_url(state, stream), credentials=self.login(),
                            transport=self.options.transport)

    def _rtsp_url(self, state: DeviceState, stream: EncodedStream) -> str:
        port = self.options.rtsp_port or (state.ports.rtsp if state.ports.known else None)
        reported = self._media.rtsp_urls.get(stream.profile)
        if reported is not None:
            policy = DeviceUrlPolicy(
                host=self.url.host, port=self.url.port or 80, https=self.options.https,
                allowed_hosts=frozenset(self.config.allow_redirect_hosts),
                rtsp_port=port if self.options.rtsp_port else None, shown=self.shown,
                scheme="reolink",
            )
            return policy.resolve(reported, "stream").url
        if port is None:
            raise StreamOpenError(
                "the device did not report its RTSP port (GetNetPort); pass rtsp_port=",
                scheme="reolink", url=self.shown,
            )
        # H.264 streams are h264Preview_..., H.265 ones Preview_... (numbered from 01).
        prefix = "h264" if stream.codec == "h264" else ""
        host = f"[{self.url.host}]" if ":" in self.url.host else self.url.host
        return f"rtsp://{host}:{port}/{prefix}Preview_{self.channel + 1:02d}_{stream.profile}"

    async def snapshot(self, profile: str) -> Snapshot:
        """``cmd=Snap``, checked to be a JPEG, retried and then tried as the sub stream.

        A sleeping battery camera answers from its last picture (with its
        capture time, within the caller's ``max_age``) unless the caller asked
        to ``wake`` it.
        """
        self._stream(profile)
        session = self.session
        if self._battery and await self._asleep():
            request = current_request()
            if not request.wake:
                cached = session.pictures.get(self.channel)
                if cached is not None and (request.max_age is None
                                           or cached.age <= request.max_age):
                    return cached
                kept = "no picture of it is kept yet" if cached is None else (
                    f"its last picture is {cached.age:.0f} s old, older than max_age")
                raise AccessDeniedError(
                    f"the camera sleeps and {kept}; ask with wake=True to wake it",
                    scheme="reolink", url=self.shown, reason="asleep",
                )
            self._wake("snapshot")
        snap = await self._fetch_snapshot(profile)
        if self._battery:
            session.pictures[self.channel] = snap
        return snap

    async def _fetch_snapshot(self, profile: str) -> Snapshot:
        attempts = [profile, profile]
        if profile != "sub" and (self._state is not None and self._state.info.is_nvr):
            attempts.append("sub")  # NVRs still serve a sub-stream still when main is busy
        problem = ""
        for snap_type in attempts:
            params = {"snapType": snap_type if snap_type in ("main", "sub") else "main"}
            response = await self.session.snap(self.channel, params,
                                               timeout=self.config.snapshot_timeout)
            data = response.content
            size = jpeg_size(data) if looks_like_jpeg(data) else None
            if response.status == 200 and size is not None:
                return Snapshot(jpeg=data, width=size[0], height=size[1],
                                captured_at=datetime.now(UTC), source="device",
                                camera_id=self.camera_id)
            error = ReolinkSession.error_of(response)
            if error is not None:
                problem = f"rspCode {error.rsp_code} ({error.detail[:48]})"
            else:
                problem = (f"HTTP {response.status}, {response.media_type or 'untyped'}, "
                           f"{len(data)} bytes")
            log.debug("%s: Snap %s was not a JPEG: %s", self.shown, snap_type, problem)
        raise CameraProtocolError(f"Snap: the device sent no JPEG ({problem})",
                                  scheme="reolink", url=self.shown)

    # -- events, PTZ, extras -----------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """This channel's events from the device's shared `EventHub`."""
        session = self.session
        if session.auth_failure is not None:
            raise AuthenticationError(session.auth_failure.message, scheme="reolink",
                                      url=self.shown)
        return self._feed(session)

    async def _feed(self, session: ReolinkSession) -> AsyncIterator[CameraEvent]:
        from ._events import EventHub

        hub = session.events
        if hub is None:
            state = self._state
            onvif = None
            if (self.options.onvif_events and state is not None and state.ports.known
                    and state.ports.onvif_enabled):
                host = f"[{self.url.host}]" if ":" in self.url.host else self.url.host
                onvif = (f"onvif://{host}:{state.ports.onvif}", self.login(), self.config)
            hub = session.events = EventHub(
                session, poll_interval=self.options.poll_interval,
                backoff_base=self.config.backoff_base, backoff_cap=self.config.backoff_cap,
                request_timeout=self.config.request_timeout, onvif=onvif,
            )
        feed = hub.subscribe(self.channel)
        try:
            async for event in feed:
                yield event
        finally:
            await feed.aclose()

    def ptz(self) -> PTZDriver:
        """``PtzCtrl`` and presets of this channel."""
        if Capability.PTZ not in self.capabilities:
            raise UnsupportedCapabilityError("this Reolink camera reports no PTZ",
                                             scheme="reolink", url=self.shown)
        return ReolinkPTZ(self.session, self.channel, presets=self._ptz_presets,
                          position=self._ptz_position)

    @extension(Action.EVENTS_SUBSCRIBE)
    async def event_source(self) -> dict[str, Any]:
        """How events are seen now: ``onvif`` or ``poll``, and the measured round trip."""
        hub = self.session.events
        if hub is None:
            return {"source": "idle", "poll_interval": self.options.poll_interval}
        return hub.summary()

    @extension(Action.CONFIG)
    async def wake_budget(self) -> dict[str, float]:
        """A battery camera's wake budget and what is left of it (empty when mains-powered)."""
        budget = self.session.wake_budgets.get(self.channel)
        return budget.summary() if budget is not None else {}

    @classmethod
    def discover(cls, timeout: float) -> AsyncIterator[DiscoveredCamera]:
        """Reolink devices answering the LAN broadcast probe (see `_discovery`)."""
        from ._discovery import probe

        return probe(timeout)
