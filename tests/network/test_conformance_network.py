"""The network drivers pass the driver conformance suite.

``rtsp://`` against camsdk's RtspServer (TCP and UDP) and against an
independent server, GStreamer's gst-rtsp-server (TCP interleaved and UDP),
and ``file://`` replay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from camsdk.testing import EncodedLoop, RtspServer
from camsdk.testing.conformance import CameraConformance

from ._helpers import FAST


class TestRtspConformance(CameraConformance):
    @pytest.fixture
    async def camera_url(self, aac_loop: EncodedLoop) -> AsyncIterator[str]:
        async with RtspServer(aac_loop) as server:
            yield server.url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"config": FAST}


class TestRtspUdpConformance(CameraConformance):
    @pytest.fixture
    async def camera_url(self, h264_loop: EncodedLoop) -> AsyncIterator[str]:
        async with RtspServer(h264_loop, udp=True) as server:
            yield server.url + "?transport=udp"

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"config": FAST}


@pytest.mark.external
class TestGstRtspServerTcpConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self, gst_rtsp_url: str) -> str:
        return gst_rtsp_url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"config": {**FAST, "open_timeout": 5.0}}


@pytest.mark.external
class TestGstRtspServerUdpConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self, gst_rtsp_url: str) -> str:
        return gst_rtsp_url + "?transport=udp"

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"config": {**FAST, "open_timeout": 5.0}}


class TestFileConformance(CameraConformance):
    @pytest.fixture
    def camera_url(self, media_file: Path) -> str:
        return f"file://{media_file}?loop=1"
