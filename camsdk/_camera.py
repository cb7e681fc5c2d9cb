"""The `Camera` facade: one object per camera, the same for every driver, and the only door.

Every public method does the generic work here, once: lifecycle checks, the
capability gate, the access decision and its audit record (`AccessGate`),
deadlines, translation of foreign errors, the shared media pipeline, the
snapshot fallback from the stream's keyframe, privacy masks. Drivers only
answer the narrow questions of `camsdk.driver.CameraDriver`; no public name
of this class hands out the driver, a stream URL or anything that reaches
media without passing the gate. Recording, snapshots from the stream, PTZ,
event streams and two-way audio live in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ._access import Action, Decision, Principal
from ._device_care import RequestContext, current_request, request_context
from ._driver import CameraDriver
from ._errors import (
    CameraClosedError,
    CameraConnectionError,
    CameraProtocolError,
    CamError,
    ConfigurationError,
    PrivacyModeError,
    UnsupportedCapabilityError,
)
from ._gate import AccessGate, CameraRef
from ._lifecycle import AsyncResource
from ._log import get_logger
from ._models import (
    CameraConfig,
    CameraEvent,
    CameraInfo,
    Capability,
    DeviceRecording,
    EventKind,
    Recording,
    Snapshot,
    StreamState,
)
from ._translate import call_with_deadline
from ._url import CameraURL, redact_text

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from ._event_stream import EventStream
    from ._events import EventPipeline
    from ._motion import MotionDetector, MotionZone
    from ._pipeline._session import StreamSession, Upstream
    from ._ptz import PTZControl
    from ._recorder import EventClips, Recorder, Retention
    from ._stream import MediaStream
    from ._talk import Speaker

__all__ = ["LIVE_CAMERAS", "Camera", "CameraState"]

log = get_logger("camsdk.camera")
T = TypeVar("T")

#: Live objects, so test fixtures can fail a test that leaks one.
LIVE_CAMERAS: weakref.WeakSet[Camera] = weakref.WeakSet()

_DEFAULT_IDLE_CLOSE = 5.0


class CameraState(enum.Enum):
    """Lifecycle of a `Camera`: NEW -> CONNECTING -> OPEN -> CLOSED (no way back)."""

    NEW = "new"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


class Camera(AsyncResource):
    """One camera, whatever its vendor. Create with `camsdk.open`; use ``async with``.

    `camsdk.open` does no I/O; `connect` (or entering the context) talks to the
    device. A closed camera cannot be reopened.
    """

    def __init__(
        self,
        driver: CameraDriver[Any],
        *,
        url: CameraURL,
        gate: AccessGate,
        owns_driver: bool = True,
    ) -> None:
        self._driver = driver
        driver._audit_hook = self._driver_audit  # type: ignore[attr-defined]
        self._redacted = url.redacted()
        self.scheme = url.scheme
        self._gate = gate
        self.state = CameraState.NEW
        self._info: CameraInfo | None = None
        self._sessions: dict[str, StreamSession] = {}
        self._streams: set[MediaStream] = set()
        self._events: EventPipeline | None = None
        self._ptz: PTZControl | None = None
        self._owns_driver = owns_driver
        self._tasks: set[asyncio.Task[Any]] = set()
        # The longest pre-roll asked for: every session of this camera keeps that much.
        self._prebuffer = 0.0
        # Privacy mode as last read or set (None: unknown or not supported).
        self._privacy: bool | None = None
        LIVE_CAMERAS.add(self)

    # -- identity ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The camera URL with credentials redacted."""
        return self._redacted

    @property
    def id(self) -> str:
        """A stable identifier: the device's id once connected, else from the URL."""
        return self._info.id if self._info is not None else self._driver.camera_id

    @property
    def principal(self) -> Principal:
        """Who this camera object acts for (every egress is decided for them)."""
        return self._gate.principal

    @property
    def config(self) -> CameraConfig:
        """Deadlines, buffering and reconnect policy of this camera."""
        return self._driver.config

    @property
    def driver_name(self) -> str:
        """The driver's display name (``"RTSP camera"``, ``"Virtual camera"`` ...)."""
        return self._driver.display_name or type(self._driver).__name__

    @property
    def info(self) -> CameraInfo:
        """What the device said about itself in `connect`."""
        self._require_open()
        assert self._info is not None
        return self._info

    @property
    def capabilities(self) -> Capability:
        """What this camera can do (after `connect`: what the device reported)."""
        return self._driver.capabilities

    def supports(self, capability: Capability) -> bool:
        """Whether every flag in ``capability`` is supported."""
        return capability in self.capabilities

    @property
    def extensions(self) -> frozenset[str]:
        """Names of the driver's vendor extras, callable with `call_extension`."""
        return frozenset(type(self._driver).extensions)

    @property
    def _ref(self) -> CameraRef:
        return CameraRef(self.id, self._redacted, self.scheme)

    @property
    def _root(self) -> Camera:
        """The camera that owns the device (itself, unless it is a `SharedCamera`)."""
        return self

    def acting_for(self, principal: Principal | str) -> Camera:
        """This camera as ``principal``'s door: same device and shared streams, their decisions.

        For processes that serve cameras onward (``camsdk serve``): every
        egress of the returned camera is decided by this camera's policy for
        ``principal``, audited under their name and masked with their grant's
        masks, while media comes from the one shared upstream. Close it with
        ``aclose`` (the device stays open); closing this camera ends it too.
        Only a camera opened for the policy's owner may do this; for anyone
        else it raises `AccessDeniedError` (and the refusal is audited).
        """
        from ._camera_view import SharedCamera
        from ._errors import AccessDeniedError
        from ._gate import coerce_principal

        self._require_open()
        other = coerce_principal(principal, url=self.url)
        # Only the owner's door can become someone else's: a camera opened for a
        # neighbour must not turn itself into the owner's.
        owner = getattr(self._gate.policy, "owner", None)
        owner_id = owner.id if isinstance(owner, Principal) else "owner"
        if self.principal.id != owner_id:
            reason = "only the owner's camera can act for another principal"
            self._gate.record(self._ref, {
                "event": "access", "principal": self.principal.id, "action": "acting_for",
                "purpose": "", "allowed": False, "reason": reason, "grant_id": None,
            })
            raise AccessDeniedError(f"acting_for denied for {self.principal}: {reason}",
                                    scheme=self.scheme, url=self.url, reason=reason)
        return SharedCamera(self, other)

    def __repr__(self) -> str:
        return f"<Camera {self._redacted} {self.state.value}>"

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> Camera:
        """Connect to the device (``connect_timeout``). Raises typed errors."""
        if self.state is CameraState.OPEN:
            return self
        if self.state is not CameraState.NEW:
            raise CameraClosedError(
                "a camera can be connected once; open a new one", scheme=self.scheme, url=self.url
            )
        self.state = CameraState.CONNECTING
        try:
            if not self.config.verify_tls:
                log.warning("TLS verification is disabled for %s", self._redacted)
                self._gate.record(self._ref, {"event": "tls.insecure"})
            self._info = await self._call(self._driver.connect(), self.config.connect_timeout)
        except BaseException:
            self.state = CameraState.CLOSED
            with contextlib.suppress(Exception):
                await self._driver.close()
            LIVE_CAMERAS.discard(self)
            raise
        self.state = CameraState.OPEN
        if Capability.PRIVACY_MODE in self.capabilities:
            with contextlib.suppress(CamError):
                self._privacy = await self._call(
                    self._driver.privacy_mode(), self.config.request_timeout
                )
        return self

    async def aclose(self) -> None:
        """Close streams, event subscriptions and the driver. Idempotent."""
        if self.state is CameraState.CLOSED and not self._sessions and self._events is None:
            LIVE_CAMERAS.discard(self)
            return
        self.state = CameraState.CLOSED
        for stream in list(self._streams):
            await stream.aclose()
        for session in list(self._sessions.values()):
            await session.aclose()
        self._sessions.clear()
        if self._events is not None:
            await self._events.aclose()
            self._events = None
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._owns_driver:
            with contextlib.suppress(Exception):
                await self._driver.close()
        LIVE_CAMERAS.discard(self)

    async def _on_enter(self) -> None:
        await self.connect()

    def _require_open(self) -> None:
        if self.state is not CameraState.OPEN:
            if self.state is CameraState.CLOSED:
                raise CameraClosedError("camera is closed", scheme=self.scheme, url=self.url)
            raise CameraClosedError(
                "camera is not connected: use `async with camsdk.open(...)` or "
                "`await cam.connect()`",
                scheme=self.scheme,
                url=self.url,
            )

    def _require(self, capability: Capability) -> None:
        self._require_open()
        if capability not in self.capabilities:
            why = self._driver.missing_reason(capability)
            raise UnsupportedCapabilityError(
                f"{self.driver_name} does not support {'/'.join(capability.names())}"
                + (f": {why}" if why else ""),
                scheme=self.scheme,
                url=self.url,
            )

    def _check_profile(self, profile: str | None) -> str | None:
        """``profile`` if the camera has it (by name or token); else a `ConfigurationError`.

        Checked at the call, from what `connect` reported, so a typo fails at
        once instead of after a stream's open deadline.
        """
        if profile is None:
            return None
        if not isinstance(profile, str) or not profile:
            raise ConfigurationError("profile must be a non-empty string", url=self.url)
        known = self._info.profiles if self._info is not None else ()
        if known and not any(profile in (p.name, p.token) for p in known):
            names = ", ".join(p.name for p in known)
            raise ConfigurationError(
                f"unknown profile {profile!r} (this camera has: {names})",
                scheme=self.scheme, url=self.url,
            )
        return profile

    async def _call(
        self, awaitable: Awaitable[T], timeout: float, request: RequestContext | None = None
    ) -> T:
        """Await a driver call under a deadline, translating foreign errors.

        ``request`` is what `camsdk.driver.current_request` tells the driver
        meanwhile (who asks, for what).
        """
        try:
            if request is None:
                return await call_with_deadline(
                    awaitable, timeout, scheme=self.scheme, url=self.url
                )
            with request_context(request):
                return await call_with_deadline(
                    awaitable, timeout, scheme=self.scheme, url=self.url
                )
        except PrivacyModeError:
            self._privacy = True  # the device said so, whoever switched it
            raise

    def _request(self, action: Action, purpose: str = "", **wishes: Any) -> RequestContext:
        """The request context of ``action`` for this camera's principal."""
        return RequestContext(principal=self.principal, action=action, purpose=purpose, **wishes)

    def _acquire(self, session: StreamSession, request: RequestContext) -> None:
        """Use ``session``; an upstream it starts serves ``request`` (wakes are attributed)."""
        with request_context(request):
            session.acquire()

    def _driver_audit(self, fields: dict[str, Any]) -> None:
        """A driver's own audit record, naming whom it acted for."""
        request = current_request()
        self._gate.record(self._ref, {**fields, "principal": request.principal.id,
                                      "purpose": request.purpose})

    # -- the egress seam -----------------------------------------------------------------

    def _authorize(self, action: Action, purpose: str = "", *, raw: bool = False) -> Decision:
        """Ask the gate (policy, raw-media rule, audit); raise if denied."""
        self._require_open()
        if not isinstance(purpose, str):
            raise ConfigurationError("purpose must be a string", url=self.url)
        return self._gate.authorize(self._ref, action, purpose, raw=raw)

    def _end(
        self,
        action: Action,
        decision: Decision,
        *,
        items: int = 0,
        nbytes: int = 0,
        duration: float = 0.0,
        purpose: str = "",
    ) -> None:
        self._gate.end(self._ref, action, decision, items=items, nbytes=nbytes,
                       duration=duration, purpose=purpose)

    def _frame_transform(self, decision: Decision) -> Callable[[Any, bool], Any] | None:
        mask_set = self._gate.mask_set(decision)
        if mask_set is None:
            return None

        def apply(frame: Any, owned: bool) -> Any:
            # A frame converted for this consumer is its own: mask it without a copy.
            return mask_set.apply(frame, in_place=owned)

        return apply

    # -- media ---------------------------------------------------------------------------

    def _default_profile(self) -> str:
        info = self._info
        if info is not None and info.profiles:
            return info.profiles[0].name
        return "main"

    def _running_session(self) -> StreamSession | None:
        return next((s for s in self._sessions.values() if not s.closed and s.info), None)

    def _session(self, profile: str | None) -> StreamSession:
        from ._pipeline._session import StreamSession

        name = profile or self._default_profile()
        session = self._sessions.get(name)
        if session is not None and not session.closed:
            return session
        idle = self.config.idle_close
        if idle is None:
            idle = 0.0 if self._driver.battery_powered else _DEFAULT_IDLE_CLOSE
        session = StreamSession(
            name=name,
            open_upstream=lambda: self._open_upstream(name),
            config=self.config,
            idle_close=idle,
            url=self._redacted,
            scheme=self.scheme,
            on_state=lambda state, detail: self._on_stream_state(name, state, detail),
            on_closed=lambda s: self._forget_session(name, s),
        )
        session.reserve_prebuffer(self._prebuffer)
        self._sessions[name] = session
        return session

    def _reserve_prebuffer(self, seconds: float) -> None:
        """Keep ``seconds`` of media buffered from now on, in every session of this camera."""
        self._prebuffer = max(self._prebuffer, seconds)
        for session in self._sessions.values():
            session.reserve_prebuffer(seconds)

    async def _open_upstream(self, profile: str) -> Upstream:
        from ._upstream import open_upstream

        driver = self._driver
        timeout = self.config.open_timeout
        if type(driver).overrides("open_stream"):
            try:
                return await self._call(driver.open_stream(profile), timeout)
            except UnsupportedCapabilityError:
                pass  # this device's stream has a URL after all (e.g. HLS behind HTTP)
        source = await self._call(driver.stream_source(profile), timeout)
        return await open_upstream(
            source, self._ref, config=self.config, local_ok=type(driver).local_sources,
            hosts=driver.allowed_hosts(),
        )

    def _forget_session(self, name: str, session: StreamSession) -> None:
        if self._sessions.get(name) is session:
            del self._sessions[name]

    def _on_stream_state(self, profile: str, state: StreamState, detail: str) -> None:
        if state is StreamState.PRIVACY_MODE:
            self._privacy = True  # the device said so, whoever switched it
        events = self._events
        if events is None or not events.subscribers:
            return
        event = CameraEvent(
            kind=EventKind.STREAM_STATE,
            camera_id=self.id,
            event_id=f"stream:{profile}",
            active=state is StreamState.STREAMING,
            vendor="camsdk",
            topic=f"stream/{profile}/{state.value}",
            extra={"profile": profile, "state": state.value, "detail": redact_text(detail)},
        )
        self._spawn(events.publish(event))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stream(
        self, profile: str | None = None, *, audio: bool = True, purpose: str = ""
    ) -> MediaStream:
        """A handle on ``profile``'s shared stream; use ``async with``.

        Every consumer of the same profile shares one upstream connection.
        """
        from ._stream import MediaStream

        self._require(Capability.STREAM)
        profile = self._check_profile(profile)
        return MediaStream(self, profile or self._default_profile(), audio=audio, purpose=purpose)

    async def snapshot(
        self,
        *,
        max_age: float | None = None,
        profile: str | None = None,
        purpose: str = "",
        source: str = "auto",
        wake: bool = False,
    ) -> Snapshot:
        """A JPEG still, from the device when it has a native one, else from the stream.

        ``max_age`` bounds staleness in seconds: a cached keyframe older than
        that is not used. A frame that decoded with errors is never returned.
        ``source`` may force ``"device"`` or ``"stream"``. A sleeping battery
        device answers from its last picture (with its age) unless ``wake``
        is true; each wake is written to the audit log under your principal.
        """
        import time

        from ._snapshots import snapshot_from_stream

        if source not in ("auto", "device", "stream"):
            raise ConfigurationError("source must be 'auto', 'device' or 'stream'", url=self.url)
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age < 0
        ):
            raise ConfigurationError("max_age must be a number of seconds >= 0", url=self.url)
        self._require(Capability.SNAPSHOT)
        profile = self._check_profile(profile)
        await self._check_privacy()
        decision = self._authorize(Action.SNAPSHOT, purpose)
        request = self._request(Action.SNAPSHOT, purpose, wake=bool(wake), max_age=max_age)
        started = time.monotonic()
        # One deadline for the whole snapshot, the fallback to the stream included.
        deadline = started + self.config.snapshot_timeout
        snap: Snapshot | None = None
        driver = self._driver
        if source != "stream" and type(driver).overrides("snapshot"):
            # With a stream to fall back on, a device that hangs must leave it time.
            fallback = source == "auto" and Capability.STREAM in self.capabilities
            budget = self.config.snapshot_timeout * (0.6 if fallback else 1.0)
            try:
                snap = await self._call(
                    driver.snapshot(profile or self._default_profile()), budget, request
                )
                mask_set = self._gate.mask_set(decision)
                if mask_set is not None:
                    jpeg = await asyncio.to_thread(mask_set.apply_jpeg, snap.jpeg)
                    snap = snap.model_copy(update={"jpeg": jpeg})
            except (UnsupportedCapabilityError, CameraProtocolError, CameraConnectionError) as exc:
                if source == "device" or Capability.STREAM not in self.capabilities:
                    raise
                log.debug("device snapshot failed (%s); using the stream", exc)
                snap = None
        if snap is None:
            remaining = max(0.05, deadline - time.monotonic())
            snap = await snapshot_from_stream(
                self, profile, max_age, decision, timeout=remaining, request=request
            )
        self._end(Action.SNAPSHOT, decision, items=1, nbytes=len(snap.jpeg),
                  duration=time.monotonic() - started, purpose=purpose)
        return snap

    async def record(
        self,
        path: str | os.PathLike[str],
        duration: float,
        pre_roll: float = 0.0,
        *,
        profile: str | None = None,
        audio: bool = True,
        purpose: str = "",
        progress: Callable[[float], None] | None = None,
        transcode: bool = False,
    ) -> Recording:
        """Record ``duration`` seconds from now, plus up to ``pre_roll`` seconds before.

        Remuxes the camera's own packets (no transcoding, audio included when
        present) into an MP4, MOV, MKV or MPEG-TS file chosen by the suffix.
        The past comes from the prebuffer, which keeps at least one GOP (and
        ``CameraConfig.prebuffer`` seconds); the clip starts on the keyframe
        at or before ``now - pre_roll``. ``progress`` is called with the
        finished fraction (0..1). The file appears under its name only when
        complete; a problem with the path is a `ConfigurationError` before any
        media is read, a failed write a `RecordingError`.

        ``transcode=True`` decodes, applies the privacy masks and re-encodes
        H.264 (video only, no pre-roll): the way to record when masks apply
        and the grant does not allow raw media.
        """
        import time

        from ._recording import record_clip, record_transcoded

        if isinstance(duration, bool) or not isinstance(duration, int | float):
            raise ConfigurationError("duration must be a number of seconds", url=self.url)
        if isinstance(pre_roll, bool) or not isinstance(pre_roll, int | float):
            raise ConfigurationError("pre_roll must be a number of seconds", url=self.url)
        if duration <= 0 or pre_roll < 0:
            raise ConfigurationError("duration must be > 0 and pre_roll >= 0", url=self.url)
        if transcode and pre_roll:
            raise ConfigurationError(
                "pre_roll needs the camera's own packets; it is not available with transcode=True",
                url=self.url,
            )
        self._require(Capability.STREAM)
        profile = self._check_profile(profile)
        await self._check_privacy()
        decision = self._authorize(Action.RECORD, purpose, raw=not transcode)
        started = time.monotonic()
        if transcode:
            clip = await record_transcoded(
                self, path, duration, profile=profile, decision=decision, purpose=purpose,
                progress=progress,
            )
        else:
            clip = await record_clip(
                self, path, duration, pre_roll, profile=profile, audio=audio, decision=decision,
                purpose=purpose, progress=progress,
            )
        self._end(Action.RECORD, decision, items=clip.video_packets, nbytes=clip.bytes,
                  duration=time.monotonic() - started, purpose=purpose)
        return clip

    def recorder(
        self,
        directory: str | os.PathLike[str],
        *,
        segment: float = 60.0,
        profile: str | None = None,
        audio: bool = True,
        purpose: str = "",
        retention: Retention | None = None,
        clips: EventClips | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Recorder:
        """Continuous recording into ``directory``: ``async with cam.recorder(...) as rec``.

        Segments of ``segment`` seconds (cut on keyframes, no gaps or overlaps
        between them) go to ``<directory>/<camera id>/<day>/<UTC time>.mp4``;
        ``retention`` deletes old footage, ``clips`` writes a clip around each
        event, and ``rec.index`` finds footage by time and event. Every file
        is an audited ``record`` egress. ``clock`` is the wall clock (tests).
        See `camsdk.Recorder`.
        """
        from ._recorder import Recorder

        self._require(Capability.STREAM)
        return Recorder(self, directory, segment=segment, profile=profile, audio=audio,
                        purpose=purpose, retention=retention, clips=clips, clock=clock)

    async def recordings(
        self, start: datetime, end: datetime, *, purpose: str = ""
    ) -> list[DeviceRecording]:
        """The recordings the device (or its cloud) keeps between ``start`` and ``end``.

        Times are timezone-aware; capability `HISTORY`. The listing is decided
        and audited as a ``history`` action; each `DeviceRecording` can then
        be downloaded with ``await rec.download(path)`` (see
        `DeviceRecording.download`), decided and audited again.
        """
        from ._history import list_recordings

        return await list_recordings(self, start, end, purpose=purpose)

    # -- events --------------------------------------------------------------------------

    def _event_pipeline(self) -> EventPipeline:
        if self._events is None:
            from ._events import EventPipeline

            driver = self._driver
            # Health (stream state) events need no device events; the device's
            # own are only subscribed when it reports the capability.
            has_own = type(driver).overrides("events") and Capability.EVENTS in self.capabilities
            source = driver.events if has_own else None
            self._events = EventPipeline(camera_id=self.id, source=source)
        return self._events

    def events(
        self,
        kinds: EventKind | str | Iterable[EventKind | str] | None = None,
        *,
        min_score: float | None = None,
        zones: Collection[str] | None = None,
        with_snapshot: bool = False,
        purpose: str = "",
    ) -> EventStream:
        """Subscribe to this camera's normalised events (``async with`` / ``async for``).

        ``kinds`` filters by `EventKind` (members or their names, one or many).

        The device's event connection is opened only while someone listens.
        ``with_snapshot=True`` attaches the keyframe at the event (from the
        prebuffer when the camera is streaming) as ``event.snapshot``; that
        snapshot passes the access policy like any other.

        A camera without events of its own but with a stream still reports
        its health here (``STREAM_STATE`` events), so apps can show it.
        """
        from ._event_stream import EventStream

        self._require_open()
        wanted = _event_kinds(kinds, self.url)
        if min_score is not None and (
            isinstance(min_score, bool) or not isinstance(min_score, int | float)
            or not 0.0 <= min_score <= 1.0
        ):
            raise ConfigurationError("min_score must be a number within 0..1", url=self.url)
        if zones is not None and (
            isinstance(zones, str) or not all(isinstance(z, str) for z in zones)
        ):
            raise ConfigurationError("zones must be a collection of zone names", url=self.url)
        if not self.capabilities & (Capability.EVENTS | Capability.STREAM):
            self._require(Capability.EVENTS)
        decision = self._authorize(Action.EVENTS_SUBSCRIBE, purpose)
        with request_context(self._request(Action.EVENTS_SUBSCRIBE, purpose)):
            # The device's event source may open here: it serves this subscriber.
            subscription = self._event_pipeline().subscribe(
                kinds=wanted, min_score=min_score, zones=zones
            )
        return EventStream(self, subscription, decision, with_snapshot=with_snapshot,
                           purpose=purpose)

    async def publish_event(self, event: CameraEvent) -> None:
        """Inject an event into this camera's event pipeline (integrations, tests)."""
        self._require_open()
        if not isinstance(event, CameraEvent):
            raise ConfigurationError("publish_event takes a camsdk.CameraEvent", url=self.url)
        await self._event_pipeline().publish(event)

    # -- software motion (camsdk._motion) ----------------------------------------------

    def motion(
        self,
        *,
        sensitivity: float = 0.5,
        zones: Collection[MotionZone] | None = None,
        fps: float | None = None,
        keyframes_only: bool = False,
        min_area: float | None = None,
        hold: float = 5.0,
        profile: str | None = None,
        purpose: str = "software motion",
    ) -> MotionDetector:
        """Software motion detection: ``async with cam.motion(...) as detector``.

        While the block is open, grey frames of ``profile`` (default: the
        smallest) are read through this facade (``stream.open`` and
        ``frames`` pass the access policy and are audited) at ``fps``
        (default 2) or ``keyframes_only``, compared with a slowly adapting
        background in a worker thread, and per-zone MOTION events (start,
        updates, end ``hold`` seconds after the last motion) are published
        to every `events` subscriber with ``vendor="camsdk"`` and
        ``extra["detector"] == "software"``. ``sensitivity`` (0..1) lowers
        the luma threshold and, unless ``min_area`` (the fraction of a zone
        that must change) is given, the area. ``zones=None`` watches the
        whole picture (events without a zone). Every argument is checked
        here (`ConfigurationError`). See ``docs/motion.md``.
        """
        from ._motion import detector_for

        self._require(Capability.STREAM)
        return detector_for(
            self, sensitivity=sensitivity, zones=zones, fps=fps, keyframes_only=keyframes_only,
            min_area=min_area, hold=hold, profile=profile, purpose=purpose,
        )

    # -- control -------------------------------------------------------------------------

    @property
    def ptz(self) -> PTZControl:
        """PTZ control; raises `UnsupportedCapabilityError` when the camera has none."""
        from ._ptz import PTZControl

        self._require(Capability.PTZ)
        if self._ptz is None:
            self._ptz = PTZControl(self, self._driver.ptz())
        return self._ptz

    @property
    def privacy_mode(self) -> bool | None:
        """Whether the device is in privacy mode (None: unknown).

        As last read or set, and true as soon as the device refused a
        snapshot or ended a stream for it (whoever switched it on).
        """
        return self._privacy

    async def set_privacy_mode(self, on: bool, *, purpose: str = "") -> None:
        """Switch the device's privacy mode (capability `PRIVACY_MODE`).

        A device configuration change: the policy decides it as ``config``
        (the owner's alone unless a grant says otherwise) and it is audited.
        While privacy mode is on, streams end with `PrivacyModeError` and
        snapshots raise it, rather than looking like a fault.
        """
        if not isinstance(on, bool):
            raise ConfigurationError("privacy mode is switched with True or False", url=self.url)
        self._require(Capability.PRIVACY_MODE)
        self._authorize(Action.CONFIG, purpose or "privacy mode")
        request = self._request(Action.CONFIG, purpose or "privacy mode")
        await self._call(self._driver.set_privacy_mode(on), self.config.request_timeout, request)
        self._privacy = on
        self._gate.record(self._ref, {"event": "privacy_mode", "on": on,
                                      "principal": self.principal.id, "purpose": purpose})
        if on:
            err = PrivacyModeError("privacy mode was switched on", scheme=self.scheme,
                                   url=self.url)
            for session in list(self._sessions.values()):
                await session.end(err)

    async def _check_privacy(self) -> None:
        """Refuse at once while the device is in privacy mode.

        Only a known "on" is checked again with the device: the owner may
        have switched it off elsewhere (the vendor's app) since.
        """
        if not self._privacy:
            return
        with contextlib.suppress(CamError):
            self._privacy = await self._call(
                self._driver.privacy_mode(), self.config.request_timeout
            )
        if self._privacy:
            raise PrivacyModeError(
                "the camera is in privacy mode; its owner must switch it off",
                scheme=self.scheme, url=self.url,
            )

    def talk(self, *, purpose: str = "") -> Speaker:
        """Two-way audio: ``async with cam.talk() as speaker: await speaker.send(pcm)``.

        Opens the device's audio path (RTSP backchannel, vendor HTTP audio,
        WebRTC) when entered; each session is an audited ``talk`` action.
        """
        from ._talk import Speaker

        self._require(Capability.TWO_WAY_AUDIO)
        return Speaker(self, purpose=purpose)

    async def call_extension(self, name: str, /, *args: Any, purpose: str = "",
                             **kwargs: Any) -> Any:
        """Call a vendor extra of the driver (see `extensions`), audited and under a deadline."""
        self._require_open()
        action = type(self._driver).extensions.get(name) if isinstance(name, str) else None
        if action is None:
            known = ", ".join(sorted(self.extensions)) or "none"
            raise UnsupportedCapabilityError(
                f"{self.driver_name} has no extension {str(name)[:64]!r} (known: {known})",
                scheme=self.scheme, url=self.url,
            )
        purpose = purpose or f"extension:{name}"
        self._authorize(action, purpose)
        method = getattr(self._driver, name)
        return await self._call(method(*args, **kwargs), self.config.request_timeout,
                                self._request(action, purpose))


def _event_kinds(
    kinds: EventKind | str | Iterable[EventKind | str] | None, url: str
) -> frozenset[EventKind] | None:
    """``kinds`` as a set of `EventKind`, from members or names, one or many."""
    if kinds is None:
        return None
    items = [kinds] if isinstance(kinds, EventKind | str) else kinds
    try:
        found = frozenset(EventKind(k) for k in items)
    except (TypeError, ValueError):
        known = ", ".join(k.value for k in EventKind)
        raise ConfigurationError(
            f"kinds are EventKind members or their names ({known})", url=url
        ) from None
    return found
