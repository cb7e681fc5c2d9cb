"""MJPEG framing abuse: every broken multipart body is a typed error in bounded memory and time.

Each abuse is checked in two phases: the device is hostile from its first
answer (``connect`` reads the first picture) or only once a stream opens
(``cam.stream().open()``, whose upstream retries until ``open_timeout``).
The parser's limits are ``max_frame_bytes`` (64 KiB here) for a part and
16 KiB for a part's headers, so memory stays far below what the device sends.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from fractions import Fraction

import numpy as np
import pytest

import camsdk
from camsdk import CameraProtocolError, CameraTimeoutError, MediaPacket
from camsdk.testing._http_device import HttpDevice, StreamingResponse

from .conftest import (
    FAST,
    FRAME_LIMIT,
    MIB,
    MULTIPART,
    SLACK,
    camera_pace,
    make_jpeg,
    memory_peak,
    mjpeg,
    part,
    pictures,
    serve_in_turn,
    within,
)

pytestmark = pytest.mark.anyio

# Bytes that can neither start a boundary line nor end one: no '-' and no line feed.
_NOISE = bytes(b for b in range(256) if b not in b"-\n") * 64
#: Traced memory a refused stream may use: a part's limit several times over, far
#: below the megabytes each device sends.
MEMORY_BOUND = 2 * MIB


async def noise() -> AsyncIterator[bytes]:
    """Binary garbage, 16 KiB at a time, until the client leaves."""
    while True:
        yield _NOISE
        await camera_pace(0)


async def huge_declared_part() -> AsyncIterator[bytes]:
    yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 4294967296\r\n\r\n"
    async for chunk in noise():
        yield chunk


async def no_boundary_at_all() -> AsyncIterator[bytes]:
    async for chunk in noise():
        yield chunk


async def boundary_never_comes() -> AsyncIterator[bytes]:
    yield b"--frame\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8"
    async for chunk in noise():
        yield chunk


async def endless_part_headers() -> AsyncIterator[bytes]:
    yield b"--frame\r\n"
    for number in range(1_000_000):  # ends long after the client gave up
        yield f"X-Meta-{number}: {'m' * 50}\r\n".encode()
        await camera_pace(0)


async def megabyte_part_header() -> AsyncIterator[bytes]:
    yield b"--frame\r\nX-Big: "
    for _ in range(16):
        yield b"a" * (64 * 1024)
    yield b"\r\nContent-Type: image/jpeg\r\n\r\n" + make_jpeg() + b"\r\n"
    async for chunk in pictures():
        yield chunk


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A real JPEG larger than ``max_frame_bytes`` (noise does not compress)."""
    import av

    pixels = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 640, 480, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    frame.pts = 0
    jpeg = b"".join(bytes(p) for p in [*encoder.encode(frame), *encoder.encode(None)])
    assert len(jpeg) > 2 * FRAME_LIMIT
    return jpeg


Abuse = Callable[[], AsyncIterator[bytes]]


def refused(
    device: HttpDevice, phase: str, abuse: Abuse, *, content_type: str = MULTIPART
) -> Callable[[], Awaitable[object]]:
    """Serve ``abuse`` from the first answer (``connect``) or from the second (``stream``).

    Returns the attempt: connect, and in the ``stream`` phase open the stream.
    """

    def good() -> StreamingResponse:
        return mjpeg(pictures())

    def bad() -> StreamingResponse:
        return mjpeg(abuse(), content_type)

    if phase == "connect":
        serve_in_turn(device, "/mjpeg", bad)
    else:
        serve_in_turn(device, "/mjpeg", good, bad)
    cam = camsdk.open(f"{device.url}/mjpeg", config=FAST, max_frame_bytes=FRAME_LIMIT)

    async def attempt() -> object:
        async with cam:
            return await cam.stream().open() if phase == "stream" else None

    return attempt


def bound(phase: str) -> float:
    """The deadline of the phase: the connect's GET, or the stream's open."""
    return (FAST["request_timeout"] if phase == "connect" else FAST["open_timeout"]) + SLACK


async def assert_refused_in_bounds(
    device: HttpDevice, phase: str, abuse: Abuse, error: type[Exception], match: str | None = None,
    *, content_type: str = MULTIPART,
) -> None:
    """``abuse`` served in ``phase`` fails with ``error`` within the phase's deadline,
    in bounded memory."""
    attempt = refused(device, phase, abuse, content_type=content_type)
    with memory_peak() as peak:
        async with within(bound(phase)):
            with pytest.raises(error, match=match):
                await attempt()
    assert peak.bytes < MEMORY_BOUND


