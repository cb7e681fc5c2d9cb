"""Specification of the ``http(s)://`` driver: JPEG stills, MJPEG streams and HLS playlists.

Every HTTP exchange is mocked with respx; nothing touches the network. Live
MJPEG streams are async generators behind an `httpx.AsyncByteStream`, cut
into chunks of 1..7 bytes and larger ones so that boundaries and part headers
split at every kind of position; the fake camera paces its frames like a
real one (that wait is the camera's frame interval, never synchronisation).
The pictures are real JPEGs made with PyAV.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import re
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from functools import cache
from itertools import pairwise
from typing import Any

import anyio
import av
import httpx
import numpy as np
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import camsdk
from camsdk import Capability, Credentials, MediaPacket, VideoFrame
from camsdk._errors import (
    AuthenticationError,
    CameraClosedError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    ConfigurationError,
    DeviceError,
    StreamEndedError,
    StreamStalledError,
    UnsupportedCapabilityError,
)
from camsdk._models import CameraConfig
from camsdk._url import CameraURL
from camsdk.driver import (
    MultipartError,
    MultipartParser,
    PartTooLargeError,
    boundary_from_content_type,
    jpeg_size,
)
from camsdk.drivers.http import HttpDriver, HttpOptions
from camsdk.testing import closed_port
from camsdk.testing.conformance import CameraConformance

pytestmark = pytest.mark.anyio

WAIT = 10.0
MULTIPART = "multipart/x-mixed-replace"
SIZES = [(64, 48), (32, 16), (48, 32)]


# -- pictures -----------------------------------------------------------------------------


@cache
def make_jpeg(width: int, height: int, shade: int = 0) -> bytes:
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


@cache
def sample_jpegs() -> tuple[bytes, ...]:
    return tuple(make_jpeg(w, h, i * 40) for i, (w, h) in enumerate(SIZES))


@pytest.fixture(scope="module")
def jpegs() -> tuple[bytes, ...]:
    """Three small real JPEGs of different sizes."""
    return sample_jpegs()


@pytest.fixture(scope="module")
def frames() -> tuple[bytes, ...]:
    """Three small real JPEGs of one size (a stream's pictures)."""
    return tuple(make_jpeg(64, 48, shade) for shade in (10, 90, 170))


def decoded_size(jpeg: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(jpeg), "r") as container:
        frame = next(container.decode(video=0))
    return frame.width, frame.height


# -- multipart bodies ---------------------------------------------------------------------


def multipart(
    parts: Sequence[bytes],
    *,
    boundary: str = "frame",
    dashes: str = "--",
    newline: str = "\r\n",
    content_length: bool | Sequence[int | None] = True,
    preamble: bytes = b"",
    epilogue: bytes | None = b"",
    between: bytes = b"",
    headers: bool = True,
) -> bytes:
    """A multipart body in one of the shapes cameras send."""
    nl = newline.encode()
    out = bytearray(preamble)
    for index, body in enumerate(parts):
        out += f"{dashes}{boundary}".encode() + nl
        if headers:
            out += b"Content-Type: image/jpeg" + nl
            length: int | None
            if isinstance(content_length, bool):
                length = len(body) if content_length else None
            else:
                length = content_length[index]
            if length is not None:
                out += f"Content-Length: {length}".encode() + nl
            out += nl
        out += body + nl + between
    if epilogue is not None:
        out += f"{dashes}{boundary}--".encode() + nl + epilogue
    return bytes(out)


def cut(data: bytes, sizes: Iterable[int]) -> list[bytes]:
    """``data`` in chunks whose sizes cycle through ``sizes``."""
    sizes = list(sizes)
    out, i, k = [], 0, 0
    while i < len(data):
        size = sizes[k % len(sizes)]
        out.append(data[i : i + size])
        i += size
        k += 1
    return out


def parse(chunks: Iterable[bytes], boundary: str | None = "frame", **kw: Any) -> list[bytes]:
    parser = MultipartParser(boundary, **kw)
    out = [p.body for chunk in chunks for p in parser.feed(chunk)]
    return out + [p.body for p in parser.finish()]


SMALL_CHUNKS = (1, 2, 3, 4, 5, 6, 7, 300)


# -- fake HTTP bodies ---------------------------------------------------------------------


class FakeBody(httpx.AsyncByteStream):
    """A streamed response body from an async generator; remembers being closed."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class FakeCamera:
    """A respx side effect serving one camera resource, with optional Basic or Digest auth."""

    def __init__(
        self,
        respond: Callable[[httpx.Request], httpx.Response],
        *,
        user: str | None = None,
        password: str | None = None,
        scheme: str = "basic",
    ) -> None:
        self._respond = respond
        self.user = user
        self.password = password
        self.scheme = scheme
        self.authorizations: list[str | None] = []
        self.bodies: list[FakeBody] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization")
        self.authorizations.append(header)
        if self.user is not None and not self._authorized(request, header):
            challenge = (
                'Digest realm="cam", qop="auth", nonce="n0nce", opaque="0paque", algorithm=MD5'
                if self.scheme == "digest"
                else 'Basic realm="cam"'
            )
            return httpx.Response(
                401, headers={"WWW-Authenticate": challenge}, text="401 Unauthorized"
            )
        response = self._respond(request)
        if isinstance(response.stream, FakeBody):
            self.bodies.append(response.stream)
        return response

    def _authorized(self, request: httpx.Request, header: str | None) -> bool:
        if header is None:
            return False
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return header == f"Basic {token}"
        if not header.startswith("Digest "):
            return False
        fields = {
            m[1]: m[2] if m[2] else m[3]
            for m in re.finditer(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header)
        }

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.user}:cam:{self.password}")
        ha2 = md5(f"{request.method}:{fields.get('uri')}")
        expected = md5(
            f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}"
        )
        return fields.get("username") == self.user and fields.get("response") == expected


def still(
    jpeg: bytes, content_type: str = "image/jpeg"
) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": content_type}, content=jpeg)

    return respond


def live_mjpeg(
    frames: Sequence[bytes],
    *,
    chunks: Sequence[int] = (4096,),
    content_type: str = f"{MULTIPART}; boundary=frame",
    period: float = 0.005,
    stop_after: int | None = None,
    hang_after: int | None = None,
    **shape: Any,
) -> Callable[[httpx.Request], httpx.Response]:
    """A camera that streams ``frames`` round and round, one every ``period`` seconds."""

    def respond(request: httpx.Request) -> httpx.Response:
        async def produce() -> AsyncIterator[bytes]:
            index = 0
            while stop_after is None or index < stop_after:
                if hang_after is not None and index >= hang_after:
                    await anyio.Event().wait()  # the camera goes silent
                body = multipart([frames[index % len(frames)]], epilogue=None, **shape)
                for chunk in cut(body, chunks):
                    yield chunk
                index += 1
                await anyio.sleep(period)  # the camera's frame interval

        return httpx.Response(
            200, headers={"Content-Type": content_type}, stream=FakeBody(produce())
        )

    return respond


def serve(router: respx.MockRouter, url: str, camera: FakeCamera) -> respx.Route:
    parsed = httpx.URL(url)
    return router.route(
        method="GET", scheme=parsed.scheme, host=parsed.host, path=parsed.path
    ).mock(side_effect=camera)


@contextlib.asynccontextmanager
async def driver(url: str, **kw: Any) -> AsyncIterator[HttpDriver]:
    """A connected driver (no facade), closed however the test ends."""
    options = kw.pop("options", None) or HttpOptions(**kw.pop("opts", {}))
    config = kw.pop("config", None) or CameraConfig.model_validate({})
    drv = HttpDriver(url=CameraURL.parse(url), options=options, config=config, **kw)
    try:
        with anyio.fail_after(WAIT):
            await drv.connect()
        yield drv
    finally:
        await drv.close()


async def take(source: Any, count: int) -> list[MediaPacket]:
    out: list[MediaPacket] = []
    with anyio.fail_after(WAIT):
        async for packet in source:
            out.append(packet)
            if len(out) == count:
                break
    return out


# -- JPEG frame header --------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_jpeg_size_reads_the_frame_header(size: tuple[int, int]) -> None:
    assert jpeg_size(make_jpeg(*size)) == size


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xd8", b"not a jpeg", b"\xff\xd8\xff\xda\x00\x02", b"\xff\xd8\xff\xe0\x00\x01"],
)
def test_jpeg_size_is_none_without_a_frame_header(data: bytes) -> None:
    assert jpeg_size(data) is None


def test_jpeg_size_skips_fill_bytes_and_app_segments() -> None:
    jpeg = make_jpeg(64, 48)
    padded = jpeg[:2] + b"\xff\xe1\x00\x06exif" + b"\xff" + jpeg[2:]
    assert jpeg_size(padded) == (64, 48)


def test_jpeg_size_of_a_truncated_header_is_none() -> None:
    jpeg = make_jpeg(64, 48)
    sof = jpeg.index(b"\xff\xc0")
    assert jpeg_size(jpeg[: sof + 6]) is None


# -- the multipart parser -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "boundary"),
    [
        (f"{MULTIPART}; boundary=foo", "foo"),
        (f'{MULTIPART}; boundary="foo"', "foo"),
        (f'{MULTIPART};boundary="--foo"', "--foo"),
        (f"{MULTIPART}; charset=x; BOUNDARY=--foo", "--foo"),
        (f'{MULTIPART}; x="a;b"; boundary=foo', "foo"),
        (MULTIPART, None),
        (f"{MULTIPART}; boundary=", None),
    ],
)
def test_boundary_is_read_from_the_content_type(content_type: str, boundary: str | None) -> None:
    assert boundary_from_content_type(content_type) == boundary


@pytest.mark.parametrize("declared", ["frame", "--frame", "----frame"])
@pytest.mark.parametrize("dashes", ["--", "", "----"])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("content_length", [True, False])
def test_parser_accepts_every_boundary_form(
    jpegs: tuple[bytes, ...], declared: str, dashes: str, newline: str, content_length: bool
) -> None:
    body = multipart(jpegs, dashes=dashes, newline=newline, content_length=content_length)
    assert parse(cut(body, SMALL_CHUNKS), declared) == list(jpegs)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_parser_learns_an_undeclared_boundary(jpegs: tuple[bytes, ...], newline: str) -> None:
    body = multipart(jpegs, newline=newline, preamble=b"hello" + newline.encode())
    parser = MultipartParser(None)
    got = [p.body for chunk in cut(body, SMALL_CHUNKS) for p in parser.feed(chunk)]
    assert got == list(jpegs)
    assert parser.boundary == b"frame"


@pytest.mark.parametrize("content_length", [True, False])
def test_parser_splits_correctly_at_every_byte_position(
    jpegs: tuple[bytes, ...], content_length: bool
) -> None:
    body = multipart(jpegs[:2], content_length=content_length, preamble=b"pre\r\n")
    for at in range(len(body) + 1):
        assert parse([body[:at], body[at:]]) == list(jpegs[:2]), f"split at {at}"


def test_parser_takes_a_byte_at_a_time(jpegs: tuple[bytes, ...]) -> None:
    body = multipart(jpegs, content_length=False, newline="\n")
    assert parse(cut(body, [1])) == list(jpegs)


@pytest.mark.parametrize(
    ("preamble", "epilogue"),
    [(b"", b""), (b"This is a preamble\r\n\r\n", b""), (b"", b"bye\r\n"), (b"x\n", None)],
)
def test_parser_ignores_preamble_and_epilogue(
    jpegs: tuple[bytes, ...], preamble: bytes, epilogue: bytes | None
) -> None:
    body = multipart(jpegs, preamble=preamble, epilogue=epilogue)
    assert parse(cut(body, SMALL_CHUNKS)) == list(jpegs)


@pytest.mark.parametrize(
    "error", [-100, -1, +1, +100], ids=["short100", "short1", "long1", "long100"]
)
def test_parser_resyncs_on_a_wrong_content_length(jpegs: tuple[bytes, ...], error: int) -> None:
    lengths = [len(jpegs[0]), len(jpegs[1]) + error, len(jpegs[2])]
    body = multipart(jpegs, content_length=lengths)
    parser = MultipartParser("frame")
    got = [p.body for chunk in cut(body, SMALL_CHUNKS) for p in parser.feed(chunk)]
    got += [p.body for p in parser.finish()]
    assert got == list(jpegs)
    # One byte too many only takes in the CR before the boundary: padding, not a resync.
    assert parser.resyncs >= (error != 1)


@pytest.mark.parametrize("content_length", [True, False])
def test_parser_skips_garbage_between_parts(jpegs: tuple[bytes, ...], content_length: bool) -> None:
    body = multipart(jpegs, between=b"garbage -- frame\r\n\r\n", content_length=content_length)
    assert parse(cut(body, SMALL_CHUNKS)) == list(jpegs)


def test_parser_accepts_parts_without_headers(jpegs: tuple[bytes, ...]) -> None:
    body = multipart(jpegs, headers=False)
    assert parse(cut(body, SMALL_CHUNKS)) == list(jpegs)


def test_parser_reports_part_headers(jpegs: tuple[bytes, ...]) -> None:
    parser = MultipartParser("frame")
    parts = parser.feed(multipart(jpegs[:1]))
    assert parts[0].content_type == "image/jpeg"
    assert parts[0].headers["content-length"] == str(len(jpegs[0]))


def test_parser_keeps_a_whole_last_picture_without_closing_boundary(
    jpegs: tuple[bytes, ...],
) -> None:
    body = multipart(jpegs, content_length=False, epilogue=None)
    assert parse(cut(body, SMALL_CHUNKS)) == list(jpegs)


def test_parser_drops_a_truncated_last_picture(jpegs: tuple[bytes, ...]) -> None:
    body = multipart(jpegs[:2], content_length=False, epilogue=None)
    assert parse([body[:-20]]) == [jpegs[0]]


def test_parser_refuses_an_oversized_declared_part(jpegs: tuple[bytes, ...]) -> None:
    body = multipart([jpegs[0]], content_length=[10_000_000])
    with pytest.raises(PartTooLargeError):
        parse([body], max_part_bytes=1_000_000)


def test_parser_refuses_an_oversized_part_without_length() -> None:
    parser = MultipartParser("frame", max_part_bytes=4096)
    parser.feed(b"--frame\r\n\r\n\xff\xd8")
    with pytest.raises(PartTooLargeError):
        for _ in range(10):
            parser.feed(b"\x00" * 1024)
    assert parser.buffered < 8192


def test_parser_refuses_endless_garbage_without_boundary() -> None:
    parser = MultipartParser("frame", max_part_bytes=4096)
    with pytest.raises(PartTooLargeError):
        for _ in range(10):
            parser.feed(b"no boundary here\r\n" * 64)
    assert parser.buffered < 8192


def test_parser_refuses_endless_headers() -> None:
    parser = MultipartParser("frame", max_header_bytes=1024)
    parser.feed(b"--frame\r\n")
    with pytest.raises(MultipartError):
        for _ in range(10):
            parser.feed(b"X-Pad: " + b"a" * 200 + b"\r\n")


def test_parser_memory_stays_bounded_over_a_long_stream(jpegs: tuple[bytes, ...]) -> None:
    parser = MultipartParser("frame")
    body = multipart(jpegs, content_length=False, epilogue=None)
    peak = count = 0
    for _ in range(200):
        for chunk in cut(body, [97]):
            count += len(parser.feed(chunk))
            peak = max(peak, parser.buffered)
    assert count == 600 - 1  # the last part waits for the next boundary
    assert peak < 2 * max(len(j) for j in jpegs) + 256


class _CountingBuffer(bytearray):
    """A parser buffer that counts the bytes its searches look at."""

    scanned = 0

    def find(self, sub: Any, start: Any = None, *args: Any) -> int:
        type(self).scanned += len(self) - (start or 0)
        return super().find(sub, start, *args)


@pytest.mark.parametrize("content_length", [True, False])
def test_parser_work_is_linear_in_the_input(content_length: bool) -> None:
    big = b"\xff\xd8" + bytes(range(256)).replace(b"\xff", b"") * 2000 + b"\xff\xd9"
    body = multipart([big, big], content_length=content_length)
    parser = MultipartParser("frame")
    _CountingBuffer.scanned = 0
    parser._buf = _CountingBuffer()
    parts = [p.body for chunk in cut(body, [64]) for p in parser.feed(chunk)]
    assert parts == [big, big]
    assert _CountingBuffer.scanned < 4 * len(body)


@st.composite
def chunked_multipart(draw: st.DrawFn) -> tuple[list[bytes], str, list[bytes]]:
    pictures = sample_jpegs()
    parts = draw(st.lists(st.sampled_from(pictures), min_size=1, max_size=4))
    declared = draw(st.sampled_from(["frame", "--frame"]))
    body = multipart(
        parts,
        dashes=draw(st.sampled_from(["--", "", "----"])),
        newline=draw(st.sampled_from(["\r\n", "\n"])),
        content_length=draw(st.booleans()),
        preamble=draw(st.sampled_from([b"", b"preamble\r\n", b"\r\n"])),
        epilogue=draw(st.sampled_from([b"", b"bye", None])),
    )
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=40)))
    chunks = [body[a:b] for a, b in pairwise([0, *cuts, len(body)])]
    return parts, declared, chunks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunked_multipart())
def test_any_chunking_of_a_valid_body_yields_exactly_the_pictures(
    case: tuple[list[bytes], str, list[bytes]],
) -> None:
    parts, declared, chunks = case
    assert parse(chunks, declared) == parts


# -- what the URL serves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type", "kind", "caps"),
    [
        ("/snap.jpg", "image/jpeg", "still", Capability.SNAPSHOT),
        ("/snap", "image/jpeg; charset=binary", "still", Capability.SNAPSHOT),
        (
            "/stream",
            f"{MULTIPART}; boundary=frame",
            "mjpeg",
            Capability.SNAPSHOT | Capability.STREAM,
        ),
        ("/live/index.m3u8", "text/plain", "hls", Capability.SNAPSHOT | Capability.STREAM),
        ("/live", "application/vnd.apple.mpegurl", "hls", Capability.SNAPSHOT | Capability.STREAM),
        ("/live", "application/x-mpegURL", "hls", Capability.SNAPSHOT | Capability.STREAM),
    ],
)
async def test_content_type_decides_what_the_camera_can_do(
    router: respx.MockRouter,
    jpegs: tuple[bytes, ...],
    path: str,
    content_type: str,
    kind: str,
    caps: Capability,
) -> None:
    if kind == "still":
        respond = still(jpegs[0], content_type)
    elif kind == "mjpeg":
        respond = live_mjpeg(jpegs, content_type=content_type)
    else:

        def respond(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200,
                headers={"Content-Type": content_type},
                content=b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n",
            )

    camera = FakeCamera(respond)
    serve(router, f"http://cam.test{path}", camera)
    async with driver(f"http://cam.test{path}") as drv:
        assert drv.kind == kind
        assert drv.capabilities == caps
    assert len(camera.authorizations) == 1, "connect makes exactly one request"
    assert all(body.closed for body in camera.bodies)


@pytest.mark.parametrize(
    ("content_type", "body", "kind"),
    [
        ("application/octet-stream", "jpeg", "still"),
        ("", "jpeg", "still"),
        ("text/plain", "multipart", "mjpeg"),
        ("application/octet-stream", "playlist", "hls"),
    ],
)
async def test_a_vague_content_type_is_decided_by_the_body(
    router: respx.MockRouter, jpegs: tuple[bytes, ...], content_type: str, body: str, kind: str
) -> None:
    data = {
        "jpeg": jpegs[0],
        "multipart": multipart(jpegs),
        "playlist": b"#EXTM3U\n",
    }[body]
    headers = {"Content-Type": content_type} if content_type else {}
    router.get("http://cam.test/x").mock(
        return_value=httpx.Response(200, headers=headers, content=data)
    )
    async with driver("http://cam.test/x") as drv:
        assert drv.kind == kind


async def test_an_unknown_content_type_is_a_protocol_error(router: respx.MockRouter) -> None:
    router.get("http://cam.test/").mock(
        return_value=httpx.Response(200, headers={"Content-Type": "text/html"}, text="<html>")
    )
    with pytest.raises(CameraProtocolError, match="mode="):
        async with driver("http://cam.test/"):
            pass


async def test_mode_overrides_a_wrong_content_type(
    router: respx.MockRouter, frames: tuple[bytes, ...]
) -> None:
    serve(
        router, "http://cam.test/stream", FakeCamera(live_mjpeg(frames, content_type="text/html"))
    )
    async with driver("http://cam.test/stream", opts={"mode": "mjpeg"}) as drv:
        assert drv.kind == "mjpeg"
        source = await drv.open_stream("main")
        try:
            packets = await take(source, 3)
        finally:
            await source.aclose()
    assert [p.data for p in packets] == list(frames)


async def test_mode_still_on_an_mjpeg_url_offers_snapshots_only(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    serve(router, "http://cam.test/stream", FakeCamera(live_mjpeg(jpegs)))
    async with driver("http://cam.test/stream", opts={"mode": "still"}) as drv:
        assert drv.capabilities == Capability.SNAPSHOT
        snap = await drv.snapshot("main")
        assert snap.jpeg == jpegs[0]
        with pytest.raises(UnsupportedCapabilityError):
            await drv.open_stream("main")


async def test_a_playlist_that_is_not_one_is_a_protocol_error(router: respx.MockRouter) -> None:
    router.get("http://cam.test/live.m3u8").mock(return_value=httpx.Response(200, text="<html>"))
    with pytest.raises(CameraProtocolError, match="EXTM3U"):
        async with driver("http://cam.test/live.m3u8"):
            pass


def test_options_parse_query_text() -> None:
    opts = HttpOptions.model_validate(
        {"mode": "MJPEG", "max_frame_bytes": "512k", "snapshot_url": "/capture"}
    )
    assert (opts.mode, opts.max_frame_bytes, opts.snapshot_url) == ("mjpeg", 512 * 1024, "/capture")
    assert HttpOptions.model_validate({"max_frame_bytes": "8MiB"}).max_frame_bytes == 8 << 20


@pytest.mark.parametrize(
    "query", ["mode=rtsp", "max_frame_bytes=10", "max_frame_bytes=lots", "snapshot_url=ftp://x/y"]
)
def test_bad_options_are_configuration_errors(query: str) -> None:
    with pytest.raises(ConfigurationError):
        camsdk.open(f"http://cam.test/stream?{query}")


async def test_open_does_no_io_and_keeps_the_device_query(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    route = router.get("http://cam.test/", params={"action": "stream"}).mock(
        side_effect=FakeCamera(live_mjpeg(jpegs))
    )
    cam = camsdk.open("http://cam.test/?action=stream&mode=mjpeg&max_frame_bytes=1M")
    assert route.call_count == 0
    async with cam:
        assert cam.info.extra["mode"] == "mjpeg"
    request = route.calls.last.request
    assert request.url.params == httpx.QueryParams({"action": "stream"})


# -- snapshots ----------------------------------------------------------------------------


async def test_snapshot_from_a_still_url(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    camera = FakeCamera(still(jpegs[1]))
    serve(router, "http://cam.test/snap.jpg", camera)
    async with camsdk.open("http://cam.test/snap.jpg") as cam:
        with anyio.fail_after(WAIT):
            snap = await cam.snapshot()
        with pytest.raises(UnsupportedCapabilityError):
            cam.stream()
    assert snap.jpeg == jpegs[1]
    assert (snap.width, snap.height) == decoded_size(snap.jpeg) == SIZES[1]
    assert snap.source == "device"
    assert len(camera.authorizations) == 2  # connect, then the snapshot's own GET


async def test_snapshot_from_an_mjpeg_url_takes_one_part_of_a_fresh_request(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    camera = FakeCamera(live_mjpeg(jpegs[1:], chunks=SMALL_CHUNKS))
    serve(router, "http://cam.test/stream", camera)
    async with camsdk.open("http://cam.test/stream") as cam:
        with anyio.fail_after(WAIT):
            snap = await cam.snapshot()
    assert snap.jpeg == jpegs[1]
    assert (snap.width, snap.height, snap.source) == (*SIZES[1], "device")
    assert len(camera.bodies) == 2
    assert all(body.closed for body in camera.bodies)


async def test_snapshot_url_is_used_for_stills(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    stream = FakeCamera(live_mjpeg(jpegs), user="admin", password="pw")
    capture = FakeCamera(still(jpegs[2]), user="admin", password="pw")
    serve(router, "http://cam.test:81/stream", stream)
    serve(router, "http://cam.test/capture", capture)
    async with driver(
        "http://admin:pw@cam.test:81/stream", opts={"snapshot_url": "http://cam.test/capture"}
    ) as drv:
        snap = await drv.snapshot("main")
    assert snap.jpeg == jpegs[2]
    assert capture.authorizations[-1] is not None  # same host: the camera's credentials


async def test_snapshot_url_on_another_host_gets_no_camera_credentials(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    capture = FakeCamera(still(jpegs[2]))
    serve(router, "http://cam.test/snap.jpg", FakeCamera(still(jpegs[0]), user="u", password="p"))
    serve(router, "http://other.test/snap.jpg", capture)
    async with driver(
        "http://u:p@cam.test/snap.jpg", opts={"snapshot_url": "http://other.test/snap.jpg"}
    ) as drv:
        await drv.snapshot("main")
    assert capture.authorizations == [None]


async def test_an_hls_snapshot_without_snapshot_url_comes_from_the_stream(
    router: respx.MockRouter,
) -> None:
    router.get("http://cam.test/live.m3u8").mock(return_value=httpx.Response(200, text="#EXTM3U"))
    async with driver("http://cam.test/live.m3u8") as drv:
        with pytest.raises(UnsupportedCapabilityError, match="snapshot_url"):
            await drv.snapshot("main")


async def test_a_still_that_is_not_a_jpeg_is_a_protocol_error(router: respx.MockRouter) -> None:
    router.get("http://cam.test/snap.jpg").mock(
        side_effect=[
            httpx.Response(200, headers={"Content-Type": "image/jpeg"}, content=make_jpeg(32, 16)),
            httpx.Response(200, headers={"Content-Type": "image/jpeg"}, content=b"<html>oops"),
        ]
    )
    async with driver("http://cam.test/snap.jpg") as drv:
        with pytest.raises(CameraProtocolError, match="not a JPEG"):
            await drv.snapshot("main")


# -- streams ------------------------------------------------------------------------------


async def test_frames_via_the_facade_decode_to_the_right_size(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    serve(router, "http://cam.test/stream", FakeCamera(live_mjpeg([jpegs[0]])))
    frames: list[VideoFrame] = []
    with anyio.fail_after(WAIT):
        async with camsdk.open("http://cam.test/stream") as cam, cam.stream() as s:
            assert (s.info.codec, s.info.width, s.info.height) == ("mjpeg", *SIZES[0])
            async for f in s.frames(format="rgb24"):
                if isinstance(f, VideoFrame):
                    frames.append(f)
                if len(frames) == 3:
                    break
    assert all(f.to_ndarray().shape == (48, 64, 3) for f in frames)


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"content_length": False},
        {"newline": "\n", "dashes": ""},
        {"content_type": f'{MULTIPART}; boundary="--frame"'},
        {"content_type": MULTIPART},
    ],
    ids=["crlf-length", "no-length", "lf-nodash", "quoted-dashes", "undeclared"],
)
async def test_stream_yields_each_jpeg_as_a_keyframe_with_rising_timestamps(
    router: respx.MockRouter, frames: tuple[bytes, ...], shape: dict[str, Any]
) -> None:
    serve(
        router,
        "http://cam.test/stream",
        FakeCamera(live_mjpeg(frames, chunks=SMALL_CHUNKS, **shape)),
    )
    async with driver("http://cam.test/stream") as drv:
        source = await drv.open_stream("main")
        try:
            assert (source.info.width, source.info.height) == (64, 48)
            assert source.info.time_base == Fraction(1, 90000)
            packets = await take(source, 6)
        finally:
            await source.aclose()
    assert [p.data for p in packets] == [*frames, *frames]
    assert all(p.keyframe and p.kind == "video" and p.pts == p.dts for p in packets)
    assert all(b.dts > a.dts for a, b in pairwise(packets))  # type: ignore[operator]


async def test_stream_skips_parts_that_are_not_jpeg(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    serve(
        router,
        "http://cam.test/stream",
        FakeCamera(live_mjpeg([b"status: ok", jpegs[0]], content_length=False)),
    )
    async with driver("http://cam.test/stream") as drv:
        source = await drv.open_stream("main")
        try:
            packets = await take(source, 2)
        finally:
            await source.aclose()
    assert [p.data for p in packets] == [jpegs[0], jpegs[0]]


async def test_a_silent_stream_raises_stalled(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    camera = FakeCamera(live_mjpeg(jpegs, hang_after=1))
    serve(router, "http://cam.test/stream", camera)
    config = CameraConfig.model_validate({"stall_timeout": 0.2})
    async with driver("http://cam.test/stream", config=config) as drv:
        source = await drv.open_stream("main")
        try:
            with anyio.fail_after(WAIT):
                iterator = source.__aiter__()
                await iterator.__anext__()
                with pytest.raises(StreamStalledError):
                    await iterator.__anext__()
        finally:
            await source.aclose()
    assert all(body.closed for body in camera.bodies)


async def test_the_end_of_the_body_ends_the_stream(
    router: respx.MockRouter, frames: tuple[bytes, ...]
) -> None:
    serve(router, "http://cam.test/stream", FakeCamera(live_mjpeg(frames, stop_after=2)))
    async with driver("http://cam.test/stream") as drv:
        source = await drv.open_stream("main")
        try:
            iterator = source.__aiter__()
            with anyio.fail_after(WAIT):
                await iterator.__anext__()
                await iterator.__anext__()
                with pytest.raises(StreamEndedError):
                    await iterator.__anext__()
        finally:
            await source.aclose()


async def test_a_new_picture_size_ends_the_stream_for_a_reopen(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    serve(router, "http://cam.test/stream", FakeCamera(live_mjpeg([jpegs[0], jpegs[1]])))
    async with driver("http://cam.test/stream") as drv:
        source = await drv.open_stream("main")
        try:
            iterator = source.__aiter__()
            with anyio.fail_after(WAIT):
                await iterator.__anext__()
                with pytest.raises(StreamEndedError, match="size changed"):
                    await iterator.__anext__()
        finally:
            await source.aclose()


async def test_an_oversized_part_is_a_protocol_error(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    big = b"\xff\xd8" + b"\x00" * 5000 + b"\xff\xd9"
    serve(
        router,
        "http://cam.test/stream",
        FakeCamera(live_mjpeg([jpegs[0], big], content_length=False)),
    )
    async with driver("http://cam.test/stream", opts={"max_frame_bytes": 4096}) as drv:
        source = await drv.open_stream("main")
        try:
            iterator = source.__aiter__()
            with anyio.fail_after(WAIT):
                await iterator.__anext__()
                with pytest.raises(CameraProtocolError, match="limit"):
                    await iterator.__anext__()
        finally:
            await source.aclose()


@pytest.mark.parametrize("declared", [True, False])
async def test_an_oversized_still_is_a_protocol_error(
    router: respx.MockRouter, declared: bool
) -> None:
    big = b"\xff\xd8" + b"\x00" * 5000 + b"\xff\xd9"

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in cut(big, [1000]):
            yield chunk

    headers = {"Content-Type": "image/jpeg"}
    if declared:
        headers["Content-Length"] = str(len(big))
    router.get("http://cam.test/snap.jpg").mock(
        return_value=httpx.Response(200, headers=headers, stream=FakeBody(chunks()))
    )
    with pytest.raises(CameraProtocolError, match=r"cap|limit"):
        async with driver("http://cam.test/snap.jpg", opts={"max_frame_bytes": 4096}):
            pass


async def test_closing_the_driver_closes_open_streams(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    camera = FakeCamera(live_mjpeg(jpegs))
    serve(router, "http://cam.test/stream", camera)
    async with driver("http://cam.test/stream") as drv:
        source = await drv.open_stream("main")
        await take(source, 1)
    assert all(body.closed for body in camera.bodies)
    with anyio.fail_after(WAIT):
        assert [p async for p in source] == []
    with pytest.raises(CameraClosedError):
        await drv.open_stream("main")


async def test_a_cancelled_read_still_closes_the_response(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    camera = FakeCamera(live_mjpeg(jpegs, hang_after=1))
    serve(router, "http://cam.test/stream", camera)
    async with driver("http://cam.test/stream") as drv:
        source = await drv.open_stream("main")
        iterator = source.__aiter__()
        await iterator.__anext__()
        with anyio.move_on_after(0.05):  # cancels the read blocked in the silent camera
            await iterator.__anext__()
        await source.aclose()
        assert camera.bodies[-1].closed


async def test_unknown_profile_is_a_configuration_error(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    serve(router, "http://cam.test/stream", FakeCamera(live_mjpeg(jpegs)))
    async with driver("http://cam.test/stream") as drv:
        with pytest.raises(ConfigurationError, match="profile"):
            await drv.open_stream("sub")


# -- HLS ----------------------------------------------------------------------------------


async def test_hls_stream_source_keeps_the_credentials_beside_the_url(
    router: respx.MockRouter,
) -> None:
    password = "p@ss:w/rd%"
    serve(
        router,
        "https://cam.test/live/index.m3u8",
        FakeCamera(
            lambda r: httpx.Response(200, text="#EXTM3U\n"), user="ad min", password=password
        ),
    )
    async with driver(
        "https://cam.test/live/index.m3u8?token=abc",
        credentials=Credentials("ad min", password),
    ) as drv:
        source = await drv.stream_source("main")
    assert source.url == "https://cam.test/live/index.m3u8?token=abc"
    assert source.format == "hls"
    assert source.credentials == Credentials("ad min", password)
    assert password not in repr(source) and "p%40ss" not in repr(source)


@pytest.fixture(scope="module")
def ts_segment() -> bytes:
    """A short H.264 MPEG-TS segment, an HLS stream's media."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), "rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


async def test_hls_frames_come_through_camsdks_own_hls_client(
    router: respx.MockRouter, ts_segment: bytes
) -> None:
    # Playlist and segment are fetched by camsdk (httpx, so respx serves them);
    # FFmpeg only demuxes the bytes.
    playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-PLAYLIST-TYPE:VOD\n"
    playlist += "#EXTINF:1.0,\nseg0.ts\n#EXT-X-ENDLIST\n"
    router.get("http://cam.test/live.m3u8").mock(
        return_value=httpx.Response(200, text=playlist,
                                    headers={"content-type": "application/vnd.apple.mpegurl"})
    )
    segment = router.get("http://cam.test/seg0.ts").mock(
        return_value=httpx.Response(200, content=ts_segment)
    )
    with anyio.fail_after(WAIT):
        async with camsdk.open("http://cam.test/live.m3u8") as cam:
            assert cam.info.extra["mode"] == "hls"
            async with cam.stream() as s, s.frames(format="rgb24") as frames:
                async for frame in frames:
                    if isinstance(frame, VideoFrame):
                        assert frame.to_ndarray().shape == (48, 64, 3)
                        break
    assert segment.called


async def test_mjpeg_has_no_stream_url(router: respx.MockRouter, jpegs: tuple[bytes, ...]) -> None:
    serve(router, "http://cam.test/stream", FakeCamera(live_mjpeg(jpegs)))
    async with driver("http://cam.test/stream") as drv:
        with pytest.raises(UnsupportedCapabilityError):
            await drv.stream_source("main")


# -- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["basic", "digest"])
@pytest.mark.parametrize("where", ["url", "credentials"])
async def test_credentials_answer_the_device_challenge(
    router: respx.MockRouter, jpegs: tuple[bytes, ...], scheme: str, where: str
) -> None:
    camera = FakeCamera(still(jpegs[0]), user="admin", password="s3cret", scheme=scheme)
    serve(router, "http://cam.test/snap.jpg", camera)
    if where == "url":
        url, kw = "http://admin:s3cret@cam.test/snap.jpg", {}
    else:
        url, kw = "http://cam.test/snap.jpg", {"credentials": Credentials("admin", "s3cret")}
    async with camsdk.open(url, **kw) as cam:
        with anyio.fail_after(WAIT):
            snap = await cam.snapshot()
            snap = await cam.snapshot()
    assert snap.jpeg == jpegs[0]
    first, answer, *later = camera.authorizations
    assert first is None, "no credentials before the device asks"
    assert answer is not None and answer.lower().startswith(scheme)
    # Once the scheme is known, later requests authenticate at once.
    assert len(later) == 2 and all(a is not None and a.lower().startswith(scheme) for a in later)


async def test_digest_never_sends_the_password_in_basic(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    camera = FakeCamera(live_mjpeg(jpegs), user="admin", password="s3cret", scheme="digest")
    serve(router, "http://cam.test/stream", camera)
    async with camsdk.open("http://admin:s3cret@cam.test/stream") as cam, cam.stream() as s:
        async with s.packets() as packets:
            with anyio.fail_after(WAIT):
                async for item in packets:
                    if isinstance(item, MediaPacket):
                        break
    assert not any(a and a.lower().startswith("basic") for a in camera.authorizations)


@pytest.mark.parametrize("scheme", ["basic", "digest"])
async def test_a_wrong_password_is_an_authentication_error(
    router: respx.MockRouter, jpegs: tuple[bytes, ...], scheme: str
) -> None:
    serve(
        router,
        "http://cam.test/snap.jpg",
        FakeCamera(still(jpegs[0]), user="admin", password="right", scheme=scheme),
    )
    with pytest.raises(AuthenticationError, match="refused the credentials"):
        async with camsdk.open("http://admin:wrong@cam.test/snap.jpg"):
            pass


async def test_missing_credentials_are_an_authentication_error(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    serve(router, "http://cam.test/snap.jpg", FakeCamera(still(jpegs[0]), user="a", password="b"))
    with pytest.raises(AuthenticationError, match="requires credentials"):
        async with camsdk.open("http://cam.test/snap.jpg"):
            pass


async def test_forbidden_is_an_authentication_error(router: respx.MockRouter) -> None:
    router.get("http://cam.test/snap.jpg").mock(return_value=httpx.Response(403))
    with pytest.raises(AuthenticationError):
        async with camsdk.open("http://u:p@cam.test/snap.jpg"):
            pass


# -- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 404, 503])
async def test_an_http_error_status_is_a_protocol_error(
    router: respx.MockRouter, status: int
) -> None:
    router.get("http://cam.test/snap.jpg").mock(return_value=httpx.Response(status))
    with pytest.raises(CameraProtocolError) as caught:
        async with camsdk.open("http://cam.test/snap.jpg"):
            pass
    assert isinstance(caught.value, DeviceError) and caught.value.code == str(status)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), CameraUnreachableError),
        (httpx.ReadError("connection reset"), CameraUnreachableError),
        (httpx.ConnectTimeout("timed out"), CameraTimeoutError),
        (httpx.RemoteProtocolError("illegal status line"), CameraUnreachableError),
    ],
)
async def test_transport_errors_are_translated_with_their_cause(
    router: respx.MockRouter, raised: Exception, expected: type[Exception]
) -> None:
    router.get("http://cam.test/snap.jpg").mock(side_effect=raised)
    with pytest.raises(expected) as caught:
        async with driver("http://cam.test/snap.jpg"):
            pass
    assert caught.value.__cause__ is raised
    assert caught.value.url == "http://cam.test/snap.jpg"  # type: ignore[attr-defined]


