"""What event clips need besides a file: the recent past, and the requests from events.

`PacketRing` keeps the last ``before`` seconds of packets plus one GOP, so a
clip can start on the keyframe at or before ``event - before``. Events
arrive on their own task; `ClipRequest` carries one to the recording loop,
which places it on the media timeline at the first video packet that
arrived after it (packet arrival times and event arrival times are both
``time.monotonic()``).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

from .._media import MediaPacket
from .._models import CameraEvent

__all__ = ["ClipRequest", "PacketRing"]


class PacketRing:
    """Recent packets in GOPs: enough to go back ``keep`` (video time base units)."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._gops: collections.deque[list[MediaPacket]] = collections.deque()

    def __len__(self) -> int:
        return sum(len(gop) for gop in self._gops)

    def add(self, pkt: MediaPacket) -> None:
        """Append ``pkt``; a video keyframe starts a GOP; GOPs no longer needed are dropped."""
        if pkt.kind == "video" and pkt.keyframe:
            self._gops.append([pkt])
            newest = pkt.pts or 0
            # Drop the oldest GOP while the next one alone still reaches back far enough.
            while len(self._gops) > 1 and (self._gops[1][0].pts or 0) <= newest - self._keep:
                self._gops.popleft()
        elif self._gops:
            self._gops[-1].append(pkt)

    def since(self, pts: int) -> list[MediaPacket]:
        """Packets from the latest keyframe at or before ``pts`` (else the oldest one) on."""
        gops = list(self._gops)
        start = 0
        for i, gop in enumerate(gops):
            if (gop[0].pts or 0) <= pts:
                start = i
        return [pkt for gop in gops[start:] for pkt in gop]

    def clear(self) -> None:
        """Forget everything (after a gap the past no longer joins the present)."""
        self._gops.clear()


@dataclass(frozen=True, slots=True)
class ClipRequest:
    """An event start or end, waiting to be placed on the media timeline.

    ``moment`` marks an event that arrived already ended: its clip is
    ``[t - before, t + after]``.
    """

    key: str
    event: CameraEvent
    start: bool
    moment: bool
    at: float
