"""Test doubles for the HLS client: an in-memory fetcher and a clock that never sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path

from camsdk import CameraProtocolError, DeviceError, MediaPacket, StreamInfo
from camsdk._hls import ByteRange, FetchResult, HlsUpstream

Resource = bytes | str | Callable[[], bytes | str] | BaseException


class FakeFetcher:
    """Serves a dict of URL -> body (or a callable making it, or an error to raise).

    Unknown URLs answer like a 404. ``calls`` records every URL asked for, in
    order, and ``ranges`` the byte range asked with each.
    """

    def __init__(self, resources: dict[str, Resource] | None = None) -> None:
        self.resources: dict[str, Resource] = dict(resources or {})
        self.calls: list[str] = []
        self.ranges: list[ByteRange | None] = []
        #: When set, every fetch waits for it (to catch a fetch in flight).
        self.gate: asyncio.Event | None = None
        self.cancelled = 0
        #: Set by the first fetch (to know one is in flight).
        self.entered = asyncio.Event()
        #: Return whole resources even when a byte range is asked (a server ignoring Range).
        self.ignore_ranges = False

    async def get(
        self, url: str, *, max_bytes: int, byte_range: ByteRange | None = None
    ) -> FetchResult:
        self.calls.append(url)
        self.ranges.append(byte_range)
        self.entered.set()
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        value = self.resources.get(url)
        if value is None:
            raise DeviceError("HTTP 404", code="404")
        if callable(value) and not isinstance(value, BaseException):
            value = value()
        if isinstance(value, BaseException):
            raise value
        body = value.encode() if isinstance(value, str) else value
        if byte_range is not None and not self.ignore_ranges:
            body = body[byte_range.offset : byte_range.end]
        if len(body) > max_bytes:
            raise CameraProtocolError(f"body larger than {max_bytes} bytes")
        return FetchResult(url, body, "")

    def count(self, url: str) -> int:
        """How often ``url`` was fetched."""
        return self.calls.count(url)


class Scripted:
    """A playlist that changes on every load: the texts in order, then the last one forever."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._texts = list(texts)
        self.loads = 0

    def __call__(self) -> str:
        text = self._texts[min(self.loads, len(self._texts) - 1)]
        self.loads += 1
        return text


class FakeClock:
    """A clock that advances only when the code under test sleeps.

    Sleeping returns at once (after one loop turn) for the first ``budget``
    sleeps; later sleeps park until cancelled, so a follower that has
    nothing left to do stops there instead of spinning.
    """

    def __init__(self, budget: int = 50) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._budget = budget
        self.parked = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        if len(self.sleeps) > self._budget:
            self.parked.set()
            await asyncio.Event().wait()
        self.now += delay
        await asyncio.sleep(0)


def media_playlist(
    segments: Iterable[str],
    *,
    first: int = 0,
    target: int = 1,
    duration: float = 0.5,
    ended: bool = False,
    head: Iterable[str] = (),
    before: dict[int, list[str]] | None = None,
) -> str:
    """A media playlist text: ``segments`` URIs from sequence ``first``; extra tags where asked."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}",
             f"#EXT-X-MEDIA-SEQUENCE:{first}", *head]
    for index, uri in enumerate(segments):
        lines += (before or {}).get(first + index, [])
        lines += [f"#EXTINF:{duration:.3f},", uri]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def segment_files(playlist: Path) -> list[bytes]:
    """The bytes of every segment an ffmpeg-made playlist lists, in order."""
    names = [n for n in playlist.read_text().splitlines() if n and not n.startswith("#")]
    return [(playlist.parent / name).read_bytes() for name in names]


async def drain(
    upstream: HlsUpstream, *, limit: int = 10_000
) -> tuple[StreamInfo, list[MediaPacket], BaseException | None]:
    """Start ``upstream`` and read it to its end (at most ``limit`` packets); always close it.

    Returns the info, the packets and the exception that ended the iteration.
    """
    packets: list[MediaPacket] = []
    ended: BaseException | None = None
    try:
        info = await upstream.start()
        try:
            async for packet in upstream:
                packets.append(packet)
                if len(packets) >= limit:
                    break
        except Exception as exc:
            ended = exc
    finally:
        await upstream.aclose()
    return info, packets, ended
