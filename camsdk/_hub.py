"""The `Hub` facade: NVRs and cloud accounts that list many cameras.

A hub logs in once; the `Camera` objects it hands out share its session and
its `AccessGate` (the same principal, policy, audit log and masks), and go
through the same facade as any other camera.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

from ._camera import Camera
from ._driver import HubCamera, HubDriver
from ._errors import CameraClosedError
from ._gate import AccessGate, CameraRef
from ._lifecycle import AsyncResource
from ._models import CameraConfig
from ._translate import call_with_deadline
from ._url import CameraURL

__all__ = ["LIVE_HUBS", "Hub"]

LIVE_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()


class Hub(AsyncResource):
    """A connected NVR or account. Use ``async with camsdk.hub(url) as hub``."""

    def __init__(self, driver: HubDriver[Any], *, url: CameraURL, gate: AccessGate) -> None:
        self._driver = driver
        self.url = url.redacted()
        self.scheme = url.scheme
        self._gate = gate
        self._cameras: list[Camera] = []
        self._state = "new"
        # The hub driver's own records (a cloud account's requests) go to the hub's audit log.
        driver._audit_hook = self._driver_audit  # type: ignore[attr-defined]
        LIVE_HUBS.add(self)

    def _driver_audit(self, fields: dict[str, Any]) -> None:
        self._gate.record(CameraRef(self.url, self.url, self.scheme),
                          {**fields, "principal": self._gate.principal.id})

    def __repr__(self) -> str:
        return f"<Hub {self.url} {self._state}>"

    @property
    def state(self) -> str:
        """``new``, ``connecting``, ``open`` or ``closed``."""
        return self._state

    async def connect(self) -> Hub:
        """Log in / reach the hub (``connect_timeout``)."""
        if self._state == "open":
            return self
        if self._state != "new":
            raise CameraClosedError("a closed hub cannot be reopened", url=self.url)
        self._state = "connecting"
        try:
            await call_with_deadline(
                self._driver.connect(), self._driver.config.connect_timeout,
                scheme=self.scheme, url=self.url,
            )
        except BaseException:
            self._state = "closed"
            with contextlib.suppress(Exception):
                await self._driver.close()
            LIVE_HUBS.discard(self)
            raise
        self._state = "open"
        return self

    async def listing(self) -> list[HubCamera]:
        """The hub's cameras as plain descriptions (no Camera objects), offline ones included."""
        if self._state != "open":
            raise CameraClosedError("hub is not connected", url=self.url)
        return await call_with_deadline(
            self._driver.cameras(), self._driver.config.request_timeout,
            scheme=self.scheme, url=self.url,
        )

    async def cameras(
        self, *, config: CameraConfig | None = None, include_offline: bool = False
    ) -> list[Camera]:
        """`Camera` objects for the hub's cameras, not yet connected.

        They share the hub's session and access gate; closing the hub closes
        them. Offline channels are left out unless ``include_offline``.
        """
        listing = await self.listing()
        cfg = config or self._driver.config
        cams = []
        for item in listing:
            if not item.online and not include_offline:
                continue
            driver = self._driver.camera_driver(item, cfg)
            cams.append(Camera(driver, url=CameraURL.parse(item.url), gate=self._gate))
        self._cameras.extend(cams)
        return cams

    async def aclose(self) -> None:
        """Close every camera handed out, then the hub session. Idempotent."""
        self._state = "closed"
        cams, self._cameras = self._cameras, []
        for cam in cams:
            await cam.aclose()
        with contextlib.suppress(Exception):
            await self._driver.close()
        LIVE_HUBS.discard(self)

    async def _on_enter(self) -> None:
        await self.connect()