PHASES = pytest.mark.parametrize("phase", ["connect", "stream"])


@PHASES
async def test_a_part_declaring_4_gib_is_refused_without_reading_it(
    device: HttpDevice, phase: str
) -> None:
    await assert_refused_in_bounds(
        device, phase, huge_declared_part, CameraProtocolError, "4294967296 bytes is larger"
    )


@PHASES
async def test_a_multipart_body_without_any_boundary_is_refused_at_the_part_limit(
    device: HttpDevice, phase: str
) -> None:
    await assert_refused_in_bounds(
        device, phase, no_boundary_at_all, CameraProtocolError, "no multipart boundary",
        content_type="multipart/x-mixed-replace",
    )


@PHASES
async def test_a_boundary_that_never_comes_is_refused_at_the_part_limit(
    device: HttpDevice, phase: str
) -> None:
    await assert_refused_in_bounds(
        device, phase, boundary_never_comes, CameraProtocolError, "larger than the limit"
    )


@PHASES
async def test_endless_part_headers_are_refused_at_the_header_limit(
    device: HttpDevice, phase: str
) -> None:
    await assert_refused_in_bounds(
        device, phase, endless_part_headers, CameraProtocolError, "part headers longer than"
    )


@PHASES
async def test_a_part_header_of_1_mib_is_refused_at_the_header_limit(
    device: HttpDevice, phase: str
) -> None:
    await assert_refused_in_bounds(
        device, phase, megabyte_part_header, CameraProtocolError, "part headers longer than"
    )


async def garbage_parts() -> AsyncIterator[bytes]:
    """Well-framed parts labelled image/jpeg whose bodies are no picture at all."""
    fake_jpeg = b"\xff\xd8" + os.urandom(2000)  # starts like a JPEG, has no frame header
    while True:
        yield part(os.urandom(2000))
        yield part(fake_jpeg)
        await camera_pace(0.005)


@PHASES
async def test_parts_of_binary_garbage_never_become_a_picture(
    device: HttpDevice, phase: str
) -> None:
    await assert_refused_in_bounds(device, phase, garbage_parts, CameraTimeoutError)


async def test_garbage_parts_between_pictures_are_skipped(device: HttpDevice) -> None:
    jpeg = make_jpeg(64, 48, 10)

    async def mixed() -> AsyncIterator[bytes]:
        while True:
            yield part(os.urandom(500)) + part(b"\xff\xd8" + os.urandom(500)) + part(jpeg)
            await camera_pace(0.02)

    serve_in_turn(device, "/mjpeg", lambda: mjpeg(mixed()))
    async with camsdk.open(f"{device.url}/mjpeg", config=FAST) as cam:
        async with cam.stream() as stream:
            received = await take(stream.packets(), 5)
    assert {p.data for p in received} == {jpeg}


async def take(iterator: AsyncIterator[object], count: int) -> list[MediaPacket]:
    """The next ``count`` packets (markers skipped), within a few seconds."""
    packets: list[MediaPacket] = []
    async with asyncio.timeout(5):
        async for item in iterator:
            if isinstance(item, MediaPacket):
                packets.append(item)
                if len(packets) == count:
                    break
    return packets


@pytest.mark.parametrize("sizes", [[1], [1, 2, 3, 5, 7]], ids=["1-byte", "1-7-bytes"])
async def test_boundaries_split_into_tiny_writes_still_give_every_picture(
    device: HttpDevice, sizes: list[int]
) -> None:
    jpegs = [make_jpeg(64, 48, shade) for shade in (10, 90, 170)]
    serve_in_turn(device, "/mjpeg", lambda: mjpeg(pictures(jpegs, interval=0.005)))
    device.split_chunks(sizes)
    async with camsdk.open(f"{device.url}/mjpeg", config=FAST) as cam:
        snapshot = await cam.snapshot(source="device")
        async with cam.stream() as stream:
            received = await take(stream.packets(), 6)
    assert snapshot.jpeg in jpegs
    assert all(p.data in jpegs for p in received)
    assert len({p.data for p in received}) == 3


@PHASES
@pytest.mark.parametrize("declared", [True, False], ids=["with-length", "without-length"])
async def test_a_picture_larger_than_max_frame_bytes_is_refused(
    device: HttpDevice, phase: str, declared: bool, big_jpeg: bytes
) -> None:
    async def oversized() -> AsyncIterator[bytes]:
        while True:
            yield part(big_jpeg, length=-1 if declared else None)
            await camera_pace(0.01)

    await assert_refused_in_bounds(
        device, phase, oversized, CameraProtocolError, "larger than the limit"
    )
