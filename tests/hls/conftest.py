"""Fixtures of the HLS client tests: segment sets made once per session with the ffmpeg CLI."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.network._hls_server import make_segments


def _make(tmp_path_factory: pytest.TempPathFactory, name: str, **kwargs: object) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    return make_segments(tmp_path_factory.mktemp(name), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def ts_av(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MPEG-TS: 4 s of H.264 320x240 30 fps (GOP 0.5 s) and AAC mono, 0.5 s segments."""
    return _make(tmp_path_factory, "ts_av", seconds=4.0, audio=True)


@pytest.fixture(scope="session")
def ts_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MPEG-TS: 2 s of H.264 320x240, video only, 0.5 s segments."""
    return _make(tmp_path_factory, "ts_video", seconds=2.0)


@pytest.fixture(scope="session")
def fmp4_av(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fMP4: 4 s of H.264 and AAC, ``init.mp4`` plus 0.5 s fragments."""
    return _make(tmp_path_factory, "fmp4_av", seconds=4.0, audio=True, fmp4=True)


@pytest.fixture(scope="session")
def fmp4_hevc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fMP4: 2 s of H.265 (``hvc1``), video only."""
    return _make(tmp_path_factory, "fmp4_hevc", seconds=2.0, fmp4=True, codec="hevc")


@pytest.fixture(scope="session")
def fmp4_single_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fMP4 in one file (``-hls_flags single_file``): the init and every segment are byte ranges."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    directory = tmp_path_factory.mktemp("fmp4_single")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "2",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-keyint_min", "15",
         "-sc_threshold", "0", "-bf", "0", "-pix_fmt", "yuv420p",
         "-f", "hls", "-hls_time", "0.5", "-hls_list_size", "0", "-hls_segment_type", "fmp4",
         "-hls_flags", "single_file", "-hls_segment_filename", str(directory / "all.mp4"),
         str(directory / "index.m3u8")],
        check=True, timeout=120,
    )
    return directory / "index.m3u8"
