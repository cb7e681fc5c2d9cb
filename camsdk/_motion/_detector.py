"""`MotionDetector`: software motion on a camera's stream, published as MOTION events.

``async with cam.motion(...) as detector`` opens the camera's stream through
the facade (``stream.open`` and ``frames`` are decided by the access policy
and audited, like any consumer), reads grey frames at a low rate or
keyframes only, analyses them in a worker thread of its own
(``camsdk-motion-N``) and publishes per-zone activities through the camera's
event pipeline, so they reach every ``cam.events()`` subscriber (and the MQTT
bridge). Nothing runs while the block is not open.

Memory is bounded: the frame queue holds two frames (the oldest is dropped
when analysis falls behind, and counted), the worker one, the background one
small float picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from .._errors import CameraClosedError, ConfigurationError
from .._lifecycle import AsyncResource
from .._log import get_logger
from .._media import Discontinuity, VideoFrame
from .._models import CameraEvent
from ._analysis import FrameAnalysis, MotionAnalyzer, default_min_area
from ._tracker import MotionTracker
from ._zones import MotionZone, parse_zones, zone_names

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera
    from .._stream import FrameIterator, MediaStream

__all__ = ["MotionDetector", "MotionSettings", "MotionStats"]

log = get_logger("camsdk.motion")

DEFAULT_FPS = 2.0
#: Analysing more often than this only costs CPU: motion is slow next to it.
MAX_FPS = 30.0
MAX_HOLD = 3600.0
# Frames queued for the detector; analysis is far faster than any of them arrive.
_QUEUE_SIZE = 2
# How long stopping waits for the worker's current frame (analysis takes milliseconds).
_STOP_TIMEOUT = 5.0
_thread_ids = itertools.count(1)
# Frame gaps longer than this are outages (reconnects), not the frame rate.
_MAX_INTERVAL = 30.0

DetectorState = Literal["new", "running", "stopped", "closed"]


@dataclass(frozen=True, slots=True)
class MotionSettings:
    """The validated arguments of `camsdk.Camera.motion`."""

    sensitivity: float
    zones: tuple[MotionZone, ...]
    fps: float | None
    keyframes_only: bool
    min_area: float
    hold: float
    profile: str | None
    purpose: str


class MotionStats(BaseModel):
    """Counters of a `MotionDetector` (``detector.stats``)."""

    model_config = ConfigDict(frozen=True)

    #: ``new``, ``running``, ``stopped`` (the stream ended or failed) or ``closed``.
    state: DetectorState
    #: Frames analysed (the first one only starts the background).
    frames: int
    #: Frames lost because analysis fell behind (the queue keeps the newest).
    dropped: int
    #: Motion activities started (one per zone and activity).
    events: int
    #: Zones with an activity in progress (``None`` is the whole picture).
    active_zones: tuple[str | None, ...]
    #: Frames in which most of the picture changed at once (not counted as motion).
    global_changes: int
    #: CPU seconds the analysis took in the worker thread (decoding not included:
    #: it happens once per stream in the shared decoder).
    cpu_seconds: float
    #: The current luma threshold and noise estimate (0..255 scale, for tuning).
    threshold: float
    noise: float


def _number(value: object, name: str, url: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a finite number", url=url)
    return float(value)


def motion_settings(
    camera: Camera,
    *,
    sensitivity: object,
    zones: object,
    fps: object,
    keyframes_only: object,
    min_area: object,
    hold: object,
    profile: object,
    purpose: object,
) -> MotionSettings:
    """Validate `camsdk.Camera.motion`'s arguments; any problem is a `ConfigurationError`."""
    url = camera.url
    s = _number(sensitivity, "sensitivity", url)
    if not 0.0 <= s <= 1.0:
        raise ConfigurationError("sensitivity must be between 0 and 1", url=url)
    if not isinstance(keyframes_only, bool):
        raise ConfigurationError("keyframes_only must be True or False", url=url)
    rate: float | None = None
    if keyframes_only:
        if fps is not None:
            raise ConfigurationError("give fps or keyframes_only=True, not both", url=url)
    else:
        rate = DEFAULT_FPS if fps is None else _number(fps, "fps", url)
        if not 0.0 < rate <= MAX_FPS:
            raise ConfigurationError(f"fps must be > 0 and <= {MAX_FPS:g}", url=url)
    area = default_min_area(s) if min_area is None else _number(min_area, "min_area", url)
    if not 0.0 < area <= 1.0:
        raise ConfigurationError("min_area must be a fraction of the zone: > 0 and <= 1", url=url)
    seconds = _number(hold, "hold", url)
    if not 0.0 < seconds <= MAX_HOLD:
        raise ConfigurationError(f"hold must be > 0 and <= {MAX_HOLD:g} seconds", url=url)
    if profile is not None:
        if not isinstance(profile, str) or not profile:
            raise ConfigurationError("profile must be a profile name or None", url=url)
        known = [p.name for p in camera.info.profiles]
        if known and profile not in known:
            raise ConfigurationError(
                f"unknown profile {profile!r}; this camera has {', '.join(known)}", url=url
            )
    if not isinstance(purpose, str):
        raise ConfigurationError("purpose must be a string", url=url)
    return MotionSettings(
        sensitivity=s,
        zones=parse_zones(zones, url=url),
        fps=rate,
        keyframes_only=keyframes_only,
        min_area=area,
        hold=seconds,
        profile=profile,
        purpose=purpose,
    )


