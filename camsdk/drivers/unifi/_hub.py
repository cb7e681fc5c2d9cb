"""`UnifiHub`: a UniFi Protect console (``unifi://console[:port]``), one camera per camera.

Connecting opens (or joins) the console's shared session and reads one
bootstrap; every camera the console knows is listed with its Protect name,
model, MAC, firmware and connected state. Cameras that are adopted but
disconnected, or whose channels all have RTSP off, are listed with
``online=False`` and the reason, never failing the hub. Each camera is a
`UnifiDriver` that shares the hub's session: no second login.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from camsdk.driver import (
    CameraConfig,
    CameraDriver,
    CameraURL,
    ConfigurationError,
    HubCamera,
    HubDriver,
    SessionSlot,
    hub_camera_url,
    own_camera_url,
)

from ._driver import UnifiDriver
from ._options import UnifiOptions
from ._session import SESSIONS, ConsoleSession, acquire_session

__all__ = ["UnifiHub"]


class UnifiHub(HubDriver[UnifiOptions]):
    """A UniFi Protect console (``docs/drivers/unifi.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("unifi",)
    display_name: ClassVar[str] = "UniFi Protect console"
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL names a console only (no I/O)."""
        if not self.url.host or self.url.path.strip("/"):
            raise ConfigurationError(
                "a UniFi hub URL names the console only: unifi://console[:port]",
                scheme="unifi", url=self.url.redacted())
        self._slot: SessionSlot[ConsoleSession] = SessionSlot("hub", scheme="unifi",
                                                              url=self.shown)

    @property
    def session(self) -> ConsoleSession:
        """The console session (after `connect`)."""
        return self._slot.get()

    async def connect(self) -> None:
        """Open or join the console's session and read the bootstrap once."""
        self._slot.check_open()
        session = self._slot.fill(await acquire_session(
            self.url.without_credentials(), self.login(), self.config, self.options,
            self.allowed_hosts()))
        try:
            await session.bootstrap()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Release the shared session. Idempotent."""
        session = self._slot.close()
        if session is not None:
            await SESSIONS.release(session.key)

    async def cameras(self) -> list[HubCamera]:
        """Every camera of the console; unusable ones with ``online=False`` and why."""
        session = self.session
        console, cameras = await session.bootstrap()
        listed = []
        for camera in cameras:
            reason = ""
            if not camera.connected:
                reason = f"camera is {camera.state.lower() or 'disconnected'}"
            elif session.mode == "private" and not camera.usable_channels:
                reason = "every channel has RTSP off"
            listed.append(HubCamera(
                id=f"unifi:{camera.id}", name=camera.name,
                url=hub_camera_url(self, "/" + quote(camera.id, safe="")),
                extra={"model": camera.model, "type": camera.type, "mac": camera.mac,
                       "firmware": camera.firmware, "state": camera.state,
                       "doorbell": camera.doorbell, "ptz": camera.ptz,
                       "console": console.name,
                       "profiles": [c.quality for c in camera.usable_channels]},
                online=not reason, reason=reason))
        return listed

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `UnifiDriver` for ``camera``: it joins the hub's session (no I/O)."""
        url = own_camera_url(self, camera)
        bare = CameraURL("unifi", url.host, url.port, url.path)
        return UnifiDriver(url=bare, credentials=self.login(), config=config,
                           options=self.options)
