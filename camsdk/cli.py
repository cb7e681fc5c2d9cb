"""The ``camsdk`` command: demo, drivers, info, snapshot, record, events, audit, login, bridge.

Errors print one clear line (never a password) and exit non-zero:
2 for bad usage or configuration, 3 for access denied, 1 for anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import camsdk

from ._errors import AccessDeniedError, CamError, ConfigurationError
from ._log import scrub

__all__ = ["main"]

DEMO_URL = "virtual://demo?size=1280x720&fps=15&gop=15&events=motion:2s,person:3s&audio=1"


def _credentials(args: argparse.Namespace) -> camsdk.Credentials | None:
    import os

    user = getattr(args, "user", None)
    if not user:
        return None
    password = os.environ.get(args.password_env, "") if args.password_env else ""
    return camsdk.Credentials(user, password)


def _open(args: argparse.Namespace) -> camsdk.Camera:
    return camsdk.open(args.url, credentials=_credentials(args))


def _progress_bar(label: str) -> Any:
    width = 30
    tty = sys.stderr.isatty()
    last = [-1]
    quarter = [0]

    def show(fraction: float) -> None:
        pct = int(fraction * 100)
        if pct == last[0]:
            return
        last[0] = pct
        filled = int(width * fraction)
        bar = "#" * filled + "-" * (width - filled)
        end = "\r" if tty and fraction < 1 else "\n"
        # Off a terminal (logs, pipes): one line per quarter crossed, and the end.
        crossed = pct // 25 > quarter[0]
        if crossed:
            quarter[0] = pct // 25
        if tty or fraction >= 1 or crossed:
            print(f"{label} [{bar}] {pct:3d}%", end=end, file=sys.stderr, flush=True)

    return show


async def _cmd_drivers(args: argparse.Namespace) -> int:
    if args.egress:
        from ._cli_cloud import print_egress

        return print_egress()
    drivers = camsdk.available_drivers()
    if args.json:
        print(json.dumps({k: v.model_dump(mode="json") for k, v in drivers.items()}, indent=2))
        return 0
    for scheme, info in drivers.items():
        status = "ok" if info.available else f"unavailable ({info.requires or info.error})"
        caps = ",".join(info.capabilities.names())
        print(f"{scheme + '://':<14} {info.display_name or info.target:<28} {status}  [{caps}]")
    return 0


async def _cmd_info(args: argparse.Namespace) -> int:
    async with _open(args) as cam:
        data = cam.info.model_dump(mode="json")
        data["capabilities"] = cam.capabilities.names()
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            for key, value in data.items():
                if value not in ("", [], {}, None):
                    print(f"{key:>14}: {value}")
    return 0


async def _cmd_snapshot(args: argparse.Namespace) -> int:
    async with _open(args) as cam:
        snap = await cam.snapshot(max_age=args.max_age)
    path = snap.save(args.output)
    print(f"saved {snap.width}x{snap.height} snapshot ({snap.source}) to {path}")
    return 0


async def _cmd_record(args: argparse.Namespace) -> int:
    if args.continuous:
        from ._recorder._cli import record_continuous

        return await record_continuous(args, _open)
    target = Path(args.output)
    started = time.time()
    try:
        async with _open(args) as cam:
            rec = await cam.record(
                target, args.duration, pre_roll=args.pre_roll,
                progress=_progress_bar("recording"),
            )
    except (asyncio.CancelledError, CamError):
        # Ctrl-C or a lost camera: the facade finished what it had; say where it is.
        if target.exists() and target.stat().st_mtime >= started:
            print(f"\ncamsdk: interrupted; the partial clip is {target}", file=sys.stderr)
        raise
    print(f"saved {rec.duration:.1f} s clip ({rec.bytes} bytes) to {rec.path}")
    if rec.pre_roll + 1e-3 < rec.pre_roll_requested:
        print(f"note: {rec.pre_roll:.1f} s of the {rec.pre_roll_requested:.1f} s pre-roll "
              "asked for was buffered", file=sys.stderr)
    return 0


async def _cmd_events(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.duration if args.duration else None
    async with _open(args) as cam, cam.events() as events:
        while deadline is None or time.monotonic() < deadline:
            remaining = None if deadline is None else deadline - time.monotonic()
            try:
                async with asyncio.timeout(remaining):
                    event = await anext(events)
            except (TimeoutError, StopAsyncIteration):
                break
            _print_event(event, args.json)
    return 0


def _print_event(event: camsdk.CameraEvent, as_json: bool) -> None:
    if as_json:
        print(event.model_dump_json(), flush=True)
    else:
        state = "start" if event.active else "end"
        score = f" score={event.score:.2f}" if event.score is not None else ""
        print(f"{event.received_at:%H:%M:%S} {event.kind.value:<12} {state:<5}{score} "
              f"{event.zone or ''}", flush=True)


async def _cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"opening {args.url} (built-in simulated camera)")
    async with camsdk.open(args.url, config={"prebuffer": 2.0}) as cam:
        info = cam.info
        profiles = ", ".join(p.name for p in info.profiles)
        can = ", ".join(cam.capabilities.names())
        print(f"connected: {info.vendor} {info.model}, profiles {profiles}; can {can}")
        async with cam.stream() as stream, cam.events() as events:
            si = stream.info
            print(f"stream: {si.codec} {si.width}x{si.height} @ {si.fps or 0:g} fps"
                  + (f", audio {si.audio_codec}" if si.has_audio else ""))
            frames = stream.frames(fps=2, format="rgb24")
            deadline = time.monotonic() + args.seconds
            next_stats = time.monotonic()

            async def watch_events() -> None:
                async for event in events:
                    _print_event(event, False)

            async def watch_frames() -> None:
                async for frame in frames:
                    if isinstance(frame, camsdk.VideoFrame):
                        frame.to_ndarray()  # what an analytics app would do

            tasks = [asyncio.create_task(watch_events()), asyncio.create_task(watch_frames())]
            try:
                while time.monotonic() < deadline:
                    await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
                    if time.monotonic() >= next_stats:
                        next_stats += 1.0
                        s = stream.stats()
                        print(f"stats: {s.state.value} packets={s.packets} "
                              f"keyframes={s.keyframes} fps={s.fps or 0:.1f} "
                              f"bitrate={(s.bitrate or 0) / 1000:.0f} kb/s "
                              f"decoded={s.decoded_frames} dropped={s.dropped}")
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                await frames.aclose()
            snap = await cam.snapshot()
            snap_path = snap.save(out / "snapshot.jpg")
            print(f"snapshot: {snap.width}x{snap.height} from the {snap.source} -> {snap_path}")
            rec = await cam.record(out / "clip.mp4", 2.0, pre_roll=1.0,
                                   progress=_progress_bar("recording"))
            print(f"clip: {rec.duration:.1f} s (+{rec.pre_roll:.1f} s pre-roll), "
                  f"{rec.video_packets} video / {rec.audio_packets} audio packets -> {rec.path}")
    print(f"done; files are in {out.resolve()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``camsdk`` command."""
    parser = argparse.ArgumentParser(prog="camsdk", description="Talk to any camera.")
    parser.add_argument(
        "--verbose", "-v", action="count", default=0,
        help="more log output: -v what connects and subscribes, -vv camsdk debug, "
        "-vvv also third-party libraries (MQTT packets, HTTP)",
    )  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="log errors only")
    sub = parser.add_subparsers(dest="command", required=True)

    def camera_cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("url", help="camera URL, e.g. rtsp://host/stream or virtual://cam")
        p.add_argument("--user", help="user name (the password comes from --password-env)")
        p.add_argument("--password-env", default="CAMSDK_PASSWORD",
                       help="environment variable holding the password")
        return p

    demo = sub.add_parser("demo", help="run on the built-in virtual camera")
    demo.add_argument("--url", default=DEMO_URL, help="camera to run on (default: a virtual one)")
    demo.add_argument("--seconds", type=float, default=5.0,
                      help="how long to watch the stream and events")
    demo.add_argument("--out", default="camsdk-demo", help="directory for the snapshot and clip")
    demo.set_defaults(func=_cmd_demo)

    drivers = sub.add_parser("drivers", help="list installed drivers and what they can do")
    drivers.add_argument("--json", action="store_true", help="print the drivers as JSON")
    drivers.add_argument("--egress", action="store_true",
                         help="print the hosts each driver may contact")
    drivers.set_defaults(func=_cmd_drivers)

    info = camera_cmd("info", "connect and print what the camera says about itself")
    info.add_argument("--json", action="store_true", help="print the camera's info as JSON")
    info.set_defaults(func=_cmd_info)

    snap = camera_cmd("snapshot", "save a JPEG snapshot")
    snap.add_argument("-o", "--output", default="snapshot.jpg", help="JPEG file to write")
    snap.add_argument("--max-age", type=float, default=None,
                      help="reuse a picture at most this many seconds old")
    snap.set_defaults(func=_cmd_snapshot)

    rec = camera_cmd("record", "record a clip, or continuously with --continuous (remux)")
    rec.add_argument("-o", "--output", default="clip.mp4", help="file to write (.mp4, .mkv)")
    rec.add_argument("--duration", type=float, default=10.0, help="seconds to record")
    rec.add_argument("--pre-roll", type=float, default=0.0,
                     help="seconds from before the start (from the stream's buffer)")
    from ._recorder._cli import add_continuous_options

    add_continuous_options(rec)
    rec.set_defaults(func=_cmd_record)

    ev = camera_cmd("events", "print the camera's events as they happen")
    ev.add_argument("--json", action="store_true", help="one JSON object per line")
    ev.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    ev.set_defaults(func=_cmd_events)

    with contextlib.suppress(ImportError):
        from ._cli_audit import add_audit_commands

        add_audit_commands(sub)
    with contextlib.suppress(ImportError):
        from ._cli_cloud import add_cloud_commands

        add_cloud_commands(sub)
    with contextlib.suppress(ImportError):
        from .sinks._bridge import add_bridge_command

        add_bridge_command(sub)
    from ._cli_serve import add_serve_commands

    add_serve_commands(sub)
    with contextlib.suppress(ImportError):
        from ._cli_fleet import add_fleet_commands

        add_fleet_commands(sub)
    return parser


