"""`Recorder`: continuous recording in segments, event clips, an index and retention.

A recorder is one packet consumer of the camera profile's shared
`StreamSession` (no second upstream), primed from the prebuffer so the first
segment starts on a keyframe. One task reads the consumer's queue and owns
every file; all file and index work runs in worker threads.

Segments are cut at the first keyframe at or after the segment length; that
keyframe starts the next segment, and the segment before ends exactly where
it begins (the last video packet lasts until it). Audio that arrives late
for a boundary still goes into the segment it belongs to. A `Discontinuity`
(reconnect, overflow) ends the current segment; the wall-clock time until the
next one is written to the index as a gap.

Wall-clock times come from the recorder's clock at the packet's arrival and
follow the media timeline within a run (a run ends at a gap), so boundary
times match exactly. A clock that moves more than two seconds against the
media is followed at the next segment boundary.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._access import Action, Decision
from .._errors import AccessDeniedError, CamError, ConfigurationError, RecordingError
from .._log import get_logger
from .._media import Discontinuity, MediaPacket
from .._models import CameraEvent, Capability, EventKind
from ._clips import ClipRequest, PacketRing
from ._files import FileResult, MediaFile, camera_dirname, footage_name
from ._index import IndexStore, RecordingIndex, from_us, to_us
from ._models import EventClips, RecorderStats, Retention, Segment
from ._retention import cutoff_us, delete, plan

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera
    from .._event_stream import EventStream
    from .._pipeline._session import PacketConsumer, StreamSession

__all__ = ["Recorder"]

log = get_logger("camsdk.recorder")

_BATCH = 32  # packets handed to a writer thread at once
_QUEUE = 4096  # the recorder's packet queue (about a minute of 1080p30 with audio)
_LATE_AUDIO = 0.5  # seconds a finished segment waits for its late audio
_DRIFT_US = 2_000_000  # clock vs media drift that re-anchors the wall clock
_MAX_CLIPS = 8  # clips written at once; more events are indexed without one
_MAX_REQUESTS = 256
_KEPT_SEGMENTS = 1024
_LOCK_NAME = ".recorder.lock"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Anchor:
    """Wall clock of one run: ``wall_us`` at media ``pts``; later times follow the media."""

    wall_us: int
    pts: int
    time_base: Fraction

    def at(self, pts: int) -> int:
        return self.wall_us + math.floor((pts - self.pts) * self.time_base * 1_000_000)


@dataclass(eq=False, slots=True)
class _OpenFile:
    """A segment or clip being written, as the recording task sees it."""

    media: MediaFile
    rel: str
    start_us: int
    anchor: _Anchor
    decision: Decision
    opened: float
    after_gap: bool
    batch: list[MediaPacket] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Clip:
    key: str
    row: int
    end_us: int | None
    stop_pts: int
    file: _OpenFile


class Recorder:
    """Records a camera continuously into segments, with event clips, an index and retention.

    Made by `Camera.recorder`; use ``async with`` (or `start` / `aclose`).
    Records in the background until the block exits, then finishes the
    current segment. A recorder that fails (disk full, directory removed,
    grant revoked) stops, finalising what it can, and raises its error from
    the ``async with`` exit (`RecordingError`, `AccessDeniedError`, ...).
    """

    def __init__(
        self,
        camera: Camera,
        directory: str | os.PathLike[str],
        *,
        segment: float = 60.0,
        profile: str | None = None,
        audio: bool = True,
        purpose: str = "",
        retention: Retention | Mapping[str, Any] | None = None,
        clips: EventClips | Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        url = camera.url
        if isinstance(segment, bool) or not isinstance(segment, int | float):
            raise ConfigurationError("segment must be a number of seconds", url=url)
        if not math.isfinite(segment) or not 0.1 <= segment <= 86400:
            raise ConfigurationError("segment must be between 0.1 s and one day", url=url)
        if not isinstance(purpose, str):
            raise ConfigurationError("purpose must be a string", url=url)
        if clock is not None and not callable(clock):
            raise ConfigurationError("clock must be a callable returning an aware datetime",
                                     url=url)
        self._camera = camera
        self._segment_len = float(segment)
        self._profile = profile
        self._audio = bool(audio)
        self._purpose = purpose
        self._retention = _model(Retention, retention, "retention", url)
        self._clip_cfg = _model(EventClips, clips, "clips", url)
        self._clock = clock or _utc_now
        #: The root directory given to `Camera.recorder`.
        self.root = Path(directory)
        #: This camera's directory under the root (its id, sanitised).
        self.directory = self.root / camera_dirname(camera.id)
        self._store = IndexStore(self.directory)
        #: Find footage by time and event.
        self.index = RecordingIndex(self.directory, _store=self._store)
        self._state = "new"
        self._error: BaseException | None = None
        self._session: StreamSession | None = None
        self._consumer: PacketConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._events_task: asyncio.Task[None] | None = None
        self._event_stream: EventStream | None = None
        self._lock_fd: int | None = None
        self._with_audio = False
        self._first_decision: Decision | None = None
        # the recording state (owned by the recording task)
        self._segment: _OpenFile | None = None
        self._closing: tuple[_OpenFile, int] | None = None
        self._closing_until = 0
        self._due = 0
        self._anchor: _Anchor | None = None
        self._gap: tuple[int, str] | None = None
        self._ring: PacketRing | None = None
        self._clips: dict[str, _Clip] = {}
        self._requests: collections.deque[ClipRequest] = collections.deque()
        self._started_events: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._event_rows: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._finished: collections.deque[Segment] = collections.deque(maxlen=_KEPT_SEGMENTS)
        self._waiters: list[asyncio.Future[None]] = []
        self._counts = {"segments": 0, "bytes": 0, "gaps": 0, "dropped": 0, "clips": 0,
                        "clips_skipped": 0, "deleted": 0}

    def __repr__(self) -> str:
        return (f"<Recorder {self._camera.url} -> {str(self.directory)!r} {self._state} "
                f"segments={self._counts['segments']}>")

    # -- what it reports -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the recorder is recording (started, not stopped, not failed)."""
        return self._state == "running" and self._task is not None and not self._task.done()

    @property
    def error(self) -> BaseException | None:
        """Why the recorder stopped by itself, if it did."""
        return self._error

    @property
    def segments(self) -> list[Segment]:
        """Finished segments of this run that retention kept (the latest 1024; see `index`)."""
        return list(self._finished)

    @property
    def stats(self) -> RecorderStats:
        """Counters of this run."""
        dropped = self._counts["dropped"]
        if self._consumer is not None:
            dropped += self._consumer.queue.dropped
        return RecorderStats(
            segments=self._counts["segments"], bytes=self._counts["bytes"],
            gaps=self._counts["gaps"], dropped=dropped, clips=self._counts["clips"],
            clips_skipped=self._counts["clips_skipped"], deleted=self._counts["deleted"],
        )

    async def wait_for(self, *, segments: int = 0, clips: int = 0) -> None:
        """Wait until this run finished ``segments`` segments and ``clips`` clips.

        Raises the recorder's error (or `RecordingError`) if it stops first.
        Bound it with ``asyncio.timeout``.
        """
        if self._state == "new":
            raise RecordingError("the recorder was not started", url=self._camera.url)
        while True:
            if self._counts["segments"] >= segments and self._counts["clips"] >= clips:
                return
            if self._state == "closed" or (self._task is not None and self._task.done()):
                if self._error is not None:
                    raise self._error
                raise RecordingError("the recorder stopped", url=self._camera.url)
            await self._changed()

    async def wait(self) -> None:
        """Wait until the recorder stops by itself, and raise why (it only stops on errors)."""
        if self._task is None:
            raise RecordingError("the recorder was not started", url=self._camera.url)
        await asyncio.shield(self._task)
        if self._error is not None:
            raise self._error

    def _changed(self) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Recorder:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        error = await _finish_even_if_cancelled(self._stop())
        if error is not None and exc is None:
            raise error

    async def start(self) -> None:
        """Check access, prepare the directory and index, and start recording.

        Access is decided (and audited) first: under privacy masks without a
        ``raw_media`` grant the recorder is refused before anything is
        written. Waits up to ``open_timeout`` for the stream; later outages
        are gaps, not errors.
        """
        if self._state != "new":
            raise RecordingError("a recorder can be started once", url=self._camera.url)
        camera = self._camera
        camera._require(Capability.STREAM)
        now = self._clock()
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise ConfigurationError("clock must return a timezone-aware datetime",
                                     url=camera.url)
        decision = camera._authorize(Action.RECORD, self._purpose, raw=True)
        self._state = "starting"
        try:
            await asyncio.to_thread(self._prepare_directory)
            await self._retain()
            if self._clip_cfg is not None:
                kinds = self._clip_cfg.kinds
                self._event_stream = camera.events(kinds=kinds, purpose=self._purpose)
            session = camera._session(self._profile)
            session.acquire()
            self._session = session
            info = await session.wait_ready(camera.config.open_timeout)
            self._with_audio = self._audio and info.has_audio
            if self._clip_cfg is not None:
                before = math.ceil(Fraction(self._clip_cfg.before) / info.time_base)
                self._ring = PacketRing(before)
            self._consumer = session.attach_packets(audio=self._with_audio, queue_size=_QUEUE)
        except BaseException:
            camera._end(Action.RECORD, decision, purpose=self._purpose)
            await self._release()
            self._state = "closed"
            raise
        self._first_decision = decision
        self._state = "running"
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), name=f"camsdk-recorder {camera.url}")
        if self._event_stream is not None:
            self._events_task = loop.create_task(
                self._watch_events(self._event_stream), name=f"camsdk-recorder-events {camera.url}"
            )

    async def aclose(self) -> None:
        """Stop: finish the current segment and clips, close the index; raise the error if any."""
        error = await _finish_even_if_cancelled(self._stop())
        if error is not None:
            raise error

    async def _stop(self) -> BaseException | None:
        if self._state in ("new", "closed"):
            self._state = "closed"
            return None
        if self._state == "stopping":
            return None
        self._state = "stopping"
        await self._stop_events()
        if self._session is not None and self._consumer is not None:
            # The queue ends after what it holds: the task drains it, then finishes.
            self._session.detach_packets(self._consumer)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._release()
        self._state = "closed"
        self._notify()
        return self._error

    async def _stop_events(self) -> None:
        task, self._events_task = self._events_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stream, self._event_stream = self._event_stream, None
        if stream is not None:
            await stream.aclose()

    async def _release(self) -> None:
        await self._stop_events()
        session, self._session = self._session, None
        if session is not None:
            if self._consumer is not None:
                session.detach_packets(self._consumer)
            session.release()
        await asyncio.to_thread(self._close_directory)

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create {str(self.directory)!r}: {exc.strerror or exc}",
                url=self._camera.url,
            ) from None
        self._lock_directory()
        self._store.open()

    def _lock_directory(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no single-writer guard
            return
        try:
            fd = os.open(self.directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                         0o644)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write in {str(self.directory)!r}: {exc.strerror or exc}",
                url=self._camera.url,
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigurationError(
                f"{str(self.directory)!r} is already being recorded by another recorder",
                url=self._camera.url,
            ) from None
        self._lock_fd = fd

    def _close_directory(self) -> None:
        self._store.close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the lock

    # -- the recording task --------------------------------------------------------------

    async def _run(self) -> None:
        from .._pipeline._queue import QueueClosed

        assert self._consumer is not None
        queue = self._consumer.queue
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
            self._error, ended = exc, "revoked"
        except RecordingError as exc:
            self._error, ended = exc, "error"
        except CamError as exc:  # the stream ended for good (auth failure, camera closed)
            self._error, ended = exc, "error"
        except asyncio.CancelledError:
            self._abort_all()
            raise
        except Exception as exc:  # pragma: no cover - a bug: stop loudly, keep the footage
            log.exception("recorder crashed")
            self._error, ended = RecordingError(f"recorder failed: {exc!r}"), "error"
        try:
            await self._finish_all(ended)
        except asyncio.CancelledError:
            self._abort_all()
            raise
        except Exception as exc:
            self._abort_all()
            if self._error is None:
                self._error = exc
            else:
                log.warning("could not finish the last segment: %s", exc)
        finally:
            if self._session is not None and self._consumer is not None:
                self._session.detach_packets(self._consumer)
            if self._events_task is not None:
                self._events_task.cancel()
            self._notify()

    def _check_grants(self) -> None:
        files = [c.file for c in self._clips.values()]
        files += [f for f in (self._segment, self._closing[0] if self._closing else None) if f]
        for f in files:
            if not f.decision.still_valid():
                raise AccessDeniedError(
                    "access to this camera was revoked or has expired during recording",
                    scheme=self._camera.scheme, url=self._camera.url,
                    reason="grant no longer valid",
                )

    async def _on_packet(self, pkt: MediaPacket) -> None:
        if pkt.kind == "video":
            if self._segment is None:
                if not pkt.keyframe:
                    self._counts["dropped"] += 1  # undecodable until the next keyframe
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
            await self._flush(self._segment)
        await self._feed_clips(pkt)

    async def _begin_run(self, key: MediaPacket) -> None:
        """Start a segment on ``key`` after the start or a gap: a new wall-clock anchor."""
        decision = self._first_decision or self._authorize()
        self._first_decision = None
        start_us = self._observed_us(key)
        if self._gap is not None:
            start_us = max(start_us, self._gap[0])
        self._anchor = _Anchor(start_us, key.pts or 0, key.time_base)
        self._segment = await self._open_file(key, start_us, decision, after_gap=True)
        self._due = (key.pts or 0) + math.ceil(Fraction(self._segment_len) / key.time_base)
        if self._gap is not None:
            gap_start, reason = self._gap
            self._gap = None
            await asyncio.to_thread(self._store.add_gap, gap_start, start_us, reason)

    async def _cut(self, key: MediaPacket) -> None:
        """End the segment just before ``key`` and start the next one on it."""
        old = self._segment
        assert old is not None and self._anchor is not None
        decision = self._authorize()
        pts = key.pts or 0
        start_us = self._anchor.at(pts)
        observed = self._observed_us(key)
        if abs(observed - start_us) > _DRIFT_US:
            log.info("wall clock moved %.1f s against the media; following it",
                     (observed - start_us) / 1e6)
            self._anchor = _Anchor(observed, pts, key.time_base)
            start_us = observed
        if self._closing is not None:
            await self._finish_closing()
        await self._flush(old)
        self._closing = (old, pts)
        self._closing_until = pts + math.ceil(Fraction(_LATE_AUDIO) / key.time_base)
        self._segment = None  # if the next file cannot be opened, the old one finishes once
        self._segment = await self._open_file(key, start_us, decision, after_gap=False)
        self._due = pts + math.ceil(Fraction(self._segment_len) / key.time_base)
        if not self._with_audio:
            await self._finish_closing()

    async def _finish_closing(self) -> None:
        closing, self._closing = self._closing, None
        if closing is not None:
            await self._finish_segment(closing[0], closing[1], "length")

    async def _on_gap(self, marker: Discontinuity) -> None:
        """A reconnect or loss: end the segment and clips here; the gap goes to the index."""
        self._counts["dropped"] += marker.dropped
        if self._anchor is None:
            return  # nothing recorded since the last gap (or yet)
        await self._finish_closing()
        for clip in list(self._clips.values()):
            await self._finish_clip(clip, None)
        if self._ring is not None:
            self._ring.clear()
        segment, self._segment = self._segment, None
        if segment is not None:
            seg = await self._finish_segment(segment, None, "gap")
            self._gap = (to_us(seg.end), marker.reason)
            self._counts["gaps"] += 1
        self._anchor = None
        log.info("recording of %s interrupted (%s)", self._camera.url, marker.reason)

    async def _finish_all(self, ended: str) -> None:
        if self._first_decision is not None:  # stopped before the first keyframe
            self._camera._end(Action.RECORD, self._first_decision, purpose=self._purpose)
            self._first_decision = None
        await self._finish_closing()
        for clip in list(self._clips.values()):
            await self._finish_clip(clip, None)
        segment, self._segment = self._segment, None
        if segment is not None:
            await self._finish_segment(segment, None, ended)
        if self._gap is not None:
            gap_start, reason = self._gap
            self._gap = None
            end = max(gap_start, to_us(self._clock()))
            await asyncio.to_thread(self._store.add_gap, gap_start, end, reason)

    def _abort_all(self) -> None:
        """Cancelled mid-write: drop temporary files (never a half file under a final name)."""
        files = [c.file for c in self._clips.values()]
        files += [f for f in (self._segment, self._closing[0] if self._closing else None) if f]
        self._clips.clear()
        self._segment = self._closing = None
        for f in files:
            f.media.abort()
            self._camera._end(Action.RECORD, f.decision, purpose=self._purpose)

    # -- files ---------------------------------------------------------------------------

    def _authorize(self) -> Decision:
        return self._camera._authorize(Action.RECORD, self._purpose, raw=True)

    def _observed_us(self, pkt: MediaPacket) -> int:
        """The recorder's wall clock when ``pkt`` arrived."""
        return to_us(self._clock()) - round((time.monotonic() - pkt.received_at) * 1e6)

    async def _open_file(
        self, first: MediaPacket, start_us: int, decision: Decision, *, after_gap: bool,
        label: str = "",
    ) -> _OpenFile:
        assert self._session is not None and self._anchor is not None
        info = self._session.info
        assert info is not None
        try:
            rel, target = await asyncio.to_thread(self._reserve, start_us, label)
            media = await asyncio.to_thread(
                MediaFile, target, info, first, audio=self._with_audio, url=self._camera.url
            )
        except BaseException:
            self._camera._end(Action.RECORD, decision, purpose=self._purpose)
            raise
        return _OpenFile(media, rel, start_us, self._anchor, decision, time.monotonic(),
                         after_gap)

    def _reserve(self, start_us: int, label: str) -> tuple[str, Path]:
        """A free name for footage starting at ``start_us``; its day directory exists after."""
        if not self.directory.is_dir():
            raise RecordingError(
                f"the recording directory {str(self.directory)!r} is gone", url=self._camera.url
            )
        for bump in range(1000):
            rel = footage_name(from_us(start_us + bump), label=label)
            target = self.directory / rel
            if not os.path.lexists(target):
                break
        else:  # pragma: no cover - a thousand files in one millisecond
            raise RecordingError("no free file name for a segment", url=self._camera.url)
        try:
            # Never ``parents=True``: a removed camera directory must stay an error.
            if label:
                target.parent.parent.mkdir(exist_ok=True)
            target.parent.mkdir(exist_ok=True)
        except OSError as exc:
            raise RecordingError(
                f"cannot create {str(target.parent)!r}: {exc.strerror or exc}",
                url=self._camera.url,
            ) from None
        return str(rel), target

    async def _flush(self, f: _OpenFile) -> None:
        if f.batch:
            batch, f.batch = f.batch, []
            await asyncio.to_thread(f.media.write, batch)

    async def _close_file(self, f: _OpenFile, end_pts: int | None) -> FileResult:
        """Finish, commit and audit one file (the egress ends with what it wrote)."""
        try:
            await self._flush(f)
            result = await asyncio.to_thread(f.media.finish, end_pts)
        except Exception:
            await asyncio.to_thread(f.media.abort)
            self._camera._end(Action.RECORD, f.decision, purpose=self._purpose)
            raise
        except asyncio.CancelledError:
            # The worker thread may still be finishing the file; it completes or cleans up.
            self._camera._end(Action.RECORD, f.decision, purpose=self._purpose)
            raise
        self._counts["dropped"] += f.media.skipped
        self._camera._end(Action.RECORD, f.decision, items=result.video_packets,
                          nbytes=result.bytes, duration=time.monotonic() - f.opened,
                          purpose=self._purpose)
        self._counts["bytes"] += result.bytes
        return result

    async def _finish_segment(self, f: _OpenFile, end_pts: int | None, ended: str) -> Segment:
        result = await self._close_file(f, end_pts)
        tb = f.media.time_base
        end_us = f.anchor.at(result.end_pts)
        seg = Segment(
            path=self.directory / f.rel, start=from_us(f.start_us), end=from_us(end_us),
            media_start=float(result.start_pts * tb), media_end=float(result.end_pts * tb),
            start_pts=result.start_pts, end_pts=result.end_pts, time_base=tb,
            bytes=result.bytes, video_packets=result.video_packets,
            audio_packets=result.audio_packets, after_gap=f.after_gap, ended=ended,
        )
        await asyncio.to_thread(self._store.add_segment, f.rel, seg, f.start_us, end_us)
        self._finished.append(seg)
        self._counts["segments"] += 1
        self._notify()
        await self._retain()
        return seg

    # -- retention -----------------------------------------------------------------------

    async def _retain(self) -> None:
        retention = self._retention
        if retention is None:
            return
        now_us = to_us(self._clock())
        files = await asyncio.to_thread(self._store.stored_files)
        victims = plan(files, retention, now_us)
        cutoff = cutoff_us(retention, now_us)
        if not victims and cutoff is None:
            return
        audited = []
        try:
            for victim in victims:
                f = victim.file
                # Audited before the file goes: the log never misses a deletion.
                self._camera._gate.record(self._camera._ref, {
                    "event": "recording.deleted",
                    "principal": self._camera.principal.id,
                    "path": f.path,
                    "start": from_us(f.start_us).isoformat(),
                    "end": from_us(f.end_us).isoformat(),
                    "bytes": f.bytes,
                    "reason": victim.reason,
                })
                audited.append(victim)
        finally:
            removed = await asyncio.to_thread(delete, self._store, audited, cutoff)
            self._counts["deleted"] += len(removed)
            if removed:
                gone = set(removed)
                kept = [s for s in self._finished if s.path not in gone]
                self._finished.clear()
                self._finished.extend(kept)

    # -- event clips ---------------------------------------------------------------------

    async def _watch_events(self, stream: EventStream) -> None:
        try:
            async for event in stream:
                self._on_event(event)
        except AccessDeniedError as exc:
            log.warning("event clips of %s stopped: %s", self._camera.url, exc)
        except CamError as exc:
            log.warning("event clips of %s stopped: %s", self._camera.url, exc)

    def _on_event(self, event: CameraEvent) -> None:
        cfg = self._clip_cfg
        assert cfg is not None
        if cfg.kinds is None and event.kind is EventKind.STREAM_STATE:
            return  # stream health is not footage-worthy unless asked for
        if cfg.kinds is not None and event.kind not in cfg.kinds:
            return
        key = event.event_id or f"{event.kind.value}@{event.started_at.isoformat()}"
        if event.active:
            if key in self._started_events:
                return  # an update of an event already being clipped
            self._started_events[key] = None
            while len(self._started_events) > _MAX_REQUESTS * 4:
                self._started_events.popitem(last=False)
            request = ClipRequest(key, event, True, False, time.monotonic())
        elif key in self._started_events:
            del self._started_events[key]
            request = ClipRequest(key, event, False, False, time.monotonic())
        else:
            request = ClipRequest(key, event, True, True, time.monotonic())
        if len(self._requests) >= _MAX_REQUESTS:
            self._counts["clips_skipped"] += 1
            return
        self._requests.append(request)

    async def _feed_clips(self, pkt: MediaPacket) -> None:
        if self._ring is None:
            return
        for clip in list(self._clips.values()):
            if pkt.kind == "video" and (pkt.pts or 0) >= clip.stop_pts:
                await self._finish_clip(clip, pkt.pts)
                continue
            clip.file.batch.append(pkt)
            if len(clip.file.batch) >= _BATCH:
                await self._flush(clip.file)
        self._ring.add(pkt)
        if pkt.kind == "video":
            while self._requests and self._requests[0].at <= pkt.received_at:
                request = self._requests.popleft()
                if request.start:
                    await self._open_clip(request, pkt)
                else:
                    await self._end_clip(request, pkt)

    async def _open_clip(self, request: ClipRequest, now: MediaPacket) -> None:
        cfg, ring, anchor = self._clip_cfg, self._ring, self._anchor
        assert cfg is not None and ring is not None and anchor is not None
        if request.key in self._clips:
            return
        tb = now.time_base
        pts = now.pts or 0
        event_us = anchor.at(pts)
        row = await asyncio.to_thread(self._store.add_event, request.key, request.event.kind,
                                      event_us)
        self._event_rows[request.key] = row
        while len(self._event_rows) > _MAX_REQUESTS * 4:
            self._event_rows.popitem(last=False)
        if request.moment:
            await asyncio.to_thread(self._store.set_event_end, row, event_us)
        if len(self._clips) >= _MAX_CLIPS:
            self._counts["clips_skipped"] += 1
            return
        past = ring.since(pts - math.ceil(Fraction(cfg.before) / tb))
        first = past[0]
        decision = self._authorize()
        file = await self._open_file(first, anchor.at(first.pts or 0), decision,
                                     after_gap=False, label=request.event.kind.value)
        file.batch.extend(past)
        follow = cfg.after if request.moment else cfg.max_length + cfg.after
        stop = pts + math.ceil(Fraction(follow) / tb)
        self._clips[request.key] = _Clip(request.key, row, event_us if request.moment else None,
                                         stop, file)

    async def _end_clip(self, request: ClipRequest, now: MediaPacket) -> None:
        cfg, anchor = self._clip_cfg, self._anchor
        assert cfg is not None and anchor is not None
        pts = now.pts or 0
        end_us = anchor.at(pts)
        clip = self._clips.get(request.key)
        if clip is not None:
            clip.end_us = end_us
            clip.stop_pts = min(clip.stop_pts, pts + math.ceil(Fraction(cfg.after) / now.time_base))
            return
        row = self._event_rows.get(request.key)
        if row is not None:
            await asyncio.to_thread(self._store.set_event_end, row, end_us)

    async def _finish_clip(self, clip: _Clip, end_pts: int | None) -> None:
        self._clips.pop(clip.key, None)
        result = await self._close_file(clip.file, end_pts)
        await asyncio.to_thread(
            self._store.finish_event, clip.row, end_us=clip.end_us, clip=clip.file.rel,
            clip_start_us=clip.file.start_us, clip_end_us=clip.file.anchor.at(result.end_pts),
            clip_bytes=result.bytes,
        )
        self._counts["clips"] += 1
        self._notify()


def _model(cls: Any, value: Any, name: str, url: str) -> Any:
    """``value`` as a ``cls`` model (a model, a mapping, or ``None``); else `ConfigurationError`."""
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        from pydantic import ValidationError

        try:
            return cls.model_validate(dict(value))
        except ValidationError as exc:
            raise ConfigurationError(f"invalid {name}: {exc.errors()[0]['msg']}", url=url) from None
    raise ConfigurationError(f"{name} must be a camsdk.{cls.__name__}", url=url)


async def _finish_even_if_cancelled(work: Any) -> Any:
    """Run ``work`` to its end even if the caller is cancelled meanwhile; then re-raise that.

    Stopping a recorder finalises files, which must not be cut short by the
    very cancellation that made the caller leave its ``async with`` block.
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()
