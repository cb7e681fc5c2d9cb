"""Fixtures for the network driver tests: media, camsdk's RtspServer, gst-rtsp-server, HLS.

- Encoded loops for `RtspServer` are made once per session (320x240, 30 fps,
  GOP 15, so opens are quick and the suite stays small).
- ``gst_rtsp_url``: an *independent* RTSP server (GStreamer's
  gst-rtsp-server from the distribution), started once per session with the
  system Python (``/usr/bin/python3 scripts/gst_rtsp_server.py``) on a free
  127.0.0.1 port, and stopped at the end. Skipped, with the reason, only when
  the GStreamer bindings or ffmpeg are not installed.
- ``media_file``: a short MP4 with H.264 and AAC, made with the ffmpeg CLI.
- ``hls_playlist``: 0.5 s MPEG-TS segments for `HlsServer`.

Every wait is bounded; nothing sleeps to synchronise.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from camsdk.testing import EncodedLoop, generate_source

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
GST_SCRIPT = ROOT / "scripts" / "gst_rtsp_server.py"
FPS = 30
GOP = 15


def _gst_available() -> str | None:
    """Why gst-rtsp-server cannot run here, or None when it can."""
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (apt-get install ffmpeg)"
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing"
    check = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
         "from gi.repository import GstRtspServer"],
        capture_output=True, timeout=30,
    )
    if check.returncode != 0:
        return ("gst-rtsp-server bindings are not installed (apt-get install python3-gi "
                "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,bad})")
    return None


@pytest.fixture(scope="session")
def h264_loop() -> EncodedLoop:
    return generate_source(fps=FPS, gop=GOP, seconds=1.0)


@pytest.fixture(scope="session")
def h265_loop() -> EncodedLoop:
    return generate_source(fps=FPS, gop=GOP, seconds=1.0, codec="h265")


@pytest.fixture(scope="session")
def aac_loop() -> EncodedLoop:
    return generate_source(fps=FPS, gop=GOP, seconds=1.0, audio=True)


class GstServer:
    """The running gst-rtsp-server child process."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def start_gst_server(*args: str, ready_timeout: float = 60.0) -> GstServer:
    """Start ``scripts/gst_rtsp_server.py`` and wait (bounded) for its READY line."""
    reason = _gst_available()
    if reason is not None:
        pytest.skip(reason)
    process = subprocess.Popen(
        [SYSTEM_PYTHON, str(GST_SCRIPT), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read, daemon=True, name="gst-rtsp-stdout").start()
    try:
        while True:
            line = lines.get(timeout=ready_timeout)
            if line.startswith("READY "):
                return GstServer(process, line.split(" ", 1)[1].strip())
            if not line:
                raise RuntimeError(f"gst_rtsp_server.py exited with {process.wait(5)}")
    except BaseException:
        GstServer(process, "").stop()
        raise


@pytest.fixture(scope="session")
def gst_rtsp_url() -> Iterator[str]:
    """``rtsp://127.0.0.1:PORT/stream`` served by gst-rtsp-server for the whole session."""
    server = start_gst_server("--size", "320x240", "--fps", str(FPS), "--gop", str(GOP),
                              "--bitrate", "400k", "--seconds", "4", "--warm")
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def media_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s MP4: H.264 320x240 30 fps GOP 15, AAC mono."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", str(GOP),
         "-keyint_min", str(GOP), "-sc_threshold", "0", "-bf", "0", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-ac", "1", "-shortest", str(path)],
        check=True, timeout=60,
    )
    return path


@pytest.fixture(scope="session")
def hls_playlist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.5 s MPEG-TS segments (8 s of 320x240 30 fps H.264) and their VOD playlist."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")
    from ._hls_server import make_segments

    return make_segments(tmp_path_factory.mktemp("hls"))
