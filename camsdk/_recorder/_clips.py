"""Event clips: from ``before`` seconds before an event to ``after`` seconds after its end.

`PacketRing` keeps the last ``before`` seconds of packets plus one GOP, so a
clip can start on the keyframe at or before ``event - before``. Events
arrive on their own task; a `ClipRequest` carries one to the recording task,
which places it on the media timeline at the first video packet that arrived
after it (packet and event arrival times are both ``time.monotonic()``).
`EventClipper` does the rest; files are opened and closed by the
`FootageWriter`, so clips are audited egresses like segments.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from .._media import MediaPacket
from .._models import CameraEvent, EventKind
from ._index import IndexStore
from ._models import EventClips

if TYPE_CHECKING:  # pragma: no cover
    from ._footage import FootageWriter, OpenFile

__all__ = ["ClipRequest", "EventClipper", "PacketRing"]

_BATCH = 32  # packets handed to a writer thread at once
_MAX_CLIPS = 8  # clips written at once; more events are indexed without one
_MAX_REQUESTS = 256  # events waiting for the recording task
_REMEMBERED = 1024  # event ids kept to pair starts with ends


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


@dataclass(eq=False, slots=True)
class _Clip:
    key: str
    row: int
    end_us: int | None
    stop_pts: int
    file: OpenFile


class EventClipper:
    """Writes a clip around each event: the clip half of the recording task.

    `on_event` runs on the events task and only queues a `ClipRequest`; the
    recording task calls `feed` with every packet (after the segment got it),
    which places requests on the timeline, opens, feeds and finishes clips
    through the `FootageWriter`'s file methods.
    """

    def __init__(
        self,
        config: EventClips,
        time_base: Fraction,
        store: IndexStore,
        counts: dict[str, int],
        notify: Callable[[], None],
    ) -> None:
        self.config = config
        self._before = math.ceil(Fraction(config.before) / time_base)
        self._ring = PacketRing(self._before)
        self._store = store
        self._counts = counts
        self._notify = notify
        self._clips: dict[str, _Clip] = {}
        self._requests: collections.deque[ClipRequest] = collections.deque()
        self._started: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._rows: collections.OrderedDict[str, int] = collections.OrderedDict()

    def open_files(self) -> list[OpenFile]:
        """The clips being written."""
        return [clip.file for clip in self._clips.values()]

    def forget(self) -> None:
        """Drop the open clips (their files are being aborted)."""
        self._clips.clear()

    # -- the events task -----------------------------------------------------------------

    def on_event(self, event: CameraEvent) -> None:
        """Queue ``event``'s start or end if its kind is wanted (never blocks)."""
        kinds = self.config.kinds
        if kinds is None and event.kind is EventKind.STREAM_STATE:
            return  # stream health is not footage unless asked for
        if kinds is not None and event.kind not in kinds:
            return
        key = event.event_id or f"{event.kind.value}@{event.started_at.isoformat()}"
        now = time.monotonic()
        if event.active:
            if key in self._started:
                return  # an update of an event already being clipped
            self._started[key] = None
            while len(self._started) > _REMEMBERED:
                self._started.popitem(last=False)
            request = ClipRequest(key, event, True, False, now)
        elif key in self._started:
            del self._started[key]
            request = ClipRequest(key, event, False, False, now)
        else:
            request = ClipRequest(key, event, True, True, now)
        if len(self._requests) >= _MAX_REQUESTS:
            self._counts["clips_skipped"] += 1
            return
        self._requests.append(request)

    # -- the recording task --------------------------------------------------------------

    async def feed(self, pkt: MediaPacket, writer: FootageWriter) -> None:
        """Give ``pkt`` to the open clips, keep it for later ones, place waiting requests."""
        for clip in list(self._clips.values()):
            if pkt.kind == "video" and (pkt.pts or 0) >= clip.stop_pts:
                await self._finish(clip, pkt.pts, writer)
                continue
            clip.file.batch.append(pkt)
            if len(clip.file.batch) >= _BATCH:
                await writer.flush(clip.file)
        self._ring.add(pkt)
        if pkt.kind == "video":
            while self._requests and self._requests[0].at <= pkt.received_at:
                request = self._requests.popleft()
                if request.start:
                    await self._open(request, pkt, writer)
                else:
                    await self._end(request, pkt, writer)

    async def finish_all(self, writer: FootageWriter) -> None:
        """End every open clip here (a gap or the end of the recording)."""
        for clip in list(self._clips.values()):
            await self._finish(clip, None, writer)
        self._ring.clear()  # after a gap the past no longer joins the present

    async def _open(self, request: ClipRequest, now: MediaPacket, writer: FootageWriter) -> None:
        cfg, anchor = self.config, writer.anchor
        assert anchor is not None
        if request.key in self._clips:
            return
        tb = now.time_base
        pts = now.pts or 0
        event_us = anchor.at(pts)
        row = await asyncio.to_thread(self._store.add_event, request.key, request.event.kind,
                                      event_us)
        self._rows[request.key] = row
        while len(self._rows) > _REMEMBERED:
            self._rows.popitem(last=False)
        if request.moment:
            await asyncio.to_thread(self._store.set_event_end, row, event_us)
        if len(self._clips) >= _MAX_CLIPS:
            self._counts["clips_skipped"] += 1
            return
        past = self._ring.since(pts - self._before)
        first = past[0]
        file = await writer.open_file(first, anchor.at(first.pts or 0), writer.authorize(),
                                      after_gap=False, label=request.event.kind.value)
        file.batch.extend(past)
        follow = cfg.after if request.moment else cfg.max_length + cfg.after
        stop = pts + math.ceil(Fraction(follow) / tb)
        self._clips[request.key] = _Clip(request.key, row, event_us if request.moment else None,
                                         stop, file)

    async def _end(self, request: ClipRequest, now: MediaPacket, writer: FootageWriter) -> None:
        anchor = writer.anchor
        assert anchor is not None
        pts = now.pts or 0
        end_us = anchor.at(pts)
        clip = self._clips.get(request.key)
        if clip is not None:
            clip.end_us = end_us
            after = math.ceil(Fraction(self.config.after) / now.time_base)
            clip.stop_pts = min(clip.stop_pts, pts + after)
            return
        row = self._rows.get(request.key)
        if row is not None:  # its clip already ended (cut at max_length) or was skipped
            await asyncio.to_thread(self._store.set_event_end, row, end_us)

    async def _finish(self, clip: _Clip, end_pts: int | None, writer: FootageWriter) -> None:
        self._clips.pop(clip.key, None)
        result = await writer.close_file(clip.file, end_pts)
        await asyncio.to_thread(
            self._store.finish_event, clip.row, end_us=clip.end_us, clip=clip.file.rel,
            clip_start_us=clip.file.start_us, clip_end_us=clip.file.anchor.at(result.end_pts),
            clip_bytes=result.bytes,
        )
        self._counts["clips"] += 1
        self._notify()
