"""`MjpegStream`: an MJPEG response as a `camsdk.PacketSource`.

Each JPEG part becomes one keyframe `MediaPacket` (every JPEG decodes on its
own). The device sends no timestamps, so ``pts``/``dts`` come from arrival
time on the monotonic clock, in 1/90000 s, nudged forward by one tick when
two parts arrive together so that they strictly increase.

A read that gets no byte for ``stall_timeout`` raises `StreamStalledError`
and the end of the body `StreamEndedError`; the session reconnects on both.
A picture whose size differs from the one the stream opened with ends the
source the same way, so the reconnect reports the new size in its info.
"""

from __future__ import annotations

import collections
import time
from collections.abc import AsyncIterator
from fractions import Fraction

from camsdk.driver import (
    BodyReader,
    CameraProtocolError,
    CameraTimeoutError,
    CamError,
    MediaPacket,
    MultipartError,
    MultipartParser,
    Part,
    StreamEndedError,
    StreamInfo,
    StreamStalledError,
    get_logger,
    jpeg_size,
    looks_like_jpeg,
)

__all__ = ["TIME_BASE", "MjpegStream", "first_picture"]

log = get_logger("camsdk.drivers.http")

#: Timestamps of MJPEG packets: 1/90000 s, as RTP video clocks use.
TIME_BASE = Fraction(1, 90000)


async def first_picture(
    body: BodyReader, parser: MultipartParser, *, deadline: float
) -> tuple[Part, tuple[int, int], float, list[Part]]:
    """Read parts until one is a JPEG with a frame header, within ``deadline`` seconds.

    Returns that part, its ``(width, height)``, its arrival time, and the
    parts that arrived in the same chunk after it (in order). A device that
    trickles bytes so each read gets one in time is caught by the deadline.
    """
    errors = body.errors
    end = time.monotonic() + deadline
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise CameraTimeoutError(
                f"no whole picture within {deadline:g} s", scheme=errors.scheme, url=errors.url
            )
        chunk = await body.chunk(timeout=remaining)
        arrived = time.monotonic()
        try:
            parts = parser.finish() if chunk is None else parser.feed(chunk)
        except MultipartError as exc:
            raise CameraProtocolError(
                f"MJPEG stream is malformed: {exc}", scheme=errors.scheme, url=errors.url
            ) from exc
        for index, part in enumerate(parts):
            size = jpeg_size(part.body) if looks_like_jpeg(part.body) else None
            if size is not None:
                return part, size, arrived, parts[index + 1 :]
        if chunk is None:
            raise CameraProtocolError(
                "MJPEG stream ended before its first picture", scheme=errors.scheme, url=errors.url
            )


class MjpegStream:
    """A live MJPEG stream (see the module docstring). Owns and closes its response."""

    #: The session reconnects a live source that ends instead of finishing.
    live = True
    #: A camera's stream never ends for good.
    finite = False

    def __init__(
        self,
        *,
        body: BodyReader,
        parser: MultipartParser,
        first: Part,
        size: tuple[int, int],
        arrived: float,
        pending: list[Part],
        stall: float,
    ) -> None:
        self._body = body
        self._parser = parser
        self._errors = body.errors
        self._size = size
        self._stall = stall
        self._info = StreamInfo(
            codec="mjpeg", width=size[0], height=size[1], fps=None, time_base=TIME_BASE
        )
        self._start = arrived
        self._last_pts = -1
        self._last_picture = arrived
        self._ready: collections.deque[tuple[Part, float]] = collections.deque()
        self._ready.append((first, arrived))
        self._ready.extend((part, arrived) for part in pending)
        self._closed = False
        self._ended = False
        #: Parts skipped because they were not a JPEG.
        self.skipped = 0

    @property
    def info(self) -> StreamInfo:
        """``mjpeg`` at the size of the first picture; fps unknown; 1/90000 time base."""
        return self._info

    @property
    def resyncs(self) -> int:
        """Times the multipart framing had to be recovered."""
        return self._parser.resyncs

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self

    async def __anext__(self) -> MediaPacket:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._ready:
                part, arrived = self._ready.popleft()
                packet = self._packet(part, arrived)
                if packet is not None:
                    return packet
                continue
            if self._ended:
                raise StreamEndedError(
                    "MJPEG stream ended", scheme=self._errors.scheme, url=self._errors.url
                )
            try:
                await self._read()
            except CamError:
                if self._closed:  # closed under a pending read: that read's error is moot
                    raise StopAsyncIteration from None
                raise

    async def _read(self) -> None:
        # A whole picture must arrive within stall_timeout of the last one, so a
        # device trickling a byte at a time counts as stalled (each read alone
        # would get its byte in time).
        remaining = self._last_picture + self._stall - time.monotonic()
        if remaining <= 0:
            raise StreamStalledError(
                f"no whole picture for {self._stall:g} s",
                scheme=self._errors.scheme, url=self._errors.url,
            )
        try:
            chunk = await self._body.chunk(timeout=remaining)
        except CameraTimeoutError:
            raise StreamStalledError(
                f"no whole picture for {self._stall:g} s",
                scheme=self._errors.scheme, url=self._errors.url,
            ) from None
        arrived = time.monotonic()
        try:
            if chunk is None:
                self._ended = True
                parts = self._parser.finish()
            else:
                parts = self._parser.feed(chunk)
        except MultipartError as exc:
            raise CameraProtocolError(
                f"MJPEG stream is malformed: {exc}",
                scheme=self._errors.scheme,
                url=self._errors.url,
            ) from exc
        self._ready.extend((part, arrived) for part in parts)

    def _packet(self, part: Part, arrived: float) -> MediaPacket | None:
        data = part.body
        if not looks_like_jpeg(data):
            # Some servers interleave text parts (status, metadata): not video.
            self.skipped += 1
            log.debug("skipping a %s part of %d bytes", part.content_type or "untyped", len(data))
            return None
        size = jpeg_size(data)
        if size is None:
            # Starts like a JPEG but has no frame header: nothing a decoder could show.
            self.skipped += 1
            log.debug("skipping a part of %d bytes without a JPEG frame header", len(data))
            return None
        if size != self._size:
            # The decoder was set up for the first size: reopen to announce the new one.
            raise StreamEndedError(
                f"picture size changed from {self._size[0]}x{self._size[1]} to {size[0]}x{size[1]}",
                scheme=self._errors.scheme,
                url=self._errors.url,
            )
        pts = max(round((arrived - self._start) / TIME_BASE), self._last_pts + 1)
        self._last_pts = pts
        self._last_picture = arrived
        return MediaPacket(data, pts, pts, TIME_BASE, True, "video", 0, arrived)

    async def aclose(self) -> None:
        """Close the response; an iterator waiting in it ends. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._ready.clear()
        await self._body.aclose()
