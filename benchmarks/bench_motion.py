"""Software motion: CPU per camera on 16 cameras, keyframes only and 2 fps, and detection delay.

    python benchmarks/bench_motion.py [--cameras 16] [--seconds 40] [--quick]

Sixteen ``virtual://`` cameras stream the still scene (sensor noise, no
movement) at 1280x720 15 fps, GOP 2 s; the detector reads the ``sub``
profile (640x360, 15 fps, 250 kb/s). Every 8 s loop a bright square crosses
the left half for 3 s; each camera's square starts at another point of the
GOP (2.000 s, 2.125 s, ... 3.875 s into its loop), so the delays of the
keyframes-only mode spread over a whole GOP as they would for motion that
starts at random.

Printed, per mode (``keyframes_only=True`` and ``fps=2``):

- **CPU per camera**: process CPU time (all threads: the cameras' packet
  sources, the pipeline, the shared decoders, the analysis) / wall time /
  cameras, and the same for the 16 cameras streaming to a bare
  ``packets()`` consumer (what reading the cameras costs without motion),
  and the analysis alone (`MotionStats.cpu_seconds`);
- **detection delay**: from the moment the virtual camera sent the first
  packet showing the square (``VirtualDevice.motion_onsets``) to the MOTION
  start event reaching a ``cam.events()`` subscriber, p50 / p95 / max over
  every crossing, with the crossings missed and the other starts (with no
  square on screen, in the right-hand zone, or a crossing split in two).

Then the analysis of one 640x360 grey frame next to what a user would
otherwise write with OpenCV (``resize(INTER_AREA)``, ``GaussianBlur``,
``accumulateWeighted``, ``absdiff``, ``threshold``, ``dilate``,
``countNonZero`` per zone), on the same frames. Nothing leaves the process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import camsdk
from camsdk import CameraEvent, Discontinuity, EventKind, MotionZone
from camsdk._motion import MotionAnalyzer
from camsdk.drivers.virtual import VirtualDevice, virtual_device

LOOP = 8.0
CROSSING = 3.0
#: A detection more than this after a square appeared is not its detection.
MATCH_WINDOW = 6.0
DRIVE = MotionZone.rectangle(0.0, 0.0, 0.5, 1.0, "drive")
LAWN = MotionZone.rectangle(0.5, 0.0, 1.0, 1.0, "lawn")
MODES: dict[str, dict[str, Any]] = {
    "keyframes only": {"keyframes_only": True},
    "2 fps": {"fps": 2.0},
}


def camera_url(index: int) -> str:
    start = 2.0 + (index % 16) * 0.125
    return (
        f"virtual://bench-motion-{index}?scene=still&size=1280x720&fps=15"
        f"&loop_seconds={LOOP:g}&motion={start:g}s-{start + CROSSING:g}s@0,0,0.5,1"
    )


@dataclass
class Trial:
    """What one mode measured."""

    cpu: float = 0.0
    wall: float = 0.0
    analysis_cpu: float = 0.0
    frames: int = 0
    delays: list[float] = field(default_factory=list)
    missed: int = 0
    false_starts: int = 0


async def collect(cam: camsdk.Camera, into: list[tuple[float, CameraEvent]]) -> None:
    async with cam.events(kinds={EventKind.MOTION}) as events:
        async for event in events:
            into.append((time.monotonic(), event))


async def warm_up(cams: list[camsdk.Camera]) -> None:
    """Open every sub stream once, so encoding the loops is not measured."""
    for cam in cams:
        async with cam.stream("sub"):
            pass


async def baseline(cams: list[camsdk.Camera], seconds: float) -> tuple[float, float]:
    """CPU and wall time of the cameras streaming to bare packet consumers."""

    async def drain(stream: camsdk.MediaStream) -> None:
        async for _ in stream.packets():
            pass

    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(c.stream("sub")) for c in cams]
        tasks = [asyncio.create_task(drain(s)) for s in streams]
        await asyncio.sleep(1.0)  # past the start-up
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return cpu, wall


async def run_mode(
    cams: list[camsdk.Camera], devices: list[VirtualDevice], seconds: float, **kwargs: Any
) -> Trial:
    trial = Trial()
    received: list[list[tuple[float, CameraEvent]]] = [[] for _ in cams]
    collectors = [asyncio.create_task(collect(c, r)) for c, r in zip(cams, received, strict=True)]
    await asyncio.sleep(0.1)
    for device in devices:
        device.motion_onsets.clear()
    async with contextlib.AsyncExitStack() as stack:
        detectors = [
            await stack.enter_async_context(c.motion(zones=[DRIVE, LAWN], hold=1.0, **kwargs))
            for c in cams
        ]
        await asyncio.sleep(1.0)  # past the start-up (stream open, first keyframe)
        cpu0, wall0 = time.process_time(), time.monotonic()
        analysis0 = sum(d.stats.cpu_seconds for d in detectors)
        frames0 = sum(d.stats.frames for d in detectors)
        await asyncio.sleep(seconds)
        trial.cpu = time.process_time() - cpu0
        trial.wall = time.monotonic() - wall0
        trial.analysis_cpu = sum(d.stats.cpu_seconds for d in detectors) - analysis0
        trial.frames = sum(d.stats.frames for d in detectors) - frames0
        last_onset = time.monotonic() - MATCH_WINDOW
    for task in collectors:
        task.cancel()
    await asyncio.gather(*collectors, return_exceptions=True)
    for device, events in zip(devices, received, strict=True):
        onsets = sorted(device.motion_onsets)
        matched: set[float] = set()
        firsts: dict[str, tuple[float, CameraEvent]] = {}
        for arrival, event in events:
            if event.active and event.event_id not in firsts:
                firsts[event.event_id] = (arrival, event)
        for arrival, event in sorted(firsts.values(), key=lambda item: item[0]):
            onset = max((o for o in onsets if o <= arrival), default=None)
            if (
                onset is None
                or arrival - onset > MATCH_WINDOW
                or event.zone != "drive"
                or onset in matched
            ):
                # No square on screen, the wrong zone, or a crossing split in two.
                trial.false_starts += 1
                continue
            matched.add(onset)
            if onset <= last_onset:
                trial.delays.append(arrival - onset)
        trial.missed += sum(1 for o in onsets if o <= last_onset and o not in matched)
    return trial


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def grab_frames(count: int) -> list[np.ndarray[Any, Any]]:
    """``count`` grey 640x360 frames at 5 fps from one camera, the square crossing in some."""
    out: list[np.ndarray[Any, Any]] = []
    async with camsdk.open(camera_url(0)) as cam, cam.stream("sub") as stream:
        async for frame in stream.frames(fps=5.0, format="gray"):
            if not isinstance(frame, Discontinuity):
                out.append(frame.to_ndarray().copy())
            if len(out) == count:
                break
    return out


def analysis_per_frame(frames: list[np.ndarray[Any, Any]], repeat: int) -> tuple[float, float]:
    """Milliseconds per frame: `MotionAnalyzer` and the usual OpenCV recipe, same frames."""
    import cv2

    def ours() -> None:
        analyzer = MotionAnalyzer([DRIVE, LAWN], sensitivity=0.5, min_area=0.01)
        for i, gray in enumerate(frames):
            analyzer.analyse(gray, i * 0.2)

    h, w = frames[0].shape
    size = (160, 160 * h // w)
    masks = []
    for zone in (DRIVE, LAWN):
        mask = np.zeros((size[1], size[0]), np.uint8)
        points = np.array([(x * size[0], y * size[1]) for x, y in zone.polygon], np.int32)
        cv2.fillPoly(mask, [points], 255)
        masks.append(mask)

    def opencv() -> None:
        background = None
        for gray in frames:
            small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
            small = cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)
            if background is None:
                background = small.copy()
                continue
            diff = cv2.convertScaleAbs(cv2.absdiff(small, background))
            cv2.accumulateWeighted(small, background, 0.1)
            _, binary = cv2.threshold(diff, 13, 255, cv2.THRESH_BINARY)
            binary = cv2.dilate(binary, None, iterations=2)
            for mask in masks:
                cv2.countNonZero(cv2.bitwise_and(binary, mask))

    cv2.setNumThreads(1)  # like our one worker thread per detector
    results = []
    for work in (ours, opencv):
        work()  # warm
        best = min(_timed(work) for _ in range(repeat))
        results.append(best / len(frames) * 1000)
    return results[0], results[1]


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


async def main(cameras: int, seconds: float) -> None:
    print(
        f"{cameras} virtual cameras, still scene 1280x720 15 fps GOP 2 s, detector on sub "
        f"640x360; {seconds:g} s per mode"
    )
    devices = [virtual_device(f"bench-motion-{i}") for i in range(cameras)]
    config = {"idle_close": 0.0}
    async with contextlib.AsyncExitStack() as stack:
        cams = [
            await stack.enter_async_context(camsdk.open(camera_url(i), config=config))
            for i in range(cameras)
        ]
        await warm_up(cams)
        base_cpu, base_wall = await baseline(cams, min(seconds, 20.0))
        base = base_cpu / base_wall / cameras * 100
        trials = {name: await run_mode(cams, devices, seconds, **kw) for name, kw in MODES.items()}

    print()
    print(
        "| mode | CPU per camera | of which reading the camera (bare packets()) | "
        "analysis alone | frames analysed / s / camera |"
    )
    print("|---|---|---|---|---|")
    for name, t in trials.items():
        per_camera = t.cpu / t.wall / cameras * 100
        print(
            f"| {name} | {per_camera:.2f} % | {base:.2f} % | "
            f"{t.analysis_cpu / t.wall / cameras * 100:.3f} % | "
            f"{t.frames / t.wall / cameras:.2f} |"
        )
    print()
    print("| mode | detection delay p50 | p95 | max | crossings detected | other starts |")
    print("|---|---|---|---|---|---|")
    for name, t in trials.items():
        if t.delays:
            p50, p95, worst = percentile(t.delays, 50), percentile(t.delays, 95), max(t.delays)
            delays = f"{p50:.2f} s | {p95:.2f} s | {worst:.2f} s"
        else:
            delays = "- | - | -"
        total = len(t.delays) + t.missed
        print(f"| {name} | {delays} | {len(t.delays)} / {total} | {t.false_starts} |")
    if all(t.delays for t in trials.values()):
        print()
        print(
            "mean delay: "
            + ", ".join(f"{name} {statistics.fmean(t.delays):.2f} s" for name, t in trials.items())
        )

    frames = await grab_frames(40)
    try:
        ours, opencv = analysis_per_frame(frames, repeat=5)
    except ImportError:
        print("\n(OpenCV not installed: pip install opencv-python-headless for the comparison)")
        return
    print()
    print("| one 640x360 grey frame, 2 zones, 1 thread | ms |")
    print("|---|---|")
    print(f"| camsdk MotionAnalyzer | {ours:.3f} |")
    print(
        f"| OpenCV recipe (resize, blur, accumulateWeighted, absdiff, threshold, dilate) "
        f"| {opencv:.3f} |"
    )
    print(f"| ratio camsdk / OpenCV | {ours / opencv:.2f}x |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--quick", action="store_true", help="4 cameras, 16 s per mode")
    args = parser.parse_args()
    if args.quick:
        args.cameras, args.seconds = 4, 16.0
    asyncio.run(main(args.cameras, args.seconds))
