"""The ONVIF driver passes the driver conformance suite against the simulated device."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing._onvif_device import OnvifDevice
from camsdk.testing.conformance import CameraConformance

from ._helpers import PASSWORD, USER


class TestOnvifConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self, onvif_device: OnvifDevice) -> str:
        return onvif_device.url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"credentials": Credentials(USER, PASSWORD)}
