"""`DahuaHub`: a Dahua NVR, XVR or DVR (or any Dahua device) as one camera per channel.

``camsdk.hub("dahua://nvr.local")`` logs in once (the shared session) and
lists every channel with the device's own channel title. A channel the
recorder reports disconnected (``getCameraState``), or whose main stream the
device's encode config disables, is listed with ``online=False`` and the
reason rather than failing the hub. Each camera is a `DahuaDriver` on
``dahua://host:port/<channel>`` that shares the hub's session: opening it
reads nothing the hub has not already read, and all channels share one
event connection. A refused login ends the hub at once (no retry).
"""

from __future__ import annotations

from typing import Any, ClassVar

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

from ._driver import DahuaDriver, parse_channel
from ._options import DahuaHubOptions, DahuaOptions
from ._session import DahuaSession, SessionLease

__all__ = ["DahuaHub"]


class DahuaHub(HubDriver[DahuaHubOptions]):
    """A Dahua recorder: one camera per channel (``docs/drivers/dahua.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("dahua",)
    display_name: ClassVar[str] = "Dahua / Amcrest / Lorex NVR"
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Check the URL (no I/O)."""
        if not self.url.host:
            raise ConfigurationError(
                "a Dahua hub URL names the device: dahua://host[:port]",
                scheme="dahua", url=self.shown,
            )
        self._lease = SessionLease(
            self.url, self.login(), self.config, self.options, self.allowed_hosts()
        )
        self._slot: SessionSlot[DahuaSession] = SessionSlot("hub", scheme="dahua",
                                                            url=self.shown)

    @property
    def session(self) -> DahuaSession:
        """The device's shared session."""
        return self._slot.get()

    async def connect(self) -> None:
        """Log in and read the device and its channels once."""
        self._slot.check_open()
        session = self._slot.fill(await self._lease.acquire())
        await session.device(max_age=0.0)

    async def close(self) -> None:
        """Release the shared session. Idempotent."""
        self._slot.close()
        await self._lease.release()

    async def cameras(self) -> list[HubCamera]:
        """Every channel, with its title and online state (read fresh)."""
        session = self.session
        info = await session.device(max_age=1.0)
        base = info.serial or info.mac or self.url.host
        listed = []
        for number, channel in sorted(info.channels.items()):
            listed.append(
                HubCamera(
                    id=f"dahua:{base}/{number}",
                    name=channel.title or f"{info.name or info.model or 'Channel'} {number}",
                    url=hub_camera_url(self, f"/{number}"),
                    extra={"channel": number,
                           "profiles": [f.name for f in channel.formats if f.enabled]},
                    online=channel.online,
                    reason=channel.reason,
                )
            )
        return listed

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `DahuaDriver` for one channel, sharing the hub's session (no I/O)."""
        info = self.session.info

        def known_channel(url: CameraURL) -> bool:
            try:
                channel = parse_channel(url.path)
            except ValueError:
                return False
            return channel is not None and info is not None and channel in info.channels

        url = own_camera_url(self, camera, belongs=known_channel)
        options = DahuaOptions.model_validate(url.options)
        return DahuaDriver(url=url, credentials=self.credentials, config=config,
                           options=options)