def cheapest_profile(camera: Camera) -> str | None:
    """The camera's profile with the fewest pixels, when it says their sizes."""
    sized = [p for p in camera.info.profiles if p.width and p.height]
    if not sized:
        return None
    return min(sized, key=lambda p: (p.width or 0) * (p.height or 0)).name


class _AnalysisThread:
    """One worker thread running a `MotionAnalyzer`, one frame at a time."""

    def __init__(self, analyzer: MotionAnalyzer) -> None:
        self._analyzer = analyzer
        self._loop = asyncio.get_running_loop()
        self._cond = threading.Condition()
        self._job: tuple[VideoFrame, asyncio.Future[FrameAnalysis]] | None = None
        self._quit = False
        self._exited: asyncio.Future[None] = self._loop.create_future()
        #: CPU seconds spent analysing (written by the worker only).
        self.cpu_seconds = 0.0
        self._thread = threading.Thread(
            target=self._run, name=f"camsdk-motion-{next(_thread_ids)}", daemon=True
        )
        self._thread.start()

    async def analyse(self, frame: VideoFrame) -> FrameAnalysis:
        """Analyse ``frame`` in the worker; only one frame is ever in flight."""
        future: asyncio.Future[FrameAnalysis] = self._loop.create_future()
        with self._cond:
            if self._quit:
                raise CameraClosedError("the motion detector is stopping")
            self._job = (frame, future)
            self._cond.notify()
        return await future

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._job is None and not self._quit:
                    self._cond.wait()
                if self._quit:
                    break
                job, self._job = self._job, None
            assert job is not None
            frame, future = job
            started = time.thread_time()
            try:
                gray = frame.to_ndarray()
                result: FrameAnalysis | None = self._analyzer.analyse(gray, frame.received_at)
                error: BaseException | None = None
            except Exception as exc:  # handed to the awaiting task, not lost in the thread
                result, error = None, exc
            self.cpu_seconds += time.thread_time() - started
            self._post(_settle, future, result, error)
        self._post(_settle, self._exited, None, None)

    def _post(self, *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(*args)
        except RuntimeError:  # the event loop is closed: nobody is waiting any more
            pass

    async def stop(self) -> None:
        """Stop the thread and wait (bounded) until it has exited."""
        with self._cond:
            self._quit = True
            self._job = None
            self._cond.notify()
        try:
            async with asyncio.timeout(_STOP_TIMEOUT):
                await asyncio.shield(self._exited)
                # The thread posted its last word and has only to return; wait for
                # that without blocking the loop (a join here would), so no
                # thread outlives `aclose`.
                while self._thread.is_alive():
                    await asyncio.sleep(0.001)
        except TimeoutError:
            log.warning("motion analysis thread did not stop within %s s", _STOP_TIMEOUT)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the waiter was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class MotionDetector(AsyncResource):
    """Software motion detection on one camera; get one from `camsdk.Camera.motion`.

    Use ``async with`` (or `start` and `aclose`): it runs in the background
    while open and publishes MOTION events labelled ``vendor="camsdk"``,
    ``extra["detector"] == "software"`` through the camera's event pipeline.
    A detector runs once; make a new one to start again.
    """

    def __init__(
        self,
        camera: Camera,
        settings: MotionSettings,
    ) -> None:
        self._camera = camera
        self.settings = settings
        self._state: DetectorState = "new"
        self._stream: MediaStream | None = None
        self._frames: FrameIterator | None = None
        self._thread: _AnalysisThread | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._analyzer = MotionAnalyzer(
            settings.zones, sensitivity=settings.sensitivity, min_area=settings.min_area
        )
        self._tracker: MotionTracker | None = None
        self._frames_analysed = 0
        self._global_changes = 0
        self._last: FrameAnalysis | None = None

    def __repr__(self) -> str:
        return f"<MotionDetector {self._camera.url} {self._state}>"

    @property
    def running(self) -> bool:
        """Whether frames are being analysed."""
        return self._state == "running"

    @property
    def error(self) -> BaseException | None:
        """Why the detector stopped on its own (access revoked, stream failure), if it did."""
        return self._error

    @property
    def profile(self) -> str | None:
        """The stream profile analysed (known once started)."""
        return self._stream.profile if self._stream is not None else self.settings.profile

    @property
    def stats(self) -> MotionStats:
        """Counters: frames analysed and dropped, events, CPU seconds, current threshold."""
        last = self._last
        tracker = self._tracker
        return MotionStats(
            state=self._state,
            frames=self._frames_analysed,
            dropped=self._frames.dropped if self._frames is not None else 0,
            events=tracker.started if tracker is not None else 0,
            active_zones=tracker.active_zones if tracker is not None else (),
            global_changes=self._global_changes,
            cpu_seconds=self._thread.cpu_seconds if self._thread is not None else 0.0,
            threshold=last.threshold if last is not None else 0.0,
            noise=last.noise if last is not None else 0.0,
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> MotionDetector:
        """Open the stream and the frame iterator (both audited) and start analysing.

        Raises `AccessDeniedError` when the principal may not read frames,
        and the stream's own errors when it cannot be opened.
        """
        if self._state != "new":
            raise CameraClosedError(
                "a motion detector runs once; call cam.motion() again",
                scheme=self._camera.scheme,
                url=self._camera.url,
            )
        camera = self._camera
        settings = self.settings
        camera._require_open()
        self._state = "running"
        try:
            profile = settings.profile or cheapest_profile(camera)
            stream = self._stream = camera.stream(profile, audio=False, purpose=settings.purpose)
            await stream.open()
            self._frames = stream.frames(
                fps=settings.fps,
                keyframes_only=settings.keyframes_only,
                format="gray",
                queue_size=_QUEUE_SIZE,
                purpose=settings.purpose,
            )
            self._tracker = MotionTracker(
                camera_id=camera.id,
                zones=zone_names(settings.zones),
                hold=settings.hold,
                extra={
                    "profile": stream.profile,
                    "sensitivity": settings.sensitivity,
                    "min_area": round(settings.min_area, 4),
                },
            )
            self._thread = _AnalysisThread(self._analyzer)
        except BaseException:
            self._state = "closed"
            await self._release()
            raise
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"camsdk-motion-{camera.id}"
        )
        return self

    async def aclose(self) -> None:
        """Stop analysing, end the activities in progress, release the stream. Idempotent."""
        if self._state == "closed":
            return
        self._state = "closed"
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._release()

    async def _release(self) -> None:
        if self._thread is not None:
            await self._thread.stop()
        if self._frames is not None:
            await self._frames.aclose()
        if self._stream is not None:
            await self._stream.aclose()

    async def _on_enter(self) -> None:
        await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        # Like a task group: a detector that failed in the background says so on exit.
        if exc_type is None and self._error is not None:
            raise self._error

    # -- the background task -------------------------------------------------------------

    async def _run(self) -> None:
        frames, thread, tracker = self._frames, self._thread, self._tracker
        assert frames is not None and thread is not None and tracker is not None

        async def next_frame() -> VideoFrame | Discontinuity | None:
            try:
                return await frames.__anext__()
            except StopAsyncIteration:
                return None

        pending: asyncio.Task[VideoFrame | Discontinuity | None] | None = None
        last_frame_at: float | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(next_frame())
                deadline = tracker.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                done, _ = await asyncio.wait({pending}, timeout=timeout)
                if not done:
                    await self._publish(tracker.due(time.monotonic()))
                    continue
                item, pending = pending.result(), None
                if item is None:
                    break  # the stream or the camera closed
                if isinstance(item, Discontinuity):
                    continue
                if last_frame_at is not None:
                    interval = item.received_at - last_frame_at
                    if 0.0 < interval < _MAX_INTERVAL:
                        # Smoothed: a frame dropped now and then must not stretch the hold.
                        known = tracker.frame_interval
                        tracker.frame_interval = (
                            interval if known == 0.0 else known + 0.25 * (interval - known)
                        )
                last_frame_at = item.received_at
                analysis = await thread.analyse(item)
                self._frames_analysed += 1
                self._last = analysis
                if analysis.state == "global_change":
                    self._global_changes += 1
                # Hold times run on the clock of the analysis (not of the packet), the
                # clock the quiet-timer above runs on: a late frame cannot end an
                # activity that it would itself have extended.
                await self._publish(tracker.observe(analysis, time.monotonic()))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._error = exc
            log.warning("software motion on %s stopped: %s", self._camera.url, exc)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
            if self._state == "running":
                self._state = "stopped"
            await self._publish(tracker.close())
            await thread.stop()  # also when the camera closed under a detector left open

    async def _publish(self, events: Iterable[CameraEvent]) -> None:
        for event in events:
            try:
                await self._camera.publish_event(event)
            except CameraClosedError:
                return  # the camera closed under us: nobody can listen any more


def detector_for(camera: Camera, **arguments: Any) -> MotionDetector:
    """Build a detector for ``camera`` from `camsdk.Camera.motion`'s arguments."""
    return MotionDetector(camera, motion_settings(camera, **arguments))
