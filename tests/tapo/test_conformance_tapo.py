"""The Tapo driver passes the driver conformance suite and its privacy-mode section,
on both login variants (and the privacy section on a placeholder-streaming model)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing import TapoDevice, closed_port
from camsdk.testing.conformance import (
    CameraConformance,
    Hook,
    PrivacyModeConformance,
    Switch,
)

from .conftest import USER, device, options


class _TapoCamera:
    """The fixtures every suite needs, for the simulated camera ``sim``."""

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
    def switch_on_device(self, sim: TapoDevice) -> Switch:
        async def switch(on: bool) -> None:
            sim.set_privacy(on)

        return switch


class TestTapoConformance(_TapoCamera, CameraConformance, PrivacyModeConformance):
    """A camera on current firmware: secure login, AES channel."""

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
    """The same suites on older firmware: legacy MD5 login, 1.3-style answers."""

    @pytest.fixture
    def sim(self, legacy_camera: TapoDevice) -> TapoDevice:
        return legacy_camera


class TestTapoPlaceholderPrivacyConformance(_TapoCamera, PrivacyModeConformance):
    """A model that keeps streaming a "privacy mode" picture instead of dropping RTSP."""

    @pytest.fixture
    async def sim(self) -> AsyncIterator[TapoDevice]:
        async with device(privacy_stream="placeholder") as placeholder:
            yield placeholder
