"""`RingDriver`: one Ring doorbell, camera or intercom, ``ring://<account>/<family>-<id>``.

``<account>`` names the account's tokens in the token store (log in once with
``camsdk login ring`` or `camsdk.cloud.login`); ``<family>-<id>`` is the
device's key as the hub lists it (``doorbot-…``, ``stickup_cam-…``,
``intercom-…``: ids repeat across families and exceed 2**53, so they stay
exact integers). The driver shares the account's session (`_account`) with
the hub and the account's other cameras. Live view and talk are WebRTC
(`_live`), snapshots and recordings come from Ring's cloud (`_media`),
events from push with polling behind it (`_events`). Devices with
end-to-end encryption on offer events only: Ring lets no third-party client
stream, snapshot or download them, and the refusal says so. See
``docs/drivers/ring.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import ClassVar

from camsdk.driver import (
    CameraClosedError,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraProtocolError,
    Capability,
    ConfigurationError,
    DeviceRecording,
    PacketSource,
    PrivacyModeError,
    RecordingSink,
    SessionSlot,
    Snapshot,
    StreamProfile,
    TalkChannel,
    UnsupportedCapabilityError,
    current_request,
)

from ._account import SESSIONS, STORAGE_HOSTS, RingSession, acquire_session
from ._devices import RingDevice, parse_key
from ._options import RingOptions

__all__ = ["RING_HOSTS", "RingDriver", "release_session"]

#: Ring's hosts (the defaults of the endpoint options).
RING_HOSTS = ("oauth.ring.com", "api.ring.com", "app.ring.com", "app-snaps.ring.com",
              "api.prod.signalling.ring.devices.a2z.com")
E2EE_REASON = ("end-to-end encryption is on for this device: Ring lets no third-party client "
               "stream, snapshot or download it (switch it off in the Ring app's Control "
               "Center to use them)")
_MEDIA = (Capability.STREAM | Capability.AUDIO | Capability.RECORD | Capability.TWO_WAY_AUDIO
          | Capability.SNAPSHOT | Capability.HISTORY)


def account_of(url_host: str, kind: str) -> str:
    """The account name in a ``ring://`` URL (checked as the token store wants it)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}", url_host or ""):
        raise ConfigurationError(
            f"a Ring {kind} URL names the account: ring://<account>"
            + ("/<doorbot-…|stickup_cam-…|intercom-…>" if kind == "camera" else ""),
            scheme="ring")
    return url_host


async def release_session(session: RingSession | None) -> None:
    """Stop using the account's shared session (the last user closes it)."""
    if session is not None:
        await SESSIONS.release(session.key)


