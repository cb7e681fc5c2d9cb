"""`UnifiDriver`: one camera of a UniFi Protect console, ``unifi://console[:port]/<camera>``.

The camera is named by its Protect id, its name or its MAC. Connecting
shares the console's session (`ConsoleSession`, one login per console per
process) and reads the camera from the bootstrap; profiles are its channels
(``high``/``medium``/``low``) with their RTSPS aliases. Streams are read with
camsdk's RTSP client over RTSPS on the console's own RTSPS port (from the
bootstrap; 7441 by default), trusting the console's pinned certificate
(``StreamSource(pinned_sha256=...)``); snapshots come from the console (high
quality where the camera can); events from the console's websocket (`_events`); PTZ and privacy mode
from the private API. See ``docs/drivers/unifi.md``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import unquote

from camsdk.driver import (
    CameraClosedError,
    CameraDriver,
    CameraEvent,
    CameraInfo,
    CameraProtocolError,
    Capability,
    ConfigurationError,
    DeviceUrlPolicy,
    DiscoveredCamera,
    PrivacyModeError,
    PTZDriver,
    SessionSlot,
    Snapshot,
    StreamOpenError,
    StreamSource,
    UnsupportedCapabilityError,
    device_snapshot,
    looks_like_jpeg,
)

from ._model import QUALITIES, ConsoleInfo, ProtectCamera, normalise_rtsps
from ._options import UnifiOptions
from ._session import SESSIONS, ConsoleSession, acquire_session

__all__ = ["UnifiDriver"]

MAX_SNAPSHOT = 16 * 1024 * 1024
PRIVATE = "/proxy/protect/api"
#: The name of the full-frame privacy zone camsdk adds for privacy mode.
PRIVACY_ZONE = "camsdk privacy mode"


async def _release(session: ConsoleSession | None) -> None:
    """Stop using the console's shared session (the last user closes it)."""
    if session is not None:
        await SESSIONS.release(session.key)


