"""Helpers for the recorder tests: fast virtual cameras, a wall clock, reading files back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

import camsdk

#: Small and fast: 160x120 at 30 fps, a keyframe every half second.
FAST = "size=160x120&fps=30&gop=15"
#: Upper bound of every wait in these tests.
WAIT = 20.0
#: Reconnect at once after an injected drop.
QUICK_RECONNECT: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05}
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def cam_url(name: str, extra: str = "") -> str:
    return f"virtual://{name}?{FAST}" + (f"&{extra}" if extra else "")


def open_camera(name: str, extra: str = "", **kwargs: Any) -> camsdk.Camera:
    return camsdk.open(cam_url(name, extra), **kwargs)


class WallClock:
    """A wall clock that runs with real time from ``start``; `jump` moves it (NTP, tests)."""

    def __init__(self, start: datetime = T0) -> None:
        self._base = start
        self._mono = time.monotonic()

    def __call__(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._mono)

    def jump(self, delta: timedelta) -> None:
        self._base += delta


@dataclass(frozen=True)
class VideoTrack:
    """What a file's video track holds, read back with PyAV."""

    time_base: Fraction
    first_pts: int
    end_pts: int  # last packet's pts + duration
    packets: int
    first_is_keyframe: bool
    audio_packets: int

    @property
    def seconds(self) -> float:
        return float((self.end_pts - self.first_pts) * self.time_base)


def read_track(path: Path) -> VideoTrack:
    """Demux ``path`` and describe its video (and count its audio)."""
    # Everything is read inside the block: a packet must not outlive its container.
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.time_base is not None
        time_base = Fraction(video.time_base)
        rows = [
            (p.stream.type == "video", p.pts, p.duration, p.is_keyframe)
            for p in container.demux(video, *container.streams.audio)
            if p.size
        ]
    vids = [r for r in rows if r[0]]
    last = max(vids, key=lambda r: r[1])
    return VideoTrack(
        time_base=time_base,
        first_pts=vids[0][1],
        end_pts=last[1] + last[2],
        packets=len(vids),
        first_is_keyframe=vids[0][3],
        audio_packets=len(rows) - len(vids),
    )


def segment_files(directory: Path) -> list[Path]:
    """Segment files under a camera directory (not clips), by name."""
    return sorted(p for p in directory.glob("*/*.mp4") if p.parent.name != "clips")
