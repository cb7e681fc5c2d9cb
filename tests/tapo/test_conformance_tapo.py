"""The Tapo driver passes the driver conformance suite, on both login variants."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing import TapoDevice, closed_port
from camsdk.testing.conformance import CameraConformance, Hook

from .conftest import USER, options


class TestTapoConformance(CameraConformance):
    """A camera on current firmware: secure login, AES channel."""

    @pytest.fixture
    def sim(self, camera: TapoDevice) -> TapoDevice:
        return camera

    @pytest.fixture
    def camera_url(self, sim: TapoDevice) -> str:
        return sim.url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return options()

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"tapo://127.0.0.1:{closed_port()}"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return options(credentials=Credentials(USER, "wrong-tapo-password"))

    @pytest.fixture
    def break_stream(self, sim: TapoDevice) -> Hook:
        async def restart() -> None:
            assert sim.rtsp is not None
            await sim.rtsp.restart(delay=0.1)

        return restart

    @pytest.fixture
    def trigger_event(self, sim: TapoDevice) -> Hook:
        async def person() -> None:
            await sim.onvif.wait_until(lambda d: d.subscriptions >= 1)
            sim.detect("person")

        return person


class TestTapoLegacyConformance(TestTapoConformance):
    """The same suite on older firmware: legacy MD5 login, 1.3-style answers."""

    @pytest.fixture
    def sim(self, legacy_camera: TapoDevice) -> TapoDevice:
        return legacy_camera