class RingDriver(CameraDriver[RingOptions]):
    """A Ring doorbell, camera or intercom (``docs/drivers/ring.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("ring",)
    display_name: ClassVar[str] = "Ring camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT | Capability.STREAM | Capability.AUDIO | Capability.EVENTS
        | Capability.RECORD | Capability.TWO_WAY_AUDIO | Capability.BATTERY | Capability.HISTORY
    )
    requires: ClassVar[str] = "pip install camsdk[webrtc]"
    egress_hosts: ClassVar[tuple[str, ...]] = (*RING_HOSTS, *STORAGE_HOSTS)

    def setup(self) -> None:
        """Check the URL (account and device key) and that no password was given (no I/O)."""
        self.account = account_of(self.url.host, "camera")
        key = self.url.path.strip("/")
        if parse_key(key) is None:
            raise ConfigurationError(
                "a Ring camera URL is ring://<account>/<family>-<id>, e.g. "
                "ring://home/doorbot-123456 (the hub lists them)", scheme="ring",
                url=self.url.redacted())
        if self.login() is not None:
            raise ConfigurationError(
                "Ring is logged in to once, with 2FA: camsdk login ring (or "
                "camsdk.cloud.login('ring', ...)); the driver then uses the stored tokens, "
                "not a password", scheme="ring", url=self.url.redacted())
        self.key = key
        self._slot: SessionSlot[RingSession] = SessionSlot("camera", scheme="ring",
                                                           url=self.shown)
        self._device: RingDevice | None = None

    # -- identity ---------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        """``ring:<family>-<id>``."""
        return f"ring:{self.key}"

    @property
    def shown(self) -> str:
        """``ring://<account>/<device>``: the account and device key name a Ring camera."""
        return f"ring://{self.account}/{self.key}"

    @property
    def session(self) -> RingSession:
        """The account's shared session."""
        return self._slot.get()

    @property
    def device(self) -> RingDevice:
        """The device as Ring last described it."""
        if self._device is None:
            raise CameraClosedError("camera is not connected", scheme="ring", url=self.shown)
        return self._device

    def allowed_hosts(self) -> frozenset[str]:
        """Ring's hosts as configured (the endpoint options) and its recording storage."""
        return super().allowed_hosts() | self.options.hosts()

    # -- lifecycle --------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Share the account's session, find the device, narrow the capabilities."""
        self._slot.check_open()
        session = self._slot.fill(await acquire_session(self.account, self.options, self.config))
        try:
            device = await session.device(self.key)
            if device is None:
                known = ", ".join(sorted(d.key for d in await session.devices())[:20])
                raise ConfigurationError(
                    f"the account has no device {self.key!r} (known: {known or 'none'})",
                    scheme="ring", url=self.shown)
            if device.problem:
                raise CameraProtocolError(f"Ring describes the device oddly: {device.problem}",
                                          scheme="ring", url=self.shown)
            self._device = device
            self.battery_powered = device.battery_powered
            offered = Capability.EVENTS
            if device.battery_powered:
                offered |= Capability.BATTERY
            reasons: dict[Capability, str] = {}
            if device.is_intercom:
                reasons[_MEDIA] = "a Ring Intercom has no camera; it reports rings and unlocks"
            elif device.e2ee:
                reasons[_MEDIA] = E2EE_REASON
            else:
                offered |= _MEDIA
            self.report_capabilities(offered, reasons=reasons)
            return self._info(device)
        except BaseException:
            await release_session(self._slot.take())
            raise

    def _info(self, device: RingDevice) -> CameraInfo:
        extra = {
            "family": device.family, "ring_id": str(device.id), "kind": device.kind,
            "power": "battery" if device.battery_powered else "wired",
            "shared": "1" if device.shared else "0", "e2ee": "1" if device.e2ee else "0",
            "online": "1" if device.online else "0", "location_id": device.location_id,
        }
        if device.battery_level is not None:
            extra["battery_level"] = str(device.battery_level)
        if device.e2ee:
            extra["streaming"] = "blocked: end-to-end encryption"
        return CameraInfo(
            id=self.camera_id, name=device.name, vendor="Ring", model=device.model,
            firmware=device.firmware, serial=device.device_id, hardware_id=device.kind,
            location=device.address or device.location_id,
            profiles=(StreamProfile(name="main", codec="h264", audio_codec="opus"),),
            extra=extra)

    async def close(self) -> None:
        """Release the account's session (the last user closes it). Idempotent."""
        await release_session(self._slot.close())

    # -- media ------------------------------------------------------------------------------

    async def _current(self) -> RingDevice:
        """The device as the (briefly cached) device list says now."""
        device = await self.session.device(self.key)
        if device is not None:
            self._device = device
        return self.device

    def _check_media(self, device: RingDevice) -> None:
        if device.e2ee:
            raise UnsupportedCapabilityError(E2EE_REASON, scheme="ring", url=self.shown)

    async def open_stream(self, profile: str) -> PacketSource:
        """A live view (WebRTC) as a leased packet source; see `_live`."""
        from ._sources import open_video

        device = await self._current()
        self._check_media(device)
        if device.live_view_disabled:
            raise PrivacyModeError(
                "live view is blocked by the location's Mode (Ring app > Modes)",
                scheme="ring", url=self.shown)
        return await open_video(self.session, device, self.config.open_timeout)

    async def open_talk(self) -> TalkChannel:
        """Two-way audio (Opus) on the device's live view."""
        from ._sources import open_talk

        device = await self._current()
        self._check_media(device)
        return await open_talk(self.session, device, self.config.open_timeout)

    async def snapshot(self, profile: str) -> Snapshot:
        """A fresh snapshot, or a sleeping battery device's last event picture (see `_media`)."""
        from ._media import event_picture, on_demand_snapshot

        device = self.device
        self._check_media(device)
        request = current_request()
        session = self.session
        if device.battery_powered and not session.live_view_running(device.key):
            if not request.wake:
                return await event_picture(session, device, self.camera_id, request)
            self.audit_record("device.wake", device=device.key, reason="snapshot")
        return await on_demand_snapshot(session, device, self.camera_id, request)

    # -- events, history ----------------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """This device's dings, motion and unlocks (push, polling behind it)."""
        session = self.session
        if session.events is None:
            from ._events import AccountEvents

            session.events = AccountEvents(session)
        return session.events.subscribe(self.key, self.camera_id)

    async def recordings(self, start: datetime, end: datetime) -> list[DeviceRecording]:
        """Ring's recordings of this device that start within ``start``..``end``."""
        from ._media import list_recordings

        self._check_media(self.device)
        return await list_recordings(self.session, self.device, self.camera_id, start, end)

    async def download_recording(self, recording: DeviceRecording, file: RecordingSink,
                                 progress: Callable[[float], None] | None) -> None:
        """The recording's MP4 from Ring's storage."""
        from ._media import download

        self._check_media(self.device)
        await download(self.session, self.device, recording, file, progress)
