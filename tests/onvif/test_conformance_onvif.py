"""The ONVIF driver passes the driver conformance suite against the simulated device."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing import closed_port
from camsdk.testing._onvif_device import OnvifDevice
from camsdk.testing.conformance import CameraConformance, Hook

from ._helpers import PASSWORD, USER

FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "connect_timeout": 5.0}


class TestOnvifConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self, onvif_device: OnvifDevice) -> str:
        return onvif_device.url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"credentials": Credentials(USER, PASSWORD), "config": FAST}

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"onvif://127.0.0.1:{closed_port()}"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return {"credentials": Credentials(USER, "wrong-" + PASSWORD), "config": FAST}

    @pytest.fixture
    def break_stream(self, onvif_device: OnvifDevice) -> Hook:
        async def restart() -> None:
            assert onvif_device.rtsp is not None
            await onvif_device.rtsp.restart(delay=0.1)

        return restart

    @pytest.fixture
    def trigger_event(self, onvif_device: OnvifDevice) -> Hook:
        async def motion() -> None:
            await onvif_device.wait_until(lambda d: d.subscriptions >= 1)
            onvif_device.emit("tns1:RuleEngine/CellMotionDetector/Motion", {"IsMotion": "true"})

        return motion
