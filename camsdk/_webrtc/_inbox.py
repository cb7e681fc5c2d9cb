"""`PacketInbox`: received packets waiting for their one reader, bounded, ending with a reason.

aiortc's remote tracks queue without bound, so the session reads them at
once and parks the packets here. When the reader falls ``size`` packets (or
``max_bytes``) behind, the oldest packet goes, and with it every picture up to the next
keyframe (they referred to it). When no keyframe is left, new pictures are
dropped until one arrives; the reader asks for one (`needs_keyframe`) when
it is back, rather than the camera being pestered while nobody reads.
"""

from __future__ import annotations

import asyncio
import collections

from .._errors import CamError, StreamStalledError
from .._media import MediaPacket

__all__ = ["PacketInbox"]


class PacketInbox:
    """A bounded FIFO of packets for one reader (see the module docstring)."""

    def __init__(
        self, size: int, *, max_bytes: int = 64 * 1024 * 1024, scheme: str | None = None,
        url: str | None = None,
    ) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._bytes = 0
        self._scheme = scheme
        self._url = url
        self._packets: collections.deque[MediaPacket] = collections.deque()
        self._wakeup = asyncio.Event()
        self._skip_video = False
        #: Set when video was lost with no keyframe left: the reader should ask for one.
        self.needs_keyframe = False
        #: Why the stream ended, once it did.
        self.end: CamError | None = None
        #: Packets lost because the reader was too slow.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._packets)

    def put(self, packet: MediaPacket) -> None:
        """Add a packet (never blocks; makes room as the module docstring says)."""
        if packet.kind == "video" and self._skip_video:
            if not packet.keyframe:
                self.dropped += 1
                return
            self._skip_video = False
        while self._packets and (
            len(self._packets) >= self.size or self._bytes + packet.size > self.max_bytes
        ):
            self._drop_oldest_gop()
            if self._skip_video and packet.kind == "video" and not packet.keyframe:
                self.dropped += 1
                return
            self._skip_video = False
        self._packets.append(packet)
        self._bytes += packet.size
        self._wakeup.set()

    def _drop_oldest_gop(self) -> None:
        packets = self._packets
        oldest = packets.popleft()
        self._bytes -= oldest.size
        self.dropped += 1
        if oldest.kind != "video":
            return
        while packets and not (packets[0].kind == "video" and packets[0].keyframe):
            self._bytes -= packets.popleft().size
            self.dropped += 1
        if not packets:
            self._skip_video = True
            self.needs_keyframe = True

    def finish(self, err: CamError) -> None:
        """The stream ended: the reader gets what is queued, then ``err`` (first reason wins)."""
        if self.end is None:
            self.end = err
        self._wakeup.set()

    def raise_if_ended(self) -> None:
        """Raise (a copy of) the end reason, if there is one."""
        if self.end is not None:
            err = self.end
            raise type(err)(err.message, scheme=err.scheme, url=err.url)

    async def get(self, stall_timeout: float | None = None) -> MediaPacket:
        """The oldest packet; the end reason once empty; `StreamStalledError` after a silence."""
        while not self._packets:
            self.raise_if_ended()
            self._wakeup.clear()
            try:
                async with asyncio.timeout(stall_timeout):
                    await self._wakeup.wait()
            except TimeoutError:
                raise StreamStalledError(
                    f"no WebRTC media for {stall_timeout:g} s", scheme=self._scheme, url=self._url
                ) from None
        packet = self._packets.popleft()
        self._bytes -= packet.size
        return packet

    def clear(self) -> None:
        """Forget every queued packet."""
        self._packets.clear()
        self._bytes = 0