async def test_a_compressed_body_is_refused(router: respx.MockRouter) -> None:
    router.get("http://cam.test/snap.jpg").mock(
        return_value=httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"x")
    )
    with pytest.raises(CameraProtocolError, match="gzip"):
        async with driver("http://cam.test/snap.jpg"):
            pass


async def test_redirects_stay_on_the_camera_host(
    router: respx.MockRouter, jpegs: tuple[bytes, ...]
) -> None:
    router.get("http://cam.test/a.jpg").mock(
        return_value=httpx.Response(302, headers={"Location": "/b.jpg"})
    )
    router.get("http://cam.test/b.jpg").mock(side_effect=still(jpegs[0]))
    router.get("http://cam.test/evil.jpg").mock(
        return_value=httpx.Response(302, headers={"Location": "http://elsewhere.test/x.jpg"})
    )
    elsewhere = router.get("http://elsewhere.test/x.jpg").mock(side_effect=still(jpegs[0]))
    async with driver("http://cam.test/a.jpg") as drv:
        assert drv.kind == "still"
    with pytest.raises(CameraProtocolError, match="another host"):
        async with driver("http://cam.test/evil.jpg"):
            pass
    assert elsewhere.call_count == 0


async def test_a_canary_password_never_reaches_errors_or_logs(
    router: respx.MockRouter, jpegs: tuple[bytes, ...], caplog: pytest.LogCaptureFixture
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG, logger="camsdk")
    router.get("http://cam.test/auth.jpg").mock(
        side_effect=FakeCamera(still(jpegs[0]), user="admin", password="other", scheme="digest")
    )
    router.get("http://cam.test/down.jpg").mock(
        side_effect=httpx.ConnectError(f"failed http://admin:{canary}@cam.test/?password={canary}")
    )
    router.get("http://cam.test/500.jpg").mock(return_value=httpx.Response(500))
    router.get("http://cam.test/html").mock(return_value=httpx.Response(200, text="<html>"))
    errors: list[BaseException] = []
    for path in ("auth.jpg", "down.jpg", "500.jpg", "html"):
        for url, kw in (
            (f"http://admin:{canary}@cam.test/{path}", {}),
            (f"http://cam.test/{path}", {"credentials": Credentials("admin", canary)}),
        ):
            with pytest.raises(camsdk.CamError) as caught:
                async with driver(url, **kw):
                    pass
            errors.append(caught.value)
    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    # Whole chains too, except where the test planted the canary in httpx's own message.
    texts += ["".join(traceback.format_exception(e)) for e in errors if e.__cause__ is None]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert not [t for t in texts if canary in t]


