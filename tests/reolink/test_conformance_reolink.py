"""The Reolink driver, and the cameras its hub hands out, pass the driver conformance suite."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing import ReolinkDevice, closed_port
from camsdk.testing.conformance import CameraConformance, Hook, HubConformance

from .conftest import PASSWORD, USER, options


class TestReolinkConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self, camera: ReolinkDevice) -> str:
        return camera.url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return options()

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"reolink://127.0.0.1:{closed_port()}/0"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return options(credentials=Credentials(USER, "wrong-" + PASSWORD))

    @pytest.fixture
    def break_stream(self, camera: ReolinkDevice) -> Hook:
        async def restart() -> None:
            assert camera.rtsp is not None
            await camera.rtsp.restart(delay=0.1)

        return restart

    @pytest.fixture
    def trigger_event(self, camera: ReolinkDevice) -> Hook:
        async def motion() -> None:
            camera.set_state(0, "md", True)

        return motion


class TestReolinkHubConformance(HubConformance):
    """Channel 0 of an NVR, as `hub.cameras()` hands it out while the hub holds the login."""

    @pytest.fixture
    def hub_url(self, nvr: ReolinkDevice) -> str:
        return nvr.url

    @pytest.fixture
    def hub_options(self) -> dict[str, Any]:
        return options()

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"reolink://127.0.0.1:{closed_port()}/0"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return options(credentials=Credentials(USER, "wrong-" + PASSWORD))

    @pytest.fixture
    def break_stream(self, nvr: ReolinkDevice) -> Hook:
        async def restart() -> None:
            assert nvr.rtsp is not None
            await nvr.rtsp.restart(delay=0.1)

        return restart

    @pytest.fixture
    def trigger_event(self, nvr: ReolinkDevice) -> Hook:
        async def visitor() -> None:
            nvr.set_state(0, "people", True)

        return visitor
