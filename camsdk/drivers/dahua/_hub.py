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
    CameraClosedError,
    CameraConfig,
    CameraDriver,
    CameraURL,
    ConfigurationError,
    HubCamera,
    HubDriver,
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
                scheme="dahua", url=self._shown,
            )
        self._lease = SessionLease(
            self.url, self.login(), self.config, self.options, self.allowed_hosts()
        )
        self._session: DahuaSession | None = None
        self._closed = False

    @property
    def _shown(self) -> str:
        return self.url.without_credentials().redacted()

    def __repr__(self) -> str:
        return f"DahuaHub({self._shown!r})"

    @property
    def session(self) -> DahuaSession:
        """The device's shared session."""
        if self._closed or self._session is None:
            raise CameraClosedError("hub is not connected", scheme="dahua", url=self._shown)
        return self._session

    async def connect(self) -> None:
        """Log in and read the device and its channels once."""
        if self._closed:
            raise CameraClosedError("hub is closed", scheme="dahua", url=self._shown)
        self._session = await self._lease.acquire()
        await self._session.device(max_age=0.0)

    async def close(self) -> None:
        """Release the shared session. Idempotent."""
        self._closed = True
        self._session = None
        await self._lease.release()

    async def cameras(self) -> list[HubCamera]:
        """Every channel, with its title and online state (read fresh)."""
        session = self.session
        info = await session.device(max_age=1.0)
        bare = self.url.without_credentials()
        shared = tuple(self.options.to_query().items())
        base = info.serial or info.mac or bare.host
        listed = []
        for number, channel in sorted(info.channels.items()):
            url = CameraURL("dahua", bare.host, bare.port, f"/{number}", shared)
            listed.append(
                HubCamera(
                    id=f"dahua:{base}/{number}",
                    name=channel.title or f"{info.name or info.model or 'Channel'} {number}",
                    url=url.unsafe_str(),
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
        url = CameraURL.parse(camera.url)
        try:
            channel = parse_channel(url.path)
        except ValueError:
            channel = None
        if (
            url.scheme != "dahua" or url.host != self.url.host or url.port != self.url.port
            or channel is None or info is None or channel not in info.channels
        ):
            raise ConfigurationError(
                f"camera {camera.id!r} does not belong to this hub", scheme="dahua",
                url=url.redacted(),
            )
        options = DahuaOptions.model_validate(url.options)
        return DahuaDriver(url=url, credentials=self.credentials, config=config,
                           options=options)
