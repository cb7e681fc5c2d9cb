"""`VirtualHub`: a simulated NVR, ``virtual://<site>?cameras=4``.

It lists ``<site>-1`` .. ``<site>-N``, each a `VirtualDriver` camera that
receives the hub's other options (``fps``, ``size``, ``events`` ...), so one
URL sets up a whole test site.
"""

from __future__ import annotations

from typing import Any, ClassVar

from camsdk.driver import (
    AuthenticationError,
    CameraClosedError,
    CameraConfig,
    CameraDriver,
    CameraURL,
    ConfigurationError,
    HubCamera,
    HubDriver,
)

from ._driver import VirtualDriver, device_name, forever
from ._options import VirtualHubOptions, VirtualOptions

__all__ = ["VirtualHub"]


class VirtualHub(HubDriver[VirtualHubOptions]):
    """The built-in simulated hub (see ``docs/drivers/virtual.md``)."""

    schemes: ClassVar[tuple[str, ...]] = ("virtual",)
    display_name: ClassVar[str] = "Virtual hub"
    requires: ClassVar[str] = "pip install camsdk"

    def setup(self) -> None:
        """Name the site (no I/O)."""
        self.site = device_name(self.url)
        self._closed = False

    async def connect(self) -> None:
        """Log in to the simulated NVR: ``fail=auth`` rejects it, ``fail=timeout`` hangs."""
        self._check_open()
        kinds = {fault.kind for fault in self.options.fail}
        if "auth" in kinds:
            raise AuthenticationError(
                "virtual hub rejected the credentials", scheme="virtual", url=self.url.redacted()
            )
        if "timeout" in kinds:
            await forever()

    async def close(self) -> None:
        """Forget the session. Idempotent; cameras built earlier keep working."""
        self._closed = True

    async def cameras(self) -> list[HubCamera]:
        """``<site>-1`` .. ``<site>-N`` with the hub's camera options in their URLs."""
        self._check_open()
        shared = tuple(self.options.to_query(exclude={"cameras"}).items())
        title = self.site[:1].upper() + self.site[1:]
        return [
            HubCamera(
                id=f"{self.site}-{n}",
                name=f"{title} camera {n}",
                url=CameraURL("virtual", f"{self.site}-{n}", None, "", shared).unsafe_str(),
                extra={"hub": self.site, "index": n},
            )
            for n in range(1, self.options.cameras + 1)
        ]

    def camera_driver(self, camera: HubCamera, config: CameraConfig) -> CameraDriver[Any]:
        """A `VirtualDriver` for one of this hub's cameras (no I/O)."""
        self._check_open()
        url = CameraURL.parse(camera.url)
        name = device_name(url) if url.scheme == "virtual" else ""
        prefix = f"{self.site}-"
        index = name[len(prefix) :] if name.startswith(prefix) else ""
        if not index.isdigit() or not 1 <= int(index) <= self.options.cameras:
            raise ConfigurationError(
                f"camera {camera.id!r} does not belong to hub {self.site!r}",
                scheme="virtual",
                url=url.redacted(),
            )
        return VirtualDriver(
            url=url,
            credentials=self.credentials,
            config=config,
            options=VirtualOptions.from_query(url.options),
        )

    def _check_open(self) -> None:
        if self._closed:
            raise CameraClosedError("hub is closed", scheme="virtual", url=self.url.redacted())