# -- conformance --------------------------------------------------------------------------


class _HttpHooks:
    @pytest.fixture
    def unreachable_url(self) -> str:
        return f"http://127.0.0.1:{closed_port()}/snap.jpg"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        return {"credentials": Credentials("admin", "not-the-password")}


class TestHttpMjpegConformance(_HttpHooks, CameraConformance):
    """The driver contract, for an MJPEG camera behind Basic auth."""

    @pytest.fixture
    def camera_url(self) -> Iterator[str]:
        with respx.mock(assert_all_called=False) as mock:
            serve(
                mock,
                "http://cam.test/stream",
                FakeCamera(
                    live_mjpeg(sample_jpegs()[:1], chunks=SMALL_CHUNKS),
                    user="admin",
                    password="s3cret",
                ),
            )
            yield "http://admin:s3cret@cam.test/stream?action=stream"

    @pytest.fixture
    def bad_credentials(self) -> dict[str, Any]:
        # The URL's own password is replaced by these credentials.
        return {"credentials": Credentials("admin", "not-the-password")}


class TestHttpStillConformance(_HttpHooks, CameraConformance):
    """The driver contract, for a JPEG still camera behind Digest auth."""

    @pytest.fixture
    def camera_url(self) -> Iterator[str]:
        with respx.mock(assert_all_called=False) as mock:
            serve(
                mock,
                "http://cam.test/snap.jpg",
                FakeCamera(
                    still(sample_jpegs()[0]), user="admin", password="s3cret", scheme="digest"
                ),
            )
            yield "http://cam.test/snap.jpg"

    @pytest.fixture
    def camera_options(self) -> dict[str, Any]:
        return {"credentials": Credentials("admin", "s3cret")}
