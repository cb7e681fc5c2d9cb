"""The Tapo driver passes the driver-independent privacy-mode suite, on both login variants."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk.testing import TapoDevice

from .conftest import options
from .privacy_conformance import PrivacyModeConformance, Switch


class TestTapoPrivacyConformance(PrivacyModeConformance):
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


class TestTapoLegacyPrivacyConformance(TestTapoPrivacyConformance):
    @pytest.fixture
    def sim(self, legacy_camera: TapoDevice) -> TapoDevice:
        return legacy_camera


class TestTapoPlaceholderPrivacyConformance(TestTapoPrivacyConformance):
    """A model that keeps streaming a "privacy mode" picture instead of dropping RTSP."""

    @pytest.fixture
    async def sim(self) -> Any:
        from .conftest import device

        async with device(privacy_stream="placeholder") as placeholder:
            yield placeholder


class TestVirtualPrivacyConformance(PrivacyModeConformance):
    """The suite is driver-independent: the built-in virtual camera passes it too."""

    @pytest.fixture
    def camera_url(self) -> str:
        return "virtual://tapo-suite-check?fps=10&size=160x120"

    @pytest.fixture
    def switch_on_device(self) -> Switch:
        from camsdk.drivers.virtual import virtual_device

        device = virtual_device("tapo-suite-check")

        async def switch(on: bool) -> None:
            device.privacy_mode = on

        return switch
