"""`Recorder`: continuous recording in segments, event clips, an index and retention.

A recorder is one packet consumer of the camera profile's shared
`StreamSession` (no second upstream), primed from the prebuffer so the first
segment starts on a keyframe. This module holds the public object: its
lifecycle, access check, directory, index, retention and counters. The
recording task itself is the `FootageWriter` (segments, gaps) with an
`EventClipper` (event clips) when asked for.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._access import Action
from .._errors import CamError, ConfigurationError, RecordingError
from .._log import get_logger
from .._models import Capability
from ._clips import EventClipper
from ._files import camera_dirname
from ._footage import FootageWriter
from ._index import IndexStore, RecordingIndex, from_us, to_us
from ._models import EventClips, RecorderStats, Retention, Segment
from ._retention import cutoff_us, delete, plan

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera
    from .._event_stream import EventStream
    from .._pipeline._session import PacketConsumer, StreamSession

__all__ = ["Recorder"]

log = get_logger("camsdk.recorder")

_QUEUE = 4096  # the recorder's packet queue (about a minute of 1080p30 with audio)
_KEPT_SEGMENTS = 1024
_LOCK_NAME = ".recorder.lock"


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        self._clipper: EventClipper | None = None
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
            with_audio = self._audio and info.has_audio
            if self._clip_cfg is not None:
                self._clipper = EventClipper(self._clip_cfg, info.time_base, self._store,
                                             self._counts, self._notify)
            writer = FootageWriter(
                camera=camera, session=session, store=self._store, directory=self.directory,
                segment=self._segment_len, purpose=self._purpose, with_audio=with_audio,
                clock=self._clock, first_decision=decision, counts=self._counts,
                finished=self._finished, on_segment=self._retain, notify=self._notify,
                clipper=self._clipper,
            )
            self._consumer = session.attach_packets(audio=with_audio, queue_size=_QUEUE)
        except BaseException:
            camera._end(Action.RECORD, decision, purpose=self._purpose)
            await self._release()
            self._state = "closed"
            raise
        self._state = "running"
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._record(writer, self._consumer),
                                      name=f"camsdk-recorder {camera.url}")
        if self._event_stream is not None and self._clipper is not None:
            self._events_task = loop.create_task(
                self._watch_events(self._event_stream, self._clipper),
                name=f"camsdk-recorder-events {camera.url}",
            )

    async def _record(self, writer: FootageWriter, consumer: PacketConsumer) -> None:
        """The recording task: the writer's run, then let go of the stream at once."""
        try:
            self._error = await writer.run(consumer.queue)
        finally:
            if self._session is not None:
                self._session.detach_packets(consumer)
            if self._events_task is not None:
                self._events_task.cancel()
            self._notify()

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

    async def _watch_events(self, stream: EventStream, clipper: EventClipper) -> None:
        try:
            async for event in stream:
                clipper.on_event(event)
        except CamError as exc:  # a revoked subscription, a failed device: clips stop
            log.warning("event clips of %s stopped: %s", self._camera.url, exc)


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
