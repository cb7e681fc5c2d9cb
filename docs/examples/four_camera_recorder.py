"""A four-camera recorder: continuous recording into one-minute MP4 segments per camera.

::

    python docs/examples/four_camera_recorder.py \\
        rtsp://192.168.1.20/stream1 onvif://192.168.1.21 reolink://192.168.1.22 \\
        "virtual://yard?fps=15" --out recordings --segment 60 --keep 1440

Each camera gets a folder under ``--out`` (named after its id) with files
named by their start time (UTC). Segments are remuxed, never transcoded, so
four cameras cost little CPU. Each segment starts with ``--pre-roll``
seconds from before the call (from the camera's buffer), so consecutive
segments overlap slightly and nothing falls between two files. ``--keep N``
deletes all but the newest N segments of each camera. A camera that fails
is retried with backoff while the others go on; a wrong password or a
refused access stops that camera only. Ctrl-C (or ``--duration``) lets the
segments in progress finish; a second Ctrl-C stops at once. The cameras'
password comes from ``$CAMSDK_PASSWORD`` (user ``--user``). Only public
camsdk names are used; see docs/guides/apps.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import camsdk

PURPOSE = "continuous recording"  # what the access policy and the audit log see

#: Errors that retrying cannot fix: they stop that camera's recording.
FATAL = (camsdk.AuthenticationError, camsdk.AccessDeniedError, camsdk.ConfigurationError)


def folder_name(camera_id: str) -> str:
    """A file-system-safe folder name for a camera id such as ``hikvision:SN123/1``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", camera_id).strip("_") or "camera"


def prune(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` segments of ``folder`` (0 keeps everything)."""
    if keep <= 0:
        return
    segments = sorted(folder.glob("*.mp4"))  # names sort by start time
    for old in segments[:-keep]:
        old.unlink(missing_ok=True)


async def record_segments(
    cam: camsdk.Camera,
    folder: Path,
    stop: asyncio.Event,
    *,
    segment: float,
    pre_roll: float,
    keep: int,
) -> list[Path]:
    """Record back-to-back segments of ``cam`` into ``folder`` until ``stop`` is set."""
    # TODO(recorder): when camsdk's continuous recorder lands (``cam.recorder(...)``,
    # ``camsdk record --continuous``), use it here instead of this loop: it cuts
    # segments at keyframes without the overlap and rides out reconnects itself.
    written: list[Path] = []
    # Holding the stream open keeps the upstream, and the buffer pre-roll comes
    # from, running between two segments.
    async with cam.stream(purpose=PURPOSE):
        lead = 0.0  # the stream just opened: nothing buffered to look back at yet
        while not stop.is_set():
            started = datetime.now(UTC)
            path = folder / f"{started:%Y%m%d-%H%M%S-%f}.mp4"
            clip = await cam.record(path, duration=segment, pre_roll=lead, purpose=PURPOSE)
            lead = pre_roll
            written.append(clip.path)
            print(
                f"{folder.name}: {clip.path.name} {clip.duration:.1f} s "
                f"(pre-roll {clip.pre_roll:.1f} s, {clip.video_packets} video packets)",
                flush=True,
            )
            prune(folder, keep)
    return written


async def record_camera(
    url: str,
    out: Path,
    stop: asyncio.Event,
    *,
    credentials: camsdk.Credentials | None,
    segment: float,
    pre_roll: float,
    keep: int,
) -> list[Path]:
    """Record one camera until ``stop``: reconnect with backoff, give up only on fatal errors."""
    written: list[Path] = []
    failures = 0
    # The pipeline keeps the packets of the last GOP plus `prebuffer` seconds.
    config = camsdk.CameraConfig(prebuffer=pre_roll)
    while not stop.is_set():
        try:
            async with camsdk.open(url, credentials=credentials, config=config) as cam:
                folder = out / folder_name(cam.id)
                folder.mkdir(parents=True, exist_ok=True)
                failures = 0
                written += await record_segments(
                    cam, folder, stop, segment=segment, pre_roll=pre_roll, keep=keep
                )
        except FATAL as exc:
            print(f"{url}: stopped: {exc}", file=sys.stderr, flush=True)
            break
        except camsdk.CamError as exc:  # unreachable, stalled, ended ...: try again
            failures += 1
            delay = min(30.0, 2.0 ** min(failures, 5))
            print(f"{url}: {exc}; retrying in {delay:.0f} s", file=sys.stderr, flush=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()  # sleeps `delay`, or less when stopping
    return written


async def record_all(
    urls: Sequence[str],
    out: Path,
    *,
    credentials: camsdk.Credentials | None = None,
    segment: float = 60.0,
    pre_roll: float = 2.0,
    keep: int = 0,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, list[Path]]:
    """Record every camera in ``urls`` at once; return the segments written per URL.

    Stops when ``stop`` is set or after ``duration`` seconds; the segments in
    progress then finish.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    timer = loop.call_later(duration, stop.set) if duration is not None else None
    try:
        async with asyncio.TaskGroup() as tasks:
            jobs = {
                url: tasks.create_task(
                    record_camera(
                        url, out, stop, credentials=credentials, segment=segment,
                        pre_roll=pre_roll, keep=keep,
                    )
                )
                for url in urls
            }
    finally:
        if timer is not None:
            timer.cancel()
    return {url: job.result() for url, job in jobs.items()}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Record cameras continuously into segments.")
    parser.add_argument("urls", nargs="+", metavar="URL", help="camera URLs (four, or any number)")
    parser.add_argument("--out", type=Path, default=Path("recordings"), help="output folder")
    parser.add_argument("--segment", type=float, default=60.0, help="seconds per file")
    parser.add_argument("--pre-roll", type=float, default=2.0, help="overlap between files")
    parser.add_argument("--keep", type=int, default=0, help="newest files kept per camera")
    parser.add_argument("--user", help="camera user name (password in $CAMSDK_PASSWORD)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, *, signals: bool = False) -> dict[str, list[Path]]:
    """Run the recorder as the command line asked (``signals``: stop on Ctrl-C, SIGTERM)."""
    credentials = None
    if args.user:
        credentials = camsdk.Credentials(args.user, os.environ.get("CAMSDK_PASSWORD", ""))
    stop = asyncio.Event()
    if signals:
        loop = asyncio.get_running_loop()

        def finish() -> None:
            print("finishing the segments in progress (Ctrl-C again to abort)", flush=True)
            stop.set()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)  # the second one interrupts

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, finish)
    return await record_all(
        args.urls, args.out, credentials=credentials, segment=args.segment,
        pre_roll=args.pre_roll, keep=args.keep, duration=args.duration, stop=stop,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit code 0, or 1 when no segment at all was written."""
    args = parse_args(argv)
    try:
        written = asyncio.run(run(args, signals=True))
    except KeyboardInterrupt:
        return 1
    return 0 if any(written.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
