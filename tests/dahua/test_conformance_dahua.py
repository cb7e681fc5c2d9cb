"""The Dahua driver and hub pass the driver conformance suite against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing import DahuaDevice, closed_port
from camsdk.testing.conformance import CameraConformance, Hook, HubConformance

from .conftest import FAST


class _Hooks:
    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"dahua://127.0.0.1:{closed_port()}/1"

    @pytest.fixture
    def break_stream(self, device: DahuaDevice) -> Hook:
        async def restart() -> None:
            assert device.rtsp is not None
            await device.rtsp.restart(delay=0.1)

        return restart

    @pytest.fixture
    def trigger_event(self, device: DahuaDevice) -> Hook:
        async def motion() -> None:
            await device.wait_until(lambda d: d.event_streams >= 1)
            device.emit("VideoMotion", "Start", index=0)

        return motion


class TestDahuaConformance(_Hooks, CameraConformance):
    @pytest.fixture
    async def device(self) -> AsyncIterator[DahuaDevice]:
        async with DahuaDevice(kind="ipc", ptz=True, talk=True) as device:
            yield device

    @pytest.fixture
    def camera_url(self, device: DahuaDevice) -> str:
        return device.camera_url(1)

    @pytest.fixture
    def camera_options(self, device: DahuaDevice) -> dict[str, Any]:
        return {"credentials": device.credentials, "config": FAST}

    @pytest.fixture
    def bad_credentials(self, device: DahuaDevice) -> dict[str, Any]:
        return {"credentials": Credentials(device.username, "wrong-" + device.password),
                "config": FAST}


class TestDahuaHubConformance(_Hooks, HubConformance):
    """Channel 1 of an NVR, as `hub.cameras()` hands it out while the hub holds the session."""

    @pytest.fixture
    async def device(self) -> AsyncIterator[DahuaDevice]:
        async with DahuaDevice(kind="nvr", channels=2) as device:
            yield device

    @pytest.fixture
    def hub_url(self, device: DahuaDevice) -> str:
        return device.url

    @pytest.fixture
    def hub_options(self, device: DahuaDevice) -> dict[str, Any]:
        return {"credentials": device.credentials, "config": FAST}

    @pytest.fixture
    def bad_credentials(self, device: DahuaDevice) -> dict[str, Any]:
        return {"credentials": Credentials(device.username, "wrong-" + device.password),
                "config": FAST}
