"""Virtual cameras for the end-to-end tests: a still view, and one with scripted motion."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio

import camsdk
from camsdk import CameraEvent, EventStream, MotionZone

#: Small and quick: main 640x360 (the detector reads sub, 320x180), a keyframe a second.
STILL = "scene=still&size=640x360&fps=10&gop=10&loop_seconds=4"
#: The square crosses the left half from 1.5 s to 3.5 s of every 4 s loop.
MOVING = STILL + "&motion=1.5s-3.5s@0,0,0.5,1"
DRIVE = MotionZone.rectangle(0.0, 0.0, 0.5, 1.0, "drive")
LAWN = MotionZone.rectangle(0.5, 0.0, 1.0, 1.0, "lawn")
ZONES = [DRIVE, LAWN]
#: Generous: a whole loop (4 s) plus start-up, many times over.
WAIT = 20.0


def url(name: str, options: str) -> str:
    return f"virtual://{name}?{options}"


async def next_event(events: EventStream, *, active: bool | None = None) -> CameraEvent:
    """The next event (with that ``active`` state, if given), within `WAIT`."""
    with anyio.fail_after(WAIT):
        async for event in events:
            if active is None or event.active is active:
                return event
    raise AssertionError("the event stream ended")


@contextlib.asynccontextmanager
async def collected(events: EventStream) -> AsyncIterator[list[CameraEvent]]:
    """Collect ``events`` in the background into the list yielded, until the block ends."""
    seen: list[CameraEvent] = []

    async def collect() -> None:
        async for event in events:
            seen.append(event)

    async with anyio.create_task_group() as tg:
        tg.start_soon(collect)
        try:
            yield seen
        finally:
            tg.cancel_scope.cancel()


def open_camera(name: str, options: str, **kwargs: object) -> camsdk.Camera:
    # idle_close=0: the upstream closes as soon as the detector leaves.
    return camsdk.open(url(name, options), config={"idle_close": 0.0}, **kwargs)  # type: ignore[arg-type]