def log_levels(verbose: int, quiet: bool) -> tuple[int, int]:
    """``(camsdk level, root level)`` for ``-v`` counted ``verbose`` times, or ``-q``.

    Warnings by default; ``-v`` INFO and ``-vv`` DEBUG for camsdk's own
    loggers only; ``-vvv`` DEBUG everywhere (the MQTT client's packets, httpx).
    """
    import logging

    if quiet:
        return logging.ERROR, logging.ERROR
    if verbose >= 3:
        return logging.DEBUG, logging.DEBUG
    camsdk_level = (logging.WARNING, logging.INFO, logging.DEBUG)[verbose]
    return camsdk_level, logging.WARNING


def _configure_logging(verbose: int, quiet: bool) -> None:
    import logging

    camsdk_level, root_level = log_levels(verbose, quiet)
    logging.basicConfig(level=root_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("camsdk").setLevel(camsdk_level)
    if verbose >= 3:
        # camsdk.sinks.mqtt quietens the MQTT client's logger below -vvv.
        logging.getLogger("camsdk.sinks.mqtt.client").setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``camsdk`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    try:
        result = args.func(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except KeyboardInterrupt:
        return 130
    except ConfigurationError as exc:
        print(f"camsdk: error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except AccessDeniedError as exc:
        print(f"camsdk: access denied: {scrub(str(exc))}", file=sys.stderr)
        return 3
    except CamError as exc:
        print(f"camsdk: {type(exc).__name__}: {scrub(str(exc))}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
