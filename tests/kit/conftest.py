"""Media for the kit's RTSP tests: one short encoded clip per module."""

from __future__ import annotations

import pytest

from camsdk.testing import generate_source
from camsdk.testing._rtsp_source import EncodedLoop


@pytest.fixture(scope="module")
def clip() -> EncodedLoop:
    """One second of 320x240 H.264 with AAC audio (two tracks)."""
    return generate_source(fps=10, gop=10, seconds=1.0, audio=True)
