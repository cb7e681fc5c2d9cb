"""A four-camera recorder: continuous recording into one-minute segments, with retention.

::

    python docs/examples/four_camera_recorder.py \\
        rtsp://192.168.1.20/stream1 onvif://192.168.1.21 reolink://192.168.1.22 \\
        "virtual://yard?fps=15" --out footage --segment 60 --keep-days 7 --max-gb 200 \\
        --clips person,vehicle

Each camera records with `camsdk.Camera.recorder`: segments cut at keyframes
with neither gap nor overlap between them, under
``footage/<camera>/<day>/<UTC time>.mp4``, an index of them (and of
interruptions and events) in ``footage/<camera>/index.sqlite3``, a clip
around each event of the ``--clips`` kinds, and retention by age and size.
Segments are remuxed, never transcoded, so four cameras cost little CPU. It
prints a line per finished segment. A camera that fails for good (its
stream ends, it cannot be reached) is reopened with backoff while the
others go on; a wrong password or a refused access stops that camera only.
Ctrl-C (or ``--duration``) finishes the segments in progress, at once; a
second Ctrl-C stops without waiting. The cameras' password comes from
``$CAMSDK_PASSWORD`` (user ``--user``). Only public camsdk names are used;
see docs/guides/apps.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import camsdk
from camsdk import EventKind

PURPOSE = "continuous recording"  # what the access policy and the audit log see

#: Errors that retrying cannot fix: they stop that camera's recording.
FATAL = (camsdk.AuthenticationError, camsdk.AccessDeniedError, camsdk.ConfigurationError)


def report(recorder: camsdk.Recorder, written: list[camsdk.Segment]) -> None:
    """Print the segments ``recorder`` finished since the last call; add them to ``written``."""
    known = {segment.path for segment in written}
    for segment in recorder.segments:
        if segment.path not in known:
            written.append(segment)
            gap = ", after a gap" if segment.after_gap else ""
            print(
                f"{segment.path.parent.parent.name}: {segment.path.name} "
                f"{segment.duration:.1f} s, {segment.bytes / 1e6:.1f} MB{gap}",
                flush=True,
            )


async def record_camera(
    url: str,
    out: Path,
    written: list[camsdk.Segment],
    *,
    credentials: camsdk.Credentials | None,
    segment: float,
    retention: camsdk.Retention | None,
    clips: camsdk.EventClips | None,
) -> None:
    """Record one camera until cancelled, reopening it with backoff when it fails.

    Cancelling finishes the current segment (the recorder does that on its
    way out); fatal errors end this camera's recording.
    """
    failures = 0
    while True:
        try:
            async with camsdk.open(url, credentials=credentials) as cam:
                recorder = cam.recorder(
                    out, segment=segment, retention=retention, clips=clips, purpose=PURPOSE
                )
                try:
                    async with recorder:
                        failures = 0
                        while True:  # a line per segment, until cancelled or the recorder fails
                            await recorder.wait_for(segments=recorder.stats.segments + 1)
                            report(recorder, written)
                finally:
                    report(recorder, written)  # the segment finished on the way out
        except FATAL as exc:
            print(f"{url}: stopped: {exc}", file=sys.stderr, flush=True)
            return
        except camsdk.CamError as exc:  # unreachable, stream ended, disk trouble ...: again
            failures += 1
            delay = min(30.0, 2.0 ** min(failures, 5))
            print(f"{url}: {exc}; retrying in {delay:.0f} s", file=sys.stderr, flush=True)
            await asyncio.sleep(delay)  # a backoff, not synchronisation


async def record_all(
    urls: Sequence[str],
    out: Path,
    *,
    credentials: camsdk.Credentials | None = None,
    segment: float = 60.0,
    retention: camsdk.Retention | None = None,
    clips: camsdk.EventClips | None = None,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, list[camsdk.Segment]]:
    """Record every camera in ``urls`` at once; return the segments written per URL.

    Runs until ``stop`` is set or ``duration`` seconds have passed (or every
    camera stopped for good); the segments in progress are then finished.
    """
    stop = stop or asyncio.Event()
    written: dict[str, list[camsdk.Segment]] = {url: [] for url in urls}
    jobs = [
        asyncio.create_task(
            record_camera(
                url, out, written[url], credentials=credentials, segment=segment,
                retention=retention, clips=clips,
            )
        )
        for url in urls
    ]
    stopping = asyncio.create_task(stop.wait())
    all_stopped = asyncio.create_task(asyncio.wait(jobs))  # every camera stopped for good
    try:
        await asyncio.wait(
            [stopping, all_stopped], timeout=duration, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (stopping, all_stopped, *jobs):
            task.cancel()  # a recorder finishes its current segment when cancelled
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        await asyncio.gather(stopping, all_stopped, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome  # not a camera's trouble (those are handled above): a bug
    return written


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Record cameras continuously into segments.")
    parser.add_argument("urls", nargs="+", metavar="URL", help="camera URLs (four, or any number)")
    parser.add_argument("--out", type=Path, default=Path("footage"), help="output folder")
    parser.add_argument("--segment", type=float, default=60.0, help="seconds per file")
    parser.add_argument("--keep-days", type=float, help="delete footage older than this")
    parser.add_argument("--max-gb", type=float, help="keep each camera's footage under this")
    parser.add_argument(
        "--clips", help="event kinds to write a clip around, e.g. person,vehicle,doorbell"
    )
    parser.add_argument("--user", help="camera user name (password in $CAMSDK_PASSWORD)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser.parse_args(argv)


async def run(
    args: argparse.Namespace, *, signals: bool = False
) -> dict[str, list[camsdk.Segment]]:
    """Run the recorder as the command line asked (``signals``: stop on Ctrl-C, SIGTERM)."""
    credentials = None
    if args.user:
        credentials = camsdk.Credentials(args.user, os.environ.get("CAMSDK_PASSWORD", ""))
    retention = None
    if args.keep_days or args.max_gb:
        retention = camsdk.Retention(
            max_age=timedelta(days=args.keep_days) if args.keep_days else None,
            max_bytes=int(args.max_gb * 1e9) if args.max_gb else None,
        )
    clips = None
    if args.clips:
        clips = camsdk.EventClips(kinds=frozenset(EventKind(k) for k in args.clips.split(",")))
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
        retention=retention, clips=clips, duration=args.duration, stop=stop,
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
