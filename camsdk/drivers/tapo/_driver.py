"""`TapoDriver`: ``tapo://host[:port]``, a TP-Link Tapo camera on the local network.

Connecting takes the camera's shared session (`_device.take_session`: the
certificate pinned, one login per camera per process) and reads it once
(`_device.load_state`). Streams are RTSP ``stream1`` (main) and ``stream2``
(sub) on the camera account, read by camsdk's RTSP transport and watched
for privacy mode (`_stream`); snapshots come from the stream's keyframe
(Tapo has no JPEG endpoint), after a privacy check. Events come from the
camera's ONVIF PullPoint (`_events`), PTZ from `_ptz`, privacy mode is the
lens mask (``getLensMaskConfig`` / ``setLensMaskConfig``). See
``docs/drivers/tapo.md``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from camsdk.driver import (
    Action,
    AuthenticationError,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraProtocolError,
    Capability,
    ConfigurationError,
    Credentials,
    PacketSource,
    PrivacyModeError,
    PTZDriver,
    SessionSlot,
    Snapshot,
    StreamProfile,
    StreamSource,
    UnsupportedCapabilityError,
    extension,
    get_logger,
    open_source,
    register_secret,
)

from ._api import SESSIONS, SessionKey, TapoSession
from ._device import DeviceState, load_state, take_session
from ._model import read_lens_mask
from ._options import TapoOptions
from ._stream import PrivacyWatchedSource

__all__ = ["PROFILES", "TapoDriver"]

log = get_logger("camsdk.tapo")

#: camsdk profile name -> Tapo RTSP path.
PROFILES: dict[str, str] = {"main": "stream1", "sub": "stream2"}
_BY_PATH = {path: name for name, path in PROFILES.items()}
_DEFAULT_RTSP_PORT = 554
# A privacy state this fresh answers a snapshot's check without asking the camera.
_PRIVACY_FRESH = 1.0


class TapoDriver(CameraDriver[TapoOptions]):
    """A TP-Link Tapo camera (C1xx, C2xx, C3xx, C5xx ... on the local API)."""

    schemes: ClassVar[tuple[str, ...]] = ("tapo",)
    display_name: ClassVar[str] = "TP-Link Tapo camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT
        | Capability.STREAM
        | Capability.AUDIO
        | Capability.EVENTS
        | Capability.PTZ
        | Capability.PTZ_PRESETS
        | Capability.RECORD
        | Capability.PRIVACY_MODE
    )
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL and the camera account; no I/O."""
        if not self.url.host:
            raise ConfigurationError("a Tapo URL names the camera: tapo://host[:port]",
                                     scheme="tapo", url=self.shown)
        if self.url.path.strip("/"):
            raise ConfigurationError(
                "a Tapo URL has no path (profiles are chosen with cam.stream(profile=...)): "
                "tapo://host[:port]", scheme="tapo", url=self.shown)
        self.stream_login = self._camera_account()
        self._key: SessionKey | None = None
        self._slot: SessionSlot[TapoSession] = SessionSlot("camera", scheme="tapo",
                                                           url=self.shown)
        self._state: DeviceState | None = None

    def _camera_account(self) -> Credentials | None:
        """The RTSP/ONVIF account (see `TapoOptions`), or None when not configured."""
        options = self.options
        if options.stream_credentials is not None:
            creds: Credentials = options.stream_credentials
            register_secret(creds.password.get_secret_value())
            return creds
        if options.stream_password_env is not None:
            if options.stream_user is None:
                raise ConfigurationError("stream_password_env needs stream_user",
                                         scheme="tapo", url=self.shown)
            password = os.environ.get(options.stream_password_env)
            if not password:
                raise ConfigurationError(
                    f"the environment variable {options.stream_password_env} (the camera "
                    "account's password) is not set", scheme="tapo", url=self.shown)
            register_secret(password)
            return Credentials(options.stream_user, password)
        if options.stream_user is not None:
            raise ConfigurationError(
                "stream_user needs its password: stream_password_env=<VARIABLE> or the "
                "stream_credentials= keyword", scheme="tapo", url=self.shown)
        login = self.login()
        # A login that is not the owner's 'admin' is the camera account itself
        # (older firmware accepts it on the local API too).
        if login is not None and login.username and login.username != "admin":
            return login
        return None

    # -- identity ----------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        """``tapo:<device id>`` (or MAC) once connected, else from the URL."""
        state = self._state
        if state is not None and (state.identity.device_id or state.identity.mac):
            ident = state.identity.device_id or state.identity.mac.replace(":", "").lower()
            return f"tapo:{ident}"
        return super().camera_id

    @property
    def session(self) -> TapoSession:
        """The camera session (after `connect`)."""
        return self._slot.get()

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Take the shared session and read the camera (see the module docstring)."""
        self._slot.check_open()
        self._key, session = await take_session(self)
        self._slot.fill(session)
        state = self._state = await load_state(session)
        self.report_capabilities(self._probe(state))
        return self._info(state)

    def _probe(self, state: DeviceState) -> Capability:
        caps = Capability.NONE
        if self.stream_login is not None:
            caps |= Capability.STREAM | Capability.RECORD | Capability.SNAPSHOT
            if state.offers("audio") or not state.components:
                caps |= Capability.AUDIO
            if self.options.events:
                caps |= Capability.EVENTS
        if state.motor is not None:
            caps |= Capability.PTZ
            if state.motor.presets:
                caps |= Capability.PTZ_PRESETS
        if state.offers("lensMask") or (not state.components and state.lens_mask is not None):
            caps |= Capability.PRIVACY_MODE
        return caps

    def _info(self, state: DeviceState) -> CameraInfo:
        ident = state.identity
        extra = {
            "rtsp_port": str(self._rtsp_port()),
            "onvif_port": str(self.options.onvif_port),
            "login": self.session.variant or "",
            "password_hash": self.session.hash_kind or "",
            "camera_account": "configured" if self.stream_login is not None else "missing",
        }
        if ident.hardware:
            extra["hardware"] = ident.hardware
        if ident.region:
            extra["region"] = ident.region
        if ident.device_type:
            extra["device_type"] = ident.device_type
        return CameraInfo(
            id=self.camera_id,
            name=ident.name,
            vendor="TP-Link",
            model=ident.model,
            firmware=ident.firmware,
            serial=ident.device_id,
            hardware_id=ident.mac,
            profiles=self._profiles(state),
            extra=extra,
        )

    def _profiles(self, state: DeviceState) -> tuple[StreamProfile, ...]:
        video = state.video
        audio = "pcm_alaw" if Capability.AUDIO in self.capabilities else None
        return (
            StreamProfile(name="main", token="stream1", codec=video.codec, width=video.width,
                          height=video.height, fps=video.fps, bitrate=video.bitrate,
                          audio_codec=audio),
            StreamProfile(name="sub", token="stream2", audio_codec=audio),
        )

    async def close(self) -> None:
        """Let go of the shared session (the last user closes it). Idempotent."""
        if self._slot.closed:
            return
        self._slot.close()
        key, self._key = self._key, None
        if key is not None:
            await SESSIONS.release(key)

    # -- privacy mode ------------------------------------------------------------------------

    async def privacy_mode(self) -> bool:
        """Whether the lens mask is on now (``getLensMaskConfig``)."""
        return await self._read_privacy()

    async def _read_privacy(self) -> bool:
        session = self.session
        result = await session.call("getLensMaskConfig",
                                    {"lens_mask": {"name": ["lens_mask_info"]}})
        masked = read_lens_mask(result)
        if masked is None:
            raise CameraProtocolError("getLensMaskConfig: no lens mask state in the answer",
                                      scheme="tapo", url=self.shown)
        session.privacy = (masked, time.monotonic())
        return masked

    async def set_privacy_mode(self, on: bool) -> None:
        """Switch the lens mask on or off (``setLensMaskConfig``)."""
        session = self.session
        await session.call("setLensMaskConfig",
                           {"lens_mask": {"lens_mask_info": {"enabled": "on" if on else "off"}}})
        session.privacy = (bool(on), time.monotonic())
        self.audit_record("tapo.lens_mask", on=bool(on))

    async def _privacy_on(self, *, max_age: float = 0.0) -> bool:
        """The lens mask state, from a read at most ``max_age`` seconds old (0: read now)."""
        known = self.session.privacy
        if max_age > 0 and known is not None and time.monotonic() - known[1] <= max_age:
            return known[0]
        return await self._read_privacy()

    def _privacy_error(self) -> PrivacyModeError:
        return PrivacyModeError(
            "the camera is in privacy mode (lens mask on); its owner must switch it off",
            scheme="tapo", url=self.shown)

    # -- media -------------------------------------------------------------------------------

    def _path(self, profile: str) -> str:
        if profile in PROFILES:
            return PROFILES[profile]
        if profile in _BY_PATH:
            return profile
        raise ConfigurationError(
            f"unknown profile {profile!r} (known: main/stream1, sub/stream2)",
            scheme="tapo", url=self.shown)

    def _rtsp_port(self) -> int:
        if self.options.rtsp_port is not None:
            return self.options.rtsp_port
        state = self._state
        if state is not None and state.identity.rtsp_port is not None:
            return state.identity.rtsp_port
        return _DEFAULT_RTSP_PORT

    def _require_account(self) -> Credentials:
        if self.stream_login is None:
            raise UnsupportedCapabilityError(
                "streams and events need the camera account: stream_credentials= or "
                "stream_user= with stream_password_env=", scheme="tapo", url=self.shown)
        return self.stream_login

    async def stream_source(self, profile: str) -> StreamSource:
        """The profile's RTSP URL (camera account beside it, never in it)."""
        creds = self._require_account()
        host = f"[{self.url.host}]" if ":" in self.url.host else self.url.host
        url = f"rtsp://{host}:{self._rtsp_port()}/{self._path(profile)}"
        return StreamSource(url=url, credentials=creds, transport=self.options.transport)

    async def open_stream(self, profile: str) -> PacketSource:
        """The RTSP stream of ``profile``, opened only with the mask off and watched for it."""
        source = await self.stream_source(profile)
        if await self._privacy_on():
            raise self._privacy_error()
        inner = await open_source(self, source)
        return PrivacyWatchedSource(inner, check=self._privacy_on,
                                    poll=self.options.privacy_poll, error=self._privacy_error)

    async def snapshot(self, profile: str) -> Snapshot:
        """Tapo has no JPEG endpoint: refuse in privacy mode, else leave it to the stream."""
        self._path(profile)
        if await self._privacy_on(max_age=_PRIVACY_FRESH):
            raise self._privacy_error()
        raise UnsupportedCapabilityError("Tapo cameras take stills from the stream",
                                         scheme="tapo", url=self.shown)

    # -- events, PTZ, extras -----------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """The camera's detections from its ONVIF PullPoint (the shared `EventHub`)."""
        from ._events import EventHub

        creds = self._require_account()
        session = self.session
        account = self._account_key(creds)
        hub = session.events.get(account)
        if hub is None:
            host = f"[{self.url.host}]" if ":" in self.url.host else self.url.host
            hub = session.events[account] = EventHub(
                url=f"onvif://{host}:{self.options.onvif_port}", credentials=creds,
                config=self.config, shown=self.shown)
        if hub.auth_failure is not None:
            raise AuthenticationError(hub.auth_failure.message, scheme="tapo", url=self.shown)
        return self._feed(hub)

    def _account_key(self, creds: Credentials) -> str:
        """Which ONVIF listener serves this camera account (its port, user and password)."""
        secret = creds.password.get_secret_value()
        digest = hashlib.sha256(f"{creds.username}\0{secret}".encode()).hexdigest()[:24]
        return f"{self.options.onvif_port}:{digest}"

    async def _feed(self, hub: Any) -> AsyncIterator[CameraEvent]:
        feed = hub.subscribe()
        try:
            async for event in feed:
                yield event
        finally:
            await feed.aclose()

    def ptz(self) -> PTZDriver:
        """The camera's motor (``ptz`` component)."""
        from ._ptz import TapoPTZ

        state = self._state
        if state is None or state.motor is None:
            raise UnsupportedCapabilityError("this Tapo camera has no motor", scheme="tapo",
                                             url=self.shown)
        return TapoPTZ(self.session, state.motor, step=self.options.ptz_step)

    @extension(Action.EVENTS_SUBSCRIBE)
    async def event_source(self) -> dict[str, Any]:
        """How events are seen now: the ONVIF listener's state and counters."""
        creds = self.stream_login
        hub = self.session.events.get(self._account_key(creds)) if creds is not None else None
        return hub.summary() if hub is not None else {"source": "onvif", "state": "idle"}

    @extension(Action.CONFIG)
    async def login_details(self) -> dict[str, Any]:
        """The login variant in use (``secure``/``legacy``), the password hash and counts."""
        session = self.session
        return {"variant": session.variant, "password_hash": session.hash_kind,
                "logins": session.logins, "requests": session.requests}
