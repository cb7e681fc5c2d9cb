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
    CameraClosedError,
    CameraConfig,
    CameraDriver,
    CameraURL,
    ConfigurationError,
    HubCamera,
    HubDriver,
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
        self._session: ConsoleSession | None = None
        self._closed = False

    @property
    def _shown(self) -> str:
        return self.url.without_credentials().redacted()

    @property
    def session(self) -> ConsoleSession:
        """The console session (after `connect`)."""
        if self._closed or self._session is None:
            raise CameraClosedError("hub is not connected", scheme="unifi", url=self._shown)
        return self._session

    async def connect(self) -> None:
        """Open or join the console's session and read the bootstrap once."""
        if self._closed:
            raise CameraClosedError("hub is closed", scheme="unifi", url=self._shown)
        self._session = await acquire_session(self.url.without_credentials(), self.login(),
                                              self.config, self.options, self.allowed_hosts())
        try:
            await self._session.bootstrap()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Release the shared session. Idempotent."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await SESSIONS.release(session.key)

    async def cameras(self) -> list[HubCamera]:
        """Every camera of the console; unusable ones with ``online=False`` and why."""
        session = self.session
        console, cameras = await session.bootstrap()
        bare = self.url.without_credentials()
        shared = tuple(self.options.to_query().items())
        listed = []
        for camera in cameras:
            reason = ""
            if not camera.connected:
                reason = f"camera is {camera.state.lower() or 'disconnected'}"
            elif session.mode == "private" and not camera.usable_channels:
                reason = "every channel has RTSP off"
            url = CameraURL("unifi", bare.host, bare.port, "/" + quote(camera.id, safe=""),
                            shared)
            listed.append(HubCamera(
                id=f"unifi:{camera.id}", name=camera.name, url=url.unsafe_str(),
                extra={"model": camera.model, "type": camera.type, "mac": camera.mac,
                       "firmware": camera.firmware, "state": camera.state,
                       "doorbell": camera.doorbell, "ptz": camera.ptz,
                       "console": console.name,
                       "profiles": [c.quality for c in camera.usable_channels]},
                online=not reason, reason=reason))
        return listed

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `UnifiDriver` for ``camera``: it joins the hub's session (no I/O)."""
        url = CameraURL.parse(camera.url)
        if url.scheme != "unifi" or url.host != self.url.host or url.port != self.url.port:
            raise ConfigurationError(f"camera {camera.id!r} does not belong to this hub",
                                     scheme="unifi", url=url.redacted())
        bare = CameraURL("unifi", url.host, url.port, url.path)
        return UnifiDriver(url=bare, credentials=self.login(), config=config,
                           options=self.options)

    def __repr__(self) -> str:
        return f"UnifiHub({self._shown!r})"
