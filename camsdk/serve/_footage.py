"""Kept footage: what lets the owner share a window of the past.

For a camera with ``record = true``, a `FootageRecorder` reads the camera's
own packets as the owner (``purpose="footage"``, audited like any egress)
from the shared upstream and writes MP4 segments of about
``segment_seconds``, each starting on a keyframe, named by their first and
last wall-clock times in milliseconds (``<start>_<end>.mp4``). The camera's
audio is kept beside the video when it has some (AAC copied, G.711 as AAC:
`camsdk.serve._mux.carried_audio`). A segment is
held in memory until it is complete and written whole by a worker thread,
so a crash loses at most one segment and the directory never holds half a
file under its final name.

`expire_footage` deletes segments older than the retention; the gateway
writes an audit record for each deletion.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import CamError
from .._log import get_logger
from .._media import Discontinuity, MediaPacket, StreamInfo
from ._mux import CodecFreeMp4, carried_audio

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera

__all__ = ["FootageRecorder", "Segment", "expire_footage", "list_segments"]

log = get_logger("camsdk.serve.footage")
_NAME = re.compile(r"(\d{10,16})_(\d{10,16})\.mp4")


@dataclass(frozen=True, slots=True)
class Segment:
    """One kept file: wall-clock start and end (UTC) and its path."""

    start: datetime
    end: datetime
    path: Path


def list_segments(directory: Path) -> list[Segment]:
    """The segments in ``directory``, oldest first (other files are ignored)."""
    out: list[Segment] = []
    if not directory.is_dir():
        return out
    for path in directory.iterdir():
        match = _NAME.fullmatch(path.name)
        if match is None:
            continue
        start, end = (datetime.fromtimestamp(int(g) / 1000, UTC) for g in match.groups())
        out.append(Segment(start, end, path))
    return sorted(out, key=lambda s: s.start)


def expire_footage(directory: Path, older_than: datetime) -> list[Segment]:
    """Delete the segments that ended before ``older_than``; return them."""
    gone = []
    for segment in list_segments(directory):
        if segment.end < older_than:
            segment.path.unlink(missing_ok=True)
            gone.append(segment)
    return gone


def _wall(pkt: MediaPacket) -> float:
    """A packet's capture time: the camera's clock when known, else when it arrived."""
    if pkt.wallclock is not None:
        return pkt.wallclock
    return time.time() - (time.monotonic() - pkt.received_at)


class FootageRecorder:
    """Keeps a camera's footage as segments (see the module docstring)."""

    def __init__(self, camera: Camera, directory: Path, *, segment_seconds: float,
                 profile: str | None = None) -> None:
        self._camera = camera
        self.directory = directory
        self._segment = segment_seconds
        self._profile = profile
        self._task: asyncio.Task[None] | None = None
        self._packets: list[MediaPacket] = []
        self._last_video: MediaPacket | None = None
        self._first_wall = 0.0
        self._info: StreamInfo | None = None
        self.segments_written = 0
        self.last_error = ""

    def start(self) -> None:
        """Start recording in a background task."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"camsdk-footage-{self.directory.name}"
            )

    @property
    def running(self) -> bool:
        """Whether the recorder task is alive."""
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                async with self._camera.stream(self._profile, audio=True,
                                               purpose="footage") as stream:
                    self._info = stream.info
                    backoff = 1.0
                    self.last_error = ""
                    # Closing the stream closes this iterator (and audits its end).
                    audio = carried_audio(stream.info) is not None
                    async for item in stream.packets(audio=audio, purpose="footage"):
                        await self._take(item)
            except CamError as exc:
                self.last_error = str(exc)
                log.warning("footage of %s paused: %s", self._camera.url, exc)
            await self._flush()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    async def _take(self, item: MediaPacket | Discontinuity) -> None:
        if isinstance(item, Discontinuity):
            await self._flush()  # a gap ends the segment: segments hold continuous media
            return
        if item.kind != "video":
            if self._packets:  # audio joins a segment once its first keyframe is in
                self._packets.append(item)
            return
        if not self._packets:
            if not item.keyframe:
                return
            self._first_wall = _wall(item)
        elif item.keyframe and _wall(item) - self._first_wall >= self._segment:
            await self._flush()
            self._first_wall = _wall(item)
        self._packets.append(item)
        self._last_video = item

    async def _flush(self) -> None:
        packets, self._packets = self._packets, []
        last, self._last_video = self._last_video, None
        if not packets or self._info is None or last is None:
            return
        first = packets[0]
        span = float(((last.pts or 0) - (first.pts or 0)) * first.time_base)
        start_ms = int(self._first_wall * 1000)
        end_ms = start_ms + max(1, int(span * 1000))
        try:
            await asyncio.to_thread(_write_segment, self.directory, start_ms, end_ms,
                                    self._info, packets)
            self.segments_written += 1
        except (OSError, CamError, ValueError) as exc:
            self.last_error = f"segment not written: {exc}"
            log.warning("footage segment of %s not written: %s", self._camera.url, exc)

    async def aclose(self) -> None:
        """Stop recording; the segment in progress is written."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._flush()


def _write_segment(directory: Path, start_ms: int, end_ms: int, info: StreamInfo,
                   packets: list[MediaPacket]) -> None:
    final = directory / f"{start_ms}_{end_ms}.mp4"
    tmp = directory / f".{start_ms}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)  # read back: hvc1 retag
    try:
        with os.fdopen(fd, "w+b") as fh:
            writer = CodecFreeMp4(fh, info.codec, info.extradata, info.width, info.height,
                                  fragmented=False, audio=carried_audio(info))
            for pkt in packets:
                writer.write(pkt)
            writer.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
