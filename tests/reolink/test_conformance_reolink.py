"""The Reolink driver, and the cameras its hub hands out, pass the driver conformance suite."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing import ReolinkDevice, closed_port
from camsdk.testing.conformance import CameraConformance, Hook, HubConformance

from .conftest import PASSWORD, USER, options


class _ReolinkHooks:
    """The hooks both suites share, on the simulated device ``sim`` and its ``event`` state."""

    event = "md"

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"reolink://127.0.0.1:{closed_port()}/0"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return options(credentials=Credentials(USER, "wrong-" + PASSWORD))

    @pytest.fixture
    def break_stream(self, sim: ReolinkDevice) -> Hook:
        async def restart() -> None:
            assert sim.rtsp is not None
            await sim.rtsp.restart(delay=0.1)

        return restart

    @pytest.fixture
    def trigger_event(self, sim: ReolinkDevice) -> Hook:
        async def event() -> None:
            sim.set_state(0, self.event, True)

        return event


class TestReolinkConformance(_ReolinkHooks, CameraConformance):
    """A camera; its motion state is the event."""

    @pytest.fixture
    def sim(self, camera: ReolinkDevice) -> ReolinkDevice:
        return camera

    @pytest.fixture
    def camera_url(self, sim: ReolinkDevice) -> str:
        return sim.url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return options()


class TestReolinkHubConformance(_ReolinkHooks, HubConformance):
    """Channel 0 of an NVR, as `hub.cameras()` hands it out while the hub holds the login;
    a visitor (people) is the event."""

    event = "people"

    @pytest.fixture
    def sim(self, nvr: ReolinkDevice) -> ReolinkDevice:
        return nvr

    @pytest.fixture
    def hub_url(self, sim: ReolinkDevice) -> str:
        return sim.url

    @pytest.fixture
    def hub_options(self) -> dict[str, Any]:
        return options()
