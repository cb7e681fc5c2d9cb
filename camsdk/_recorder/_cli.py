"""``camsdk record URL --continuous DIR``: record until Ctrl-C, then finish the segment.

Prints one line per finished segment (stderr) and a one-line summary
(stdout) when it stops. SIGINT and SIGTERM stop it cleanly (exit 0); a
recorder that fails (disk full, directory removed) exits with its error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from .._errors import ConfigurationError
from ._models import EventClips, Retention

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera
    from ._recorder import Recorder

__all__ = ["add_continuous_options", "record_continuous"]

_GIB = 2**30


def add_continuous_options(parser: argparse.ArgumentParser) -> None:
    """Add the ``--continuous`` options to the ``record`` command."""
    group = parser.add_argument_group("continuous recording (instead of one clip)")
    group.add_argument(
        "--continuous", metavar="DIR",
        help="record continuously into DIR (one subdirectory per camera) until Ctrl-C",
    )
    group.add_argument(
        "--segment", type=float, default=60.0, metavar="SECONDS",
        help="segment length; cut at the first keyframe after it (default: 60)",
    )
    group.add_argument(
        "--keep-days", type=float, default=7.0, metavar="DAYS",
        help="delete footage older than this (default: 7; 0 keeps it)",
    )
    group.add_argument(
        "--max-gb", type=float, default=50.0, metavar="GIB",
        help="delete the oldest footage while the camera's total exceeds this many GiB "
             "(default: 50; 0 for no limit)",
    )
    group.add_argument(
        "--clips", metavar="KINDS",
        help="also write a clip around each event of these kinds, comma-separated "
             "(e.g. person,vehicle)",
    )
    group.add_argument(
        "--before", type=float, default=5.0, metavar="SECONDS",
        help="seconds of each clip before its event starts (default: 5)",
    )
    group.add_argument(
        "--after", type=float, default=10.0, metavar="SECONDS",
        help="seconds of each clip after its event ends (default: 10)",
    )


def _settings(args: argparse.Namespace) -> tuple[Retention, EventClips | None]:
    from pydantic import ValidationError

    if args.keep_days < 0 or args.max_gb < 0:
        raise ConfigurationError("--keep-days and --max-gb must not be negative")
    try:
        retention = Retention(
            max_age=timedelta(days=args.keep_days) if args.keep_days > 0 else None,
            max_bytes=int(args.max_gb * _GIB) if args.max_gb > 0 else None,
        )
        clips = None
        if args.clips:
            kinds = [k.strip().lower() for k in args.clips.split(",") if k.strip()]
            clips = EventClips.model_validate(
                {"kinds": kinds, "before": args.before, "after": args.after}
            )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ConfigurationError(f"invalid {where or 'option'}: {problem['msg']}") from None
    return retention, clips


async def _report_segments(recorder: Recorder) -> None:
    seen = 0
    while True:
        await recorder.wait_for(segments=seen + 1)
        seen = recorder.stats.segments
        if recorder.segments:
            seg = recorder.segments[-1]
            print(f"segment {seg.path} ({seg.duration:.1f} s, {seg.bytes} bytes)",
                  file=sys.stderr, flush=True)


async def record_continuous(
    args: argparse.Namespace, open_camera: Callable[[argparse.Namespace], Camera]
) -> int:
    """Run ``camsdk record --continuous``: record until SIGINT/SIGTERM, print a summary."""
    retention, clips = _settings(args)  # before the camera exists: nothing to close
    camera = open_camera(args)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with camera:
            recorder = camera.recorder(args.continuous, segment=args.segment,
                                       retention=retention, clips=clips)
            async with recorder:
                print(f"recording {camera.url} into {recorder.directory} (Ctrl-C to stop)",
                      file=sys.stderr, flush=True)
                waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(recorder.wait()),
                         asyncio.ensure_future(_report_segments(recorder))]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in waits:
                        task.cancel()
                    # A failed recorder raises from the block's exit, not from here.
                    await asyncio.gather(*waits, return_exceptions=True)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    s = recorder.stats
    print(f"recorded {s.segments} segments ({s.bytes / 1e6:.1f} MB), {s.clips} clips, "
          f"{s.gaps} gaps, {s.deleted} files deleted by retention, into {recorder.directory}",
          flush=True)
    return 0
