"""`FootageWriter`: the recording task, from a packet queue to segments (and clips) on disk.

It owns every open file. Segments are cut at the first keyframe at or after
the segment length; that keyframe starts the next segment, and the segment
before ends exactly where it begins (its last video packet lasts until it).
Audio that arrives late for a boundary still goes into the segment it
belongs to. A `Discontinuity` (reconnect, overflow) ends the current segment;
the wall-clock time until the next one is written to the index as a gap.

Wall-clock times come from the recorder's clock at the packet's arrival and
follow the media timeline within a run (a run ends at a gap), so boundary
times match exactly. A clock that moves more than two seconds against the
media is followed at the next segment boundary. All file and index work runs
in worker threads.
"""

from __future__ import annotations

import asyncio
import collections
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from .._access import Action, Decision
from .._errors import AccessDeniedError, CamError, RecordingError
from .._log import get_logger
from .._media import Discontinuity, MediaPacket
from ._files import FileResult, MediaFile, footage_name
from ._index import IndexStore, from_us, to_us
from ._models import Segment

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera
    from .._pipeline._queue import ConsumerQueue
    from .._pipeline._session import StreamSession
    from ._clips import EventClipper

__all__ = ["Anchor", "FootageWriter", "OpenFile"]

log = get_logger("camsdk.recorder")

_BATCH = 32  # packets handed to a writer thread at once
_LATE_AUDIO = 0.5  # seconds a finished segment waits for its late audio
_DRIFT_US = 2_000_000  # clock vs media drift that re-anchors the wall clock


@dataclass(frozen=True, slots=True)
class Anchor:
    """Wall clock of one run: ``wall_us`` at media ``pts``; later times follow the media."""

    wall_us: int
    pts: int
    time_base: Fraction

    def at(self, pts: int) -> int:
        """Microseconds since the epoch at media time ``pts``."""
        return self.wall_us + math.floor((pts - self.pts) * self.time_base * 1_000_000)


@dataclass(eq=False, slots=True)
class OpenFile:
    """A segment or clip being written, as the recording task sees it."""

    media: MediaFile
    rel: str
    start_us: int
    anchor: Anchor
    decision: Decision
    opened: float
    after_gap: bool
    batch: list[MediaPacket] = field(default_factory=list)


