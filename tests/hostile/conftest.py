"""Shared pieces of the hostile-device tests: short deadlines, real JPEGs, MJPEG bodies.

Every test points `camsdk.open` at an `HttpDevice` on 127.0.0.1 that
misbehaves on purpose, and checks that the public API answers with a typed
camsdk error within the configured deadline (`within`) and in bounded memory
(`memory_peak`, Python allocations traced by tracemalloc), never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

import anyio
import av
import numpy as np
import pytest

from camsdk.testing._http_device import HttpDevice, Request, Route, StreamingResponse

#: Distinct deadlines, so a test shows which one fired (seconds).
FAST: dict[str, Any] = {
    "connect_timeout": 3.0,
    "request_timeout": 1.0,
    "snapshot_timeout": 4.0,
    "open_timeout": 1.5,
    "stall_timeout": 1.0,
    "backoff_base": 0.1,
    "backoff_cap": 0.3,
    "idle_close": 0.0,
}
#: What a deadline may overrun by on a loaded machine (event-loop turns, socket close).
SLACK = 0.75
#: The part and picture limit the MJPEG tests configure (``max_frame_bytes``).
FRAME_LIMIT = 64 * 1024
MULTIPART = "multipart/x-mixed-replace; boundary=frame"
MIB = 1024 * 1024


@cache
def make_jpeg(width: int = 64, height: int = 48, shade: int = 0) -> bytes:
    """A real baseline JPEG from PyAV's mjpeg encoder (cached: encoding is the slow part)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 0] = shade % 256
    pixels[: height // 2, :, 1] = 200
    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    frame.pts = 0
    return b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])


def part(body: bytes, *, length: int | None = -1, kind: str = "image/jpeg") -> bytes:
    """One multipart part with boundary ``frame`` (``length=-1``: the true length)."""
    head = f"--frame\r\nContent-Type: {kind}\r\n"
    if length is not None:
        head += f"Content-Length: {len(body) if length == -1 else length}\r\n"
    return head.encode() + b"\r\n" + body + b"\r\n"


async def camera_pace(interval: float) -> None:
    """The camera's frame interval (its pace, not a synchronisation)."""
    await asyncio.sleep(interval)


async def pictures(
    jpegs: Iterable[bytes] | None = None, *, interval: float = 0.02
) -> AsyncIterator[bytes]:
    """A camera's MJPEG body: one part every ``interval`` s, until the client leaves."""
    for jpeg in itertools.cycle(list(jpegs or [make_jpeg()])):
        yield part(jpeg)
        await camera_pace(interval)


def mjpeg(chunks: AsyncIterator[bytes], content_type: str = MULTIPART) -> StreamingResponse:
    """An MJPEG answer: close-delimited, as cameras send it."""
    return StreamingResponse(200, chunks, content_type=content_type, chunked=False)


Answer = Callable[[], StreamingResponse]


def serve_in_turn(device: HttpDevice, path: str, *answers: Answer) -> Route:
    """Answer the n-th GET of ``path`` with ``answers[n]`` (the last one repeats)."""
    count = itertools.count()

    async def handler(request: Request) -> StreamingResponse:
        return answers[min(next(count), len(answers) - 1)]()

    return device.route("GET", path, handler)


@contextlib.asynccontextmanager
async def within(bound: float) -> AsyncIterator[None]:
    """The block must end (raise or return) within ``bound`` s; it is cut off at bound + 2."""
    started = time.monotonic()
    with anyio.fail_after(bound + 2):
        yield
    elapsed = time.monotonic() - started
    assert elapsed <= bound, f"took {elapsed:.2f} s, the bound is {bound:g} s"


@dataclass
class Peak:
    """Peak traced Python memory above the start of the block, in bytes."""

    bytes: int = 0


@contextlib.contextmanager
def memory_peak() -> Iterator[Peak]:
    """Trace allocations in the block; the result holds the peak above where it started."""
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    peak = Peak()
    try:
        yield peak
    finally:
        peak.bytes = tracemalloc.get_traced_memory()[1] - base
        if started_here:
            tracemalloc.stop()


@pytest.fixture(scope="session", autouse=True)
def imported_pipeline() -> None:
    """Import what camsdk imports lazily, so `memory_peak` measures streams, not modules."""
    import camsdk._pipeline._session
    import camsdk._stream
    import camsdk.drivers.http  # noqa: F401


@pytest.fixture
async def device(camsdk_no_task_leaks: None) -> AsyncIterator[HttpDevice]:
    """A device without authentication (closed before the task-leak check runs)."""
    async with HttpDevice() as dev:
        yield dev
