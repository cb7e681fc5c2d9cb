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

from camsdk import Credentials
from camsdk.testing import EncodedLoop, RtspServer, closed_port
from camsdk.testing.conformance import CameraConformance, Hook

from ._helpers import FAST

USER, PASSWORD = "viewer", "rtsp-Conf0rmance"


class TestRtspConformance(CameraConformance):
    """camsdk's RtspServer with Digest auth, H.264 + AAC, and every hook."""

    @pytest.fixture
    async def server(self, aac_loop: EncodedLoop) -> AsyncIterator[RtspServer]:
        async with RtspServer(aac_loop, username=USER, password=PASSWORD) as server:
            yield server

    @pytest.fixture
    def camera_url(self, server: RtspServer) -> str:
        return server.url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"config": FAST, "credentials": Credentials(USER, PASSWORD)}

    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"rtsp://127.0.0.1:{closed_port()}/stream"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return {"config": FAST, "credentials": Credentials(USER, "wrong-" + PASSWORD)}

    @pytest.fixture
    def break_stream(self, server: RtspServer) -> Hook:
        async def restart() -> None:
            await server.restart(delay=0.1)

        return restart


class _Unreachable:
    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"rtsp://127.0.0.1:{closed_port()}/stream"


class TestRtspUdpConformance(_Unreachable, CameraConformance):
    @pytest.fixture
    async def server(self, h264_loop: EncodedLoop) -> AsyncIterator[RtspServer]:
        async with RtspServer(h264_loop, udp=True) as server:
            yield server

    @pytest.fixture
    def camera_url(self, server: RtspServer) -> str:
        return server.url + "?transport=udp"

    @pytest.fixture
    def break_stream(self, server: RtspServer) -> Hook:
        async def restart() -> None:
            await server.restart(delay=0.1)

        return restart

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"config": FAST}


@pytest.mark.external
class TestGstRtspServerTcpConformance(_Unreachable, CameraConformance):
    @pytest.fixture
    def camera_url(self, gst_rtsp_url: str) -> str:
        return gst_rtsp_url

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"config": {**FAST, "open_timeout": 5.0}}


@pytest.mark.external
class TestGstRtspServerUdpConformance(_Unreachable, CameraConformance):
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

    @pytest.fixture
    def unreachable_url(self, tmp_path: Path) -> str:
        return f"file://{tmp_path}/no-such-clip.mp4"