class FootageWriter:
    """Turns one packet consumer's queue into segments (see the module docstring).

    ``counts`` and ``finished`` are the recorder's, updated in place;
    ``on_segment`` runs after each indexed segment (retention).
    """

    def __init__(
        self,
        *,
        camera: Camera,
        session: StreamSession,
        store: IndexStore,
        directory: Path,
        segment: float,
        purpose: str,
        with_audio: bool,
        clock: Callable[[], datetime],
        first_decision: Decision,
        counts: dict[str, int],
        finished: collections.deque[Segment],
        on_segment: Callable[[], Awaitable[None]],
        notify: Callable[[], None],
        clipper: EventClipper | None,
    ) -> None:
        self.camera = camera
        self.store = store
        self.directory = directory
        self.counts = counts
        self._session = session
        self._segment_len = segment
        self._purpose = purpose
        self._with_audio = with_audio
        self._clock = clock
        self._first_decision: Decision | None = first_decision
        self._finished = finished
        self._on_segment = on_segment
        self._notify = notify
        self._clipper = clipper
        self._segment: OpenFile | None = None
        self._closing: tuple[OpenFile, int] | None = None
        self._closing_until = 0
        self._due = 0
        self._gap: tuple[int, str] | None = None
        #: The wall clock of the current run (``None`` between runs).
        self.anchor: Anchor | None = None

    # -- the task ------------------------------------------------------------------------

    async def run(self, queue: ConsumerQueue[MediaPacket]) -> BaseException | None:
        """Record until the queue ends; finish what is open; return the error that stopped it."""
        from .._pipeline._queue import QueueClosed

        error: BaseException | None = None
        ended = "stop"
        try:
            while True:
                try:
                    item = await queue.get()
                except QueueClosed:
                    break
                if isinstance(item, Discontinuity):
                    await self._on_gap(item)
                    continue
                self._check_grants()
                await self._on_packet(item)
        except AccessDeniedError as exc:
            error, ended = exc, "revoked"
        except CamError as exc:  # RecordingError, or the stream ended for good
            error, ended = exc, "error"
        except asyncio.CancelledError:
            self._abort_all()
            raise
        except Exception as exc:  # pragma: no cover - a bug: stop loudly, keep the footage
            log.exception("recorder crashed")
            error, ended = RecordingError(f"recorder failed: {exc!r}"), "error"
        try:
            await self._finish_all(ended)
        except asyncio.CancelledError:
            self._abort_all()
            raise
        except Exception as exc:
            self._abort_all()
            if error is None:
                error = exc
            else:
                log.warning("could not finish the last segment: %s", exc)
        return error

    def _open_files(self) -> list[OpenFile]:
        files = [f for f in (self._segment, self._closing[0] if self._closing else None) if f]
        if self._clipper is not None:
            files += self._clipper.open_files()
        return files

    def _check_grants(self) -> None:
        for f in self._open_files():
            if not f.decision.still_valid():
                raise AccessDeniedError(
                    "access to this camera was revoked or has expired during recording",
                    scheme=self.camera.scheme, url=self.camera.url,
                    reason="grant no longer valid",
                )

    async def _on_packet(self, pkt: MediaPacket) -> None:
        if pkt.kind == "video":
            if self._segment is None:
                if not pkt.keyframe:
                    self.counts["dropped"] += 1  # undecodable until the next keyframe
                    return
                await self._begin_run(pkt)
            elif pkt.keyframe and (pkt.pts or 0) >= self._due:
                await self._cut(pkt)
            if self._closing is not None and (pkt.pts or 0) >= self._closing_until:
                await self._finish_closing()
        else:
            segment = self._segment
            if self._closing is not None:
                if segment is not None and (pkt.pts or 0) < segment.media.audio_origin:
                    self._closing[0].batch.append(pkt)  # late audio of the segment before
                    await self._feed_clips(pkt)
                    return
                await self._finish_closing()
            if segment is None:
                return
        assert self._segment is not None
        self._segment.batch.append(pkt)
        if len(self._segment.batch) >= _BATCH:
            await self.flush(self._segment)
        await self._feed_clips(pkt)

    async def _feed_clips(self, pkt: MediaPacket) -> None:
        if self._clipper is not None:
            await self._clipper.feed(pkt, self)

    async def _begin_run(self, key: MediaPacket) -> None:
        """Start a segment on ``key`` after the start or a gap: a new wall-clock anchor."""
        decision = self._first_decision or self.authorize()
        self._first_decision = None
        start_us = self._observed_us(key)
        if self._gap is not None:
            start_us = max(start_us, self._gap[0])
        self.anchor = Anchor(start_us, key.pts or 0, key.time_base)
        self._segment = await self.open_file(key, start_us, decision, after_gap=True)
        self._due = (key.pts or 0) + math.ceil(Fraction(self._segment_len) / key.time_base)
        if self._gap is not None:
            gap_start, reason = self._gap
            self._gap = None
            await asyncio.to_thread(self.store.add_gap, gap_start, start_us, reason)

    async def _cut(self, key: MediaPacket) -> None:
        """End the segment just before ``key`` and start the next one on it."""
        old = self._segment
        assert old is not None and self.anchor is not None
        decision = self.authorize()
        pts = key.pts or 0
        start_us = self.anchor.at(pts)
        observed = self._observed_us(key)
        if abs(observed - start_us) > _DRIFT_US:
            log.info("wall clock moved %.1f s against the media; following it",
                     (observed - start_us) / 1e6)
            self.anchor = Anchor(observed, pts, key.time_base)
            start_us = observed
        if self._closing is not None:
            await self._finish_closing()
        await self.flush(old)
        self._closing = (old, pts)
        self._closing_until = pts + math.ceil(Fraction(_LATE_AUDIO) / key.time_base)
        self._segment = None  # if the next file cannot be opened, the old one finishes once
        self._segment = await self.open_file(key, start_us, decision, after_gap=False)
        self._due = pts + math.ceil(Fraction(self._segment_len) / key.time_base)
        if not self._with_audio:
            await self._finish_closing()

    async def _finish_closing(self) -> None:
        closing, self._closing = self._closing, None
        if closing is not None:
            await self._finish_segment(closing[0], closing[1], "length")

    async def _on_gap(self, marker: Discontinuity) -> None:
        """A reconnect or loss: end the segment and clips here; the gap goes to the index."""
        self.counts["dropped"] += marker.dropped
        if self.anchor is None:
            return  # nothing recorded since the last gap (or yet)
        await self._finish_closing()
        if self._clipper is not None:
            await self._clipper.finish_all(self)
        segment, self._segment = self._segment, None
        if segment is not None:
            seg = await self._finish_segment(segment, None, "gap")
            self._gap = (to_us(seg.end), marker.reason)
            self.counts["gaps"] += 1
        self.anchor = None
        log.info("recording of %s interrupted (%s)", self.camera.url, marker.reason)

    async def _finish_all(self, ended: str) -> None:
        if self._first_decision is not None:  # stopped before the first keyframe
            self.camera._end(Action.RECORD, self._first_decision, purpose=self._purpose)
            self._first_decision = None
        await self._finish_closing()
        if self._clipper is not None:
            await self._clipper.finish_all(self)
        segment, self._segment = self._segment, None
        if segment is not None:
            await self._finish_segment(segment, None, ended)
        if self._gap is not None:
            gap_start, reason = self._gap
            self._gap = None
            end = max(gap_start, to_us(self._clock()))
            await asyncio.to_thread(self.store.add_gap, gap_start, end, reason)

    def _abort_all(self) -> None:
        """Cancelled mid-write: drop temporary files (never a half file under a final name)."""
        files = self._open_files()
        if self._clipper is not None:
            self._clipper.forget()
        self._segment = self._closing = None
        for f in files:
            f.media.abort()
            self.camera._end(Action.RECORD, f.decision, purpose=self._purpose)

    # -- files (the clipper uses these too) ----------------------------------------------

    def authorize(self) -> Decision:
        """Decide (and audit) one more file: a ``record`` egress, raw media."""
        return self.camera._authorize(Action.RECORD, self._purpose, raw=True)

    def _observed_us(self, pkt: MediaPacket) -> int:
        """The recorder's wall clock when ``pkt`` arrived."""
        return to_us(self._clock()) - round((time.monotonic() - pkt.received_at) * 1e6)

    async def open_file(
        self, first: MediaPacket, start_us: int, decision: Decision, *, after_gap: bool,
        label: str = "",
    ) -> OpenFile:
        """Start a segment (or, with ``label``, a clip) on the keyframe ``first``."""
        assert self.anchor is not None
        info = self._session.info
        assert info is not None
        try:
            rel, target = await asyncio.to_thread(self._reserve, start_us, label)
            media = await asyncio.to_thread(
                MediaFile, target, info, first, audio=self._with_audio, url=self.camera.url
            )
        except BaseException:
            self.camera._end(Action.RECORD, decision, purpose=self._purpose)
            raise
        return OpenFile(media, rel, start_us, self.anchor, decision, time.monotonic(), after_gap)

    def _reserve(self, start_us: int, label: str) -> tuple[str, Path]:
        """A free name for footage starting at ``start_us``; its day directory exists after."""
        if not self.directory.is_dir():
            raise RecordingError(
                f"the recording directory {str(self.directory)!r} is gone", url=self.camera.url
            )
        for bump in range(1000):
            rel = footage_name(from_us(start_us + bump), label=label)
            target = self.directory / rel
            if not os.path.lexists(target):
                break
        else:  # pragma: no cover - a thousand files in one millisecond
            raise RecordingError("no free file name for a segment", url=self.camera.url)
        try:
            # Never ``parents=True``: a removed camera directory must stay an error.
            if label:
                target.parent.parent.mkdir(exist_ok=True)
            target.parent.mkdir(exist_ok=True)
        except OSError as exc:
            raise RecordingError(
                f"cannot create {str(target.parent)!r}: {exc.strerror or exc}",
                url=self.camera.url,
            ) from None
        return str(rel), target

    async def flush(self, f: OpenFile) -> None:
        """Hand ``f``'s batch to a writer thread."""
        if f.batch:
            batch, f.batch = f.batch, []
            await asyncio.to_thread(f.media.write, batch)

    async def close_file(self, f: OpenFile, end_pts: int | None) -> FileResult:
        """Finish, commit and audit one file (the egress ends with what it wrote)."""
        try:
            await self.flush(f)
            result = await asyncio.to_thread(f.media.finish, end_pts)
        except Exception:
            await asyncio.to_thread(f.media.abort)
            self.camera._end(Action.RECORD, f.decision, purpose=self._purpose)
            raise
        except asyncio.CancelledError:
            # The worker thread may still be finishing the file; it completes or cleans up.
            self.camera._end(Action.RECORD, f.decision, purpose=self._purpose)
            raise
        self.counts["dropped"] += f.media.skipped
        self.camera._end(Action.RECORD, f.decision, items=result.video_packets,
                         nbytes=result.bytes, duration=time.monotonic() - f.opened,
                         purpose=self._purpose)
        self.counts["bytes"] += result.bytes
        return result

    async def _finish_segment(self, f: OpenFile, end_pts: int | None, ended: str) -> Segment:
        result = await self.close_file(f, end_pts)
        tb = f.media.time_base
        end_us = f.anchor.at(result.end_pts)
        seg = Segment(
            path=self.directory / f.rel, start=from_us(f.start_us), end=from_us(end_us),
            media_start=float(result.start_pts * tb), media_end=float(result.end_pts * tb),
            start_pts=result.start_pts, end_pts=result.end_pts, time_base=tb,
            bytes=result.bytes, video_packets=result.video_packets,
            audio_packets=result.audio_packets, after_gap=f.after_gap, ended=ended,
        )
        await asyncio.to_thread(self.store.add_segment, f.rel, seg, f.start_us, end_us)
        self._finished.append(seg)
        self.counts["segments"] += 1
        self._notify()
        await self._on_segment()
        return seg
