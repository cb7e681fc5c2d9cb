"""The built-in virtual camera passes the driver conformance suite."""

import pytest

from camsdk.testing.conformance import CameraConformance


class TestVirtualConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self) -> str:
        return "virtual://conformance?size=160x120&fps=30&gop=15"


class TestVirtualHevcConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self) -> str:
        return "virtual://conformance-hevc?size=160x120&fps=30&gop=15&codec=hevc&ptz=0"
