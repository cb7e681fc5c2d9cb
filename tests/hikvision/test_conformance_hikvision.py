"""The Hikvision driver and hub pass the driver conformance suite against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

import camsdk
from camsdk import Credentials
from camsdk.testing import HikvisionDevice, closed_port
from camsdk.testing.conformance import CameraConformance, Hook, HubConformance

from ._helpers import CREDS, FAST, PASSWORD, USER


class _Hooks:
    """The four hooks, for a simulator in the ``device`` fixture on ``channel``."""

    channel = 1

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"credentials": CREDS, "config": FAST}

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"hikvision://127.0.0.1:{closed_port()}/1"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return {"credentials": Credentials(USER, "wrong-" + PASSWORD), "config": FAST}

    @pytest.fixture
    def break_stream(self, device: HikvisionDevice) -> Hook:
        async def restart() -> None:
            await device.rtsp.restart(delay=0.1)

        return restart

    @pytest.fixture
    def trigger_event(self, device: HikvisionDevice) -> Hook:
        async def motion() -> None:
            await device.wait_until(lambda d: d.alert_streams >= 1)
            device.emit("VMD", channel=self.channel)

        return motion


class TestHikvisionCameraConformance(_Hooks, CameraConformance):
    @pytest.fixture
    def device(self, camera: HikvisionDevice) -> HikvisionDevice:
        return camera

    @pytest.fixture
    def camera_url(self, camera: HikvisionDevice) -> str:
        return camera.camera_url(1)


class TestHikvisionHubCameraConformance(_Hooks, HubConformance):
    """A channel of the NVR, as `hub.cameras()` hands it out while the hub holds the login."""

    channel = 2

    @pytest.fixture
    def device(self, nvr: HikvisionDevice) -> HikvisionDevice:
        return nvr

    @pytest.fixture
    def hub_url(self, nvr: HikvisionDevice) -> str:
        return nvr.url

    @pytest.fixture
    def hub_options(self) -> dict[str, Any]:
        return {"credentials": CREDS, "config": FAST}

    @pytest.fixture
    async def camera_url(self, hub: camsdk.Hub) -> str:
        listed = {c.extra["channel"]: c for c in await hub.listing()}
        return listed[self.channel].url
