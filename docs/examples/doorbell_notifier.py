"""A doorbell notifier: every press of the button becomes a notification with a picture.

Run it against any camera with doorbell events (Reolink, UniFi, Dahua VTO,
an ONVIF doorbell ...), or the simulated one::

    python docs/examples/doorbell_notifier.py "virtual://door?events=doorbell:10s" \\
        --notify-url https://ntfy.sh/my-door --save-dir presses

For each press it saves the picture of the moment (``--save-dir``) and POSTs
it to ``--notify-url`` as the request body, with ``Title``, ``Message`` and
``Filename`` headers (what ntfy and many webhook receivers take); without a
URL it prints a line instead. ``--also person`` notifies on people too.
The camera's password comes from ``$CAMSDK_PASSWORD`` (user ``--user``),
never from the command line. ``--duration`` stops it after that many seconds
(the default runs until Ctrl-C). Only public camsdk names are used; see
docs/guides/apps.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

import camsdk
from camsdk import CameraEvent, EventKind

PURPOSE = "doorbell notifications"  # what the access policy and the audit log see


@dataclass
class Notifier:
    """Where a press goes: a folder of pictures, an HTTP endpoint, or the terminal."""

    notify_url: str | None = None
    save_dir: Path | None = None
    client: httpx.AsyncClient | None = None
    sent: list[str] = field(default_factory=list)

    async def notify(self, camera_name: str, event: CameraEvent) -> None:
        """Tell someone about ``event``, with its picture when the camera gave one."""
        when = event.started_at.astimezone().strftime("%H:%M:%S")
        what = "Someone rang" if event.kind is EventKind.DOORBELL else f"{event.kind.value} seen"
        message = f"{what} at {camera_name} ({when})"
        snapshot = event.snapshot
        number = len(self.sent) + 1
        filename = f"{event.started_at:%Y%m%d-%H%M%S}-{number:04d}-{event.kind.value}.jpg"
        if snapshot is not None and self.save_dir is not None:
            snapshot.save(self.save_dir / filename)
        if self.notify_url is not None and self.client is not None:
            headers = {"Title": what, "Message": message}
            body = b""
            if snapshot is not None:
                headers |= {"Filename": filename, "Content-Type": "image/jpeg"}
                body = snapshot.jpeg
            response = await self.client.post(self.notify_url, content=body, headers=headers)
            response.raise_for_status()
        else:
            print(message + (f", picture {filename}" if snapshot is not None else ""), flush=True)
        self.sent.append(message)


async def watch(
    url: str,
    notifier: Notifier,
    *,
    credentials: camsdk.Credentials | None = None,
    kinds: frozenset[EventKind] = frozenset({EventKind.DOORBELL}),
    duration: float | None = None,
) -> int:
    """Notify about each new activity of ``kinds`` on the camera at ``url``.

    Returns how many notifications were sent. Runs until ``duration``
    seconds have passed (``None``: until cancelled).
    """
    seen: deque[str] = deque(maxlen=256)  # a press's start and updates share one event_id
    async with camsdk.open(url, credentials=credentials) as cam:
        name = cam.info.name or cam.id
        deadline = asyncio.timeout(duration)
        try:
            async with cam.events(kinds=kinds, with_snapshot=True, purpose=PURPOSE) as events:
                async with deadline:
                    async for event in events:
                        if not event.active or event.event_id in seen:
                            continue  # an end, or an update of a press already notified
                        seen.append(event.event_id)
                        try:
                            await notifier.notify(name, event)
                        except httpx.HTTPError as exc:  # one lost notification is not fatal
                            print(f"notification failed: {exc}", file=sys.stderr, flush=True)
        except TimeoutError:
            if not deadline.expired():
                raise  # the camera's own deadline (a CameraTimeoutError), not --duration
    return len(notifier.sent)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Notify on doorbell presses, with a picture.")
    parser.add_argument("url", help="camera URL, e.g. reolink://192.168.1.20 or virtual://door")
    parser.add_argument("--user", help="camera user name (password in $CAMSDK_PASSWORD)")
    parser.add_argument("--notify-url", help="POST each picture here (e.g. an ntfy topic URL)")
    parser.add_argument("--save-dir", type=Path, help="keep each picture in this folder")
    parser.add_argument(
        "--also", action="append", default=[], choices=[k.value for k in EventKind],
        help="notify on this event kind too (repeatable), e.g. person",
    )  # fmt: skip
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    """Run the notifier as the command line asked."""
    credentials = None
    if args.user:
        credentials = camsdk.Credentials(args.user, os.environ.get("CAMSDK_PASSWORD", ""))
    if args.save_dir is not None:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    kinds = frozenset({EventKind.DOORBELL, *(EventKind(k) for k in args.also)})
    async with httpx.AsyncClient(timeout=10.0) as client:
        notifier = Notifier(notify_url=args.notify_url, save_dir=args.save_dir, client=client)
        return await watch(
            args.url, notifier, credentials=credentials, kinds=kinds, duration=args.duration
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit code 0, 1 on a camera error, 3 when access is denied."""
    args = parse_args(argv)
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass
    except camsdk.AccessDeniedError as exc:
        print(f"access denied: {exc}", file=sys.stderr)
        return 3
    except camsdk.CamError as exc:
        print(f"camera error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
