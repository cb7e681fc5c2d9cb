"""A two-camera analytics loop: frames as numpy arrays, a brightness and a motion measure.

::

    python docs/examples/analytics_loop.py rtsp://192.168.1.20/stream1 \\
        "virtual://yard?scene=still&motion=1s-3s@0,0,0.5,1" --fps 2 --duration 30

Each camera's frames arrive decoded, thinned to ``--fps`` (or keyframes
only, the cheapest: ``--keyframes-only``) and converted to grey by camsdk's
shared decoder; this program turns each into a numpy array and measures

- ``brightness``: the mean luma, 0..255 (a lamp, a dark room, a covered lens);
- ``motion``: the fraction of the picture that changed since the previous
  analysed frame (frame differencing on a 4x smaller picture).

It prints one JSON line per frame and a summary per camera at the end. The
numpy work runs in a worker thread, so a big picture never blocks the event
loop the cameras share. For real motion *events* (zones, background model,
MQTT), use ``cam.motion(...)``: see docs/motion.md. Only public camsdk names
are used; see docs/guides/apps.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

import camsdk

PURPOSE = "brightness and motion analytics"  # what the access policy and the audit log see
#: Luma difference that counts a pixel as changed: well above sensor noise.
CHANGE_THRESHOLD = 25
#: Analyse every 4th pixel of every 4th row: plenty for "did something move".
STEP = 4

Grey = npt.NDArray[np.uint8]
Small = npt.NDArray[np.int16]


@dataclass(frozen=True)
class Measurement:
    """What one analysed frame showed."""

    camera: str
    time: float | None  # presentation time of the frame, seconds
    brightness: float  # mean luma, 0..255
    motion: float | None  # fraction of pixels changed since the previous frame; None at first


@dataclass
class Summary:
    """What a camera showed over the whole run."""

    camera: str
    frames: int = 0
    gaps: int = 0  # reconnects or dropped frames (a Discontinuity marker)
    mean_brightness: float = 0.0
    peak_motion: float = 0.0

    def add(self, m: Measurement) -> None:
        """Fold one measurement in."""
        self.frames += 1
        self.mean_brightness += (m.brightness - self.mean_brightness) / self.frames
        if m.motion is not None:
            self.peak_motion = max(self.peak_motion, m.motion)


def measure(grey: Grey, previous: Small | None) -> tuple[float, float | None, Small]:
    """Brightness of ``grey``, its change from ``previous``, and what to compare the next with."""
    small = grey[::STEP, ::STEP].astype(np.int16)
    brightness = float(grey.mean())
    motion = None
    if previous is not None and previous.shape == small.shape:
        motion = float((np.abs(small - previous) > CHANGE_THRESHOLD).mean())
    return brightness, motion, small


async def analyse(
    cam: camsdk.Camera,
    summary: Summary,
    *,
    fps: float,
    keyframes_only: bool,
    report: Callable[[Measurement], None],
) -> None:
    """Measure every frame ``cam`` delivers, into ``summary``, until cancelled."""
    previous: Small | None = None
    rate = None if keyframes_only else fps
    async with cam.stream(purpose=PURPOSE, audio=False) as stream:
        frames = stream.frames(fps=rate, keyframes_only=keyframes_only, format="gray")
        async with frames:
            async for frame in frames:
                if isinstance(frame, camsdk.Discontinuity):
                    summary.gaps += 1
                    previous = None  # do not compare across a gap
                    continue
                grey: Grey = frame.to_ndarray()
                brightness, motion, previous = await asyncio.to_thread(measure, grey, previous)
                measurement = Measurement(summary.camera, frame.time, brightness, motion)
                summary.add(measurement)
                report(measurement)


def print_json(measurement: Measurement) -> None:
    """Print one measurement as a JSON line."""
    print(json.dumps(asdict(measurement)), flush=True)


async def analyse_all(
    urls: Sequence[str],
    *,
    credentials: camsdk.Credentials | None = None,
    fps: float = 2.0,
    keyframes_only: bool = False,
    duration: float | None = None,
    report: Callable[[Measurement], None] = print_json,
) -> list[Summary]:
    """Analyse every camera in ``urls`` side by side for ``duration`` seconds (None: until
    cancelled); return one summary per camera, in order."""
    async with contextlib.AsyncExitStack() as stack:
        cameras = [
            await stack.enter_async_context(camsdk.open(url, credentials=credentials))
            for url in urls
        ]
        summaries = [Summary(cam.info.name or cam.id) for cam in cameras]
        jobs = [
            asyncio.create_task(
                analyse(cam, summary, fps=fps, keyframes_only=keyframes_only, report=report)
            )
            for cam, summary in zip(cameras, summaries, strict=True)
        ]
        try:
            # Until the time is up, or a camera fails for good.
            await asyncio.wait(jobs, timeout=duration, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for job in jobs:
                job.cancel()
            outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        return summaries


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Brightness and motion of cameras' frames.")
    parser.add_argument("urls", nargs="+", metavar="URL", help="camera URLs (two, or any number)")
    parser.add_argument("--fps", type=float, default=2.0, help="frames analysed per second")
    parser.add_argument(
        "--keyframes-only", action="store_true", help="analyse keyframes only (cheapest)"
    )
    parser.add_argument("--user", help="camera user name (password in $CAMSDK_PASSWORD)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Summary]:
    """Run the loop as the command line asked, then print the summaries."""
    credentials = None
    if args.user:
        credentials = camsdk.Credentials(args.user, os.environ.get("CAMSDK_PASSWORD", ""))
    summaries = await analyse_all(
        args.urls, credentials=credentials, fps=args.fps,
        keyframes_only=args.keyframes_only, duration=args.duration,
    )  # fmt: skip
    for summary in summaries:
        print(json.dumps({"summary": asdict(summary)}), flush=True)
    return summaries


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit code 0, 1 on a camera error."""
    args = parse_args(argv)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass
    except camsdk.CamError as exc:
        print(f"camera error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
