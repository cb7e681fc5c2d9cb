"""Fixtures for camsdk's own RTSP client: encoded loops, servers, settings.

Loops are encoded once per session and small (320x240), so each test opens
quickly; gst-rtsp-server instances (the independent server) start once per
session through ``tests/network``'s launcher and are skipped, with the
reason, when GStreamer is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from camsdk.testing import EncodedLoop, generate_source
from tests.network.conftest import GstServer, start_gst_server

FPS = 30
GOP = 15


@pytest.fixture(scope="session")
def h264_loop() -> EncodedLoop:
    return generate_source(fps=FPS, gop=GOP, seconds=1.0)


@pytest.fixture(scope="session")
def h265_loop() -> EncodedLoop:
    return generate_source(fps=FPS, gop=GOP, seconds=1.0, codec="h265")


@pytest.fixture(scope="session")
def aac_loop() -> EncodedLoop:
    return generate_source(fps=FPS, gop=GOP, seconds=1.0, audio=True)


def _gst(*args: str) -> Iterator[GstServer]:
    server = start_gst_server("--size", "320x240", "--fps", str(FPS), "--gop", str(GOP),
                              "--bitrate", "300k", "--seconds", "2", "--warm", *args)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gst_h264() -> Iterator[GstServer]:
    """gst-rtsp-server with H.264 and an AAC track (TCP and UDP offered)."""
    yield from _gst("--audio")


@pytest.fixture(scope="session")
def gst_h265() -> Iterator[GstServer]:
    """gst-rtsp-server with H.265."""
    yield from _gst("--codec", "h265")
