"""The built-in virtual camera passes the driver conformance suite, every hook included,
and its privacy-mode section."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk.testing import virtual_device, wait_until
from camsdk.testing.conformance import CameraConformance, Hook, PrivacyModeConformance, Switch

FAST = "size=160x120&fps=30&gop=15"


class TestVirtualConformance(CameraConformance):
    name = "conformance"
    query = FAST

    @pytest.fixture
    def camera_url(self) -> str:
        return f"virtual://{self.name}?{self.query}"

    @pytest.fixture
    def unreachable_url(self) -> str:
        # A virtual camera that never answers is the virtual kind of unreachable.
        return f"virtual://{self.name}-silent?fail=timeout"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return {"fail": "auth"}

    @pytest.fixture
    def break_stream(self) -> Hook:
        async def drop() -> None:
            virtual_device(self.name).inject_fault("drop_after:0")

        return drop

    @pytest.fixture
    def trigger_event(self) -> Hook:
        async def motion() -> None:
            device = virtual_device(self.name)
            await wait_until(lambda: device.listeners > 0)
            device.inject_event("motion", score=0.8)

        return motion


class TestVirtualHevcConformance(TestVirtualConformance):
    name = "conformance-hevc"
    query = f"{FAST}&codec=hevc&ptz=0"


class TestVirtualPrivacyConformance(PrivacyModeConformance):
    """The privacy section is driver-independent: the virtual camera passes it too."""

    @pytest.fixture
    def camera_url(self) -> str:
        return "virtual://privacy-suite-check?fps=10&size=160x120"

    @pytest.fixture
    def switch_on_device(self) -> Switch:
        device = virtual_device("privacy-suite-check")

        async def switch(on: bool) -> None:
            device.privacy_mode = on

        return switch