class UnifiDriver(CameraDriver[UnifiOptions]):
    """A camera of a UniFi Protect console (``docs/drivers/unifi.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("unifi",)
    display_name: ClassVar[str] = "UniFi Protect camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.SNAPSHOT | Capability.STREAM | Capability.RECORD | Capability.EVENTS
        | Capability.PTZ | Capability.PTZ_PRESETS | Capability.PRIVACY_MASK
        | Capability.PRIVACY_MODE | Capability.DISCOVERY
    )
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL: a console host and a camera (no I/O)."""
        self._ref = unquote(self.url.path.strip("/"))
        if not self.url.host or not self._ref or "/" in self._ref:
            raise ConfigurationError(
                "a UniFi camera URL names the console and the camera: "
                "unifi://console[:port]/<camera id, name or MAC>",
                scheme="unifi", url=self.url.redacted())
        self._slot: SessionSlot[ConsoleSession] = SessionSlot("camera", scheme="unifi",
                                                              url=self.shown)
        self._camera: ProtectCamera | None = None
        self._console: ConsoleInfo | None = None
        self._streams: dict[str, str] = {}

    # -- identity --------------------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        """``unifi:<Protect camera id>`` once connected."""
        if self._camera is not None:
            return f"unifi:{self._camera.id}"
        return super().camera_id

    @property
    def session(self) -> ConsoleSession:
        """The shared console session."""
        return self._slot.get()

    @property
    def camera(self) -> ProtectCamera:
        """The camera as the console last described it."""
        if self._camera is None:
            raise CameraClosedError("camera is not connected", scheme="unifi", url=self.shown)
        return self._camera

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> CameraInfo:
        """Share the console's session, find the camera, narrow the capabilities."""
        self._slot.check_open()
        session = self._slot.fill(await acquire_session(
            self.url.without_credentials(), self.login(), self.config, self.options,
            super().allowed_hosts()))
        try:
            self._console, cameras = await session.bootstrap()
            self._camera = self._find(cameras)
            self.report_capabilities(self._offered_now(self._camera))
            return self._info()
        except BaseException:
            await _release(self._slot.take())
            raise

    def _find(self, cameras: list[ProtectCamera]) -> ProtectCamera:
        ref = self._ref
        folded = ref.lower()
        flat_mac = folded.replace(":", "").replace("-", "")
        def key(c: ProtectCamera) -> tuple[bool, bool, bool, bool]:
            mac = c.mac.lower().replace(":", "")
            return (c.id == ref, c.name == ref, c.name.lower() == folded,
                    bool(mac) and mac == flat_mac)

        keys = [(c, key(c)) for c in cameras]
        for rule in range(4):
            found = [c for c, k in keys if k[rule]]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ConfigurationError(
                    f"{len(found)} cameras of the console are called {ref!r}; use the id",
                    scheme="unifi", url=self.shown)
        known = ", ".join(sorted(c.name for c in cameras)[:20]) or "none"
        raise ConfigurationError(f"the console has no camera {ref!r} (known: {known})",
                                 scheme="unifi", url=self.shown)

    def _offered_now(self, camera: ProtectCamera) -> Capability:
        caps = Capability.SNAPSHOT | Capability.EVENTS | Capability.DISCOVERY
        if camera.usable_channels or self.session.mode == "integration":
            caps |= Capability.STREAM | Capability.RECORD
        if camera.privacy_zones:
            caps |= Capability.PRIVACY_MASK
        if self.session.mode == "private":
            caps |= Capability.PRIVACY_MODE
            if camera.ptz:
                caps |= Capability.PTZ | Capability.PTZ_PRESETS
        return caps

    def _info(self) -> CameraInfo:
        camera, console = self.camera, self._console
        extra = {"api": self.session.mode, "state": camera.state, "type": camera.type,
                 "mac": camera.mac}
        if console is not None:
            extra.update(console=console.name, console_model=console.model,
                         protect_version=console.version)
        if camera.doorbell:
            extra["doorbell"] = "1"
        if camera.privacy_zones:
            extra["privacy_zones"] = ", ".join(camera.privacy_zones)
        if self.session.fingerprint:
            extra["tls_sha256"] = self.session.fingerprint
        return CameraInfo(
            id=self.camera_id, name=camera.name, vendor="Ubiquiti", model=camera.model,
            firmware=camera.firmware, serial=camera.mac, hardware_id=camera.type,
            profiles=self._profiles(), extra=extra)

    def _profiles(self) -> tuple[Any, ...]:
        camera = self.camera
        channels = camera.usable_channels
        if not channels and self.session.mode == "integration":
            return tuple(_bare(q, camera.codec) for q in QUALITIES)
        ordered = sorted(channels, key=lambda c: c.quality != self.options.quality)
        return tuple(c.profile(camera.codec) for c in ordered)

    async def close(self) -> None:
        """Release the shared session (the last user logs nothing out: it closes). Idempotent."""
        await _release(self._slot.close())

    # -- media -----------------------------------------------------------------------------

    def _quality(self, profile: str) -> str:
        names = [p.name for p in self._profiles()]
        if profile not in names:
            raise ConfigurationError(f"unknown profile {profile!r} (known: {', '.join(names)})",
                                     scheme="unifi", url=self.shown)
        return profile

    async def _rtsps_url(self, quality: str) -> str:
        session, camera = self.session, self.camera
        if not camera.connected:
            raise StreamOpenError(f"the camera is offline ({camera.state})", scheme="unifi",
                                  url=self.shown)
        policy = DeviceUrlPolicy(host=session.host, port=session.port, https=True,
                                 shown=self.shown, scheme="unifi")
        if session.mode == "integration":
            if quality not in self._streams:
                from ._integration import rtsps_streams

                self._streams = await rtsps_streams(session, camera.id)
            reported = self._streams.get(quality)
            if reported is None:
                raise StreamOpenError(f"the console offers no {quality} stream", scheme="unifi",
                                      url=self.shown)
            resolved = policy.resolve(reported, "stream").url
            return normalise_rtsps(resolved, session.host)
        channel = camera.channel(quality)
        if channel is None or not channel.alias:
            raise StreamOpenError(f"the {quality} channel has RTSP off", scheme="unifi",
                                  url=self.shown)
        port = self._console.rtsps_port if self._console is not None else 7441
        return normalise_rtsps(f"rtsps://{session.netloc}/{channel.alias}", session.host, port)

    async def stream_source(self, profile: str) -> StreamSource:
        """The channel's RTSPS URL, trusting the console's pinned certificate (or the
        system CAs with ``tls=system``)."""
        self._check_privacy()
        url = await self._rtsps_url(self._quality(profile))
        return StreamSource(url=url, transport="tcp", pinned_sha256=self.session.fingerprint)

    def _check_privacy(self) -> None:
        if self._camera is not None and self._camera.privacy_full:
            raise PrivacyModeError("the camera is in privacy mode", scheme="unifi",
                                   url=self.shown)

    async def snapshot(self, profile: str) -> Snapshot:
        """A JPEG from the console: high quality first, a plain one if that fails."""
        self._check_privacy()
        session, camera = self.session, self.camera
        if session.mode == "integration":
            base = f"/proxy/protect/integration/v1/cameras/{camera.id}/snapshot"
            attempts = [{"highQuality": "true"}, {}]
        else:
            base = f"{PRIVATE}/cameras/{camera.id}/snapshot"
            stamp = str(int(time.time() * 1000))
            attempts = [{"ts": stamp, "force": "true", "highQuality": "true"},
                        {"ts": stamp, "force": "true"}]
        problem = ""
        for params in attempts:
            response = await session.request("GET", base, action="snapshot", params=params,
                                             max_bytes=MAX_SNAPSHOT,
                                             timeout=self.config.snapshot_timeout)
            if looks_like_jpeg(response.content):
                return device_snapshot(response.content, content_type=response.media_type,
                                       camera_id=self.camera_id, scheme="unifi",
                                       url=self.shown)
            problem = f"{response.media_type or 'no type'}, {len(response.content)} bytes"
        raise CameraProtocolError(f"the console sent no JPEG ({problem})", scheme="unifi",
                                  url=self.shown)

    # -- events, PTZ, privacy ----------------------------------------------------------------

    def events(self) -> AsyncIterator[CameraEvent]:
        """This camera's events from the console's shared websocket."""
        session = self.session
        if session.events is None:
            from ._events import ConsoleEvents

            kind: str = self.options.events
            if kind == "auto":
                kind = session.mode
            if kind == "integration" and not self.options.api_key:
                raise UnsupportedCapabilityError("Integration API events need api_key=",
                                                 scheme="unifi", url=self.shown)
            session.events = ConsoleEvents(session, kind=kind)
        return session.events.subscribe(self.camera.id, self.camera_id)  # type: ignore[no-any-return]

    def ptz(self) -> PTZDriver:
        """PTZ of a PTZ camera (private API)."""
        if Capability.PTZ not in self.capabilities:
            raise UnsupportedCapabilityError("this camera has no PTZ", scheme="unifi",
                                             url=self.shown)
        from ._ptz import ProtectPTZ, StepRanges

        return ProtectPTZ(self.session, self.camera.id, StepRanges(self.camera.ptz_ranges))

    async def _camera_json(self) -> dict[str, Any]:
        answer = (await self.session.request("GET", f"{PRIVATE}/cameras/{self.camera.id}",
                                             action="camera")).json()
        if not isinstance(answer, dict):
            raise CameraProtocolError("the camera is not an object", scheme="unifi",
                                      url=self.shown)
        return answer

    async def privacy_mode(self) -> bool:
        """Whether a privacy zone covers the whole picture (the console records nothing)."""
        from dataclasses import replace

        from ._model import _full_frame

        zones = (await self._camera_json()).get("privacyZones")
        full = isinstance(zones, list) and any(
            isinstance(z, dict) and _full_frame(z.get("points")) for z in zones)
        self._camera = replace(self.camera, privacy_full=full)
        return full

    async def set_privacy_mode(self, on: bool) -> None:
        """Add (or remove) a full-frame privacy zone named ``camsdk privacy mode``."""
        from dataclasses import replace

        zones = (await self._camera_json()).get("privacyZones")
        kept = [z for z in zones if isinstance(z, dict) and z.get("name") != PRIVACY_ZONE] \
            if isinstance(zones, list) else []
        if on:
            used = {z.get("id") for z in kept}
            ident = next(i for i in range(len(kept) + 1) if i not in used)
            kept.append({"id": ident, "name": PRIVACY_ZONE, "color": "#000000",
                         "points": [[0, 0], [1, 0], [1, 1], [0, 1]]})
        await self.session.request("PATCH", f"{PRIVATE}/cameras/{self.camera.id}",
                                   action="privacy mode", json={"privacyZones": kept})
        self.audit_record("unifi.privacy_zone", on=on, camera=self.camera.id)
        self._camera = replace(self.camera, privacy_full=on)

    @classmethod
    def discover(cls, timeout: float) -> AsyncIterator[DiscoveredCamera]:
        """UniFi consoles answering Ubiquiti's discovery probe (UDP 10001)."""
        from ._discovery import probe

        return probe(timeout)


def _bare(quality: str, codec: str | None) -> Any:
    from camsdk.driver import StreamProfile

    return StreamProfile(name=quality, token=quality, codec=codec)
