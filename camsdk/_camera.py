"""The `Camera` facade: one object per camera, the same for every driver.

Every public method does the generic work here, once: lifecycle checks, the
capability gate, the access policy and audit record (`Camera._authorize`),
deadlines, translation of foreign errors, the shared media pipeline, the
snapshot fallback from the stream's keyframe, privacy masks. Drivers only
answer the narrow questions of `camsdk.CameraDriver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import sys
import time
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._access import OWNER, AccessPolicy, AccessRequest, Action, AllowOwner, AuditSink, Decision
from ._driver import CameraDriver, StreamSource
from ._errors import (
    AccessDeniedError,
    AuthenticationError,
    CameraClosedError,
    CameraConnectionError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    StreamDecodeError,
    UnsupportedCapabilityError,
)
from ._log import get_logger, register_secret, scrub_exception
from ._media import Discontinuity, MediaPacket
from ._models import (
    CameraConfig,
    CameraEvent,
    CameraInfo,
    Capability,
    Credentials,
    EventKind,
    PTZPreset,
    PTZStatus,
    Recording,
    Snapshot,
    StreamState,
)
from ._url import CameraURL, redact_text

if TYPE_CHECKING:  # pragma: no cover
    from ._events import EventPipeline, EventSubscription
    from ._pipeline._session import StreamSession
    from ._stream import MediaStream
    from .privacy import PrivacyMask

__all__ = ["Camera", "CameraState", "EventStream", "PTZControl", "open_camera", "translate_error"]

log = get_logger("camsdk.camera")
T = TypeVar("T")

#: Live objects, so test fixtures can fail a test that leaks one.
LIVE_CAMERAS: weakref.WeakSet[Camera] = weakref.WeakSet()

_DEFAULT_IDLE_CLOSE = 5.0
# Protocols a stream URL may use. Anything else (file:, concat:, subfile:,
# data:, pipe:, a bare path ...) reads local data and is refused unless the
# driver says it serves local sources on the caller's behalf.
_NETWORK_SCHEMES = frozenset({"rtsp", "rtsps", "http", "https", "rtmp", "rtmps", "srt", "udp"})


class CameraState(enum.Enum):
    """Lifecycle of a `Camera`: NEW -> CONNECTING -> OPEN -> CLOSED (no way back)."""

    NEW = "new"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


def translate_error(exc: BaseException, *, scheme: str, url: str) -> BaseException:
    """Map a foreign exception onto the camsdk tree; camsdk errors get scheme and URL."""
    if isinstance(exc, CamError):
        if exc.scheme is None:
            exc.scheme = scheme
        if exc.url is None:
            exc.url = url
        return exc
    scrub_exception(exc)
    text = redact_text(str(exc))
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        if isinstance(exc, httpx.TimeoutException):
            return CameraTimeoutError(f"request timed out: {text}", scheme=scheme, url=url)
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            if status in (401, 403):
                return AuthenticationError(
                    f"device refused the credentials (HTTP {status})", scheme=scheme, url=url
                )
            return CameraProtocolError(f"device answered HTTP {status}", scheme=scheme, url=url)
        if isinstance(exc, httpx.TransportError):
            return CameraUnreachableError(f"connection failed: {text}", scheme=scheme, url=url)
        return CameraProtocolError(f"HTTP error: {text}", scheme=scheme, url=url)
    av = sys.modules.get("av")
    if av is not None and isinstance(exc, av.error.FFmpegError):
        from ._pipeline._reader import translate_av_error

        err = translate_av_error(exc, StreamSource(url=url))
        err.scheme = scheme  # type: ignore[attr-defined]
        return err
    if isinstance(exc, TimeoutError):
        return CameraTimeoutError("operation timed out", scheme=scheme, url=url)
    if isinstance(exc, ConnectionRefusedError | ConnectionResetError | OSError):
        return CameraUnreachableError(f"connection failed: {text}", scheme=scheme, url=url)
    if type(exc).__name__ in {"ParseError", "XMLSyntaxError", "DefusedXmlException"}:
        return CameraProtocolError(f"malformed XML from device: {text}", scheme=scheme, url=url)
    return exc


class Camera:
    """One camera, whatever its vendor. Create with `camsdk.open`; use ``async with``.

    `camsdk.open` does no I/O; `connect` (or entering the context) talks to the
    device. A closed camera cannot be reopened.
    """

    def __init__(
        self,
        driver: CameraDriver,
        *,
        url: CameraURL,
        principal: Any = OWNER,
        policy: AccessPolicy | None = None,
        audit: AuditSink | None = None,
        masks: Iterable[PrivacyMask] = (),
        owns_driver: bool = True,
    ) -> None:
        self._driver = driver
        self._url = url
        self._redacted = url.redacted()
        self.scheme = url.scheme
        self.principal = principal
        self.policy: AccessPolicy = policy if policy is not None else AllowOwner()
        self.audit = audit
        self.masks: tuple[PrivacyMask, ...] = tuple(masks)
        self.config: CameraConfig = driver.config
        self.state = CameraState.NEW
        self._info: CameraInfo | None = None
        self._sessions: dict[str, StreamSession] = {}
        self._streams: set[MediaStream] = set()
        self._events: EventPipeline | None = None
        self._ptz: PTZControl | None = None
        self._owns_driver = owns_driver
        self._tasks: set[asyncio.Task[Any]] = set()
        self._mask_cache: dict[tuple[Any, ...], Any] = {}
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
    def driver(self) -> CameraDriver:
        """The driver behind this camera (for driver-specific extras)."""
        return self._driver

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
                self._write_audit({"event": "tls.insecure", "camera_id": self.id,
                                   "camera_url": self._redacted})
            self._info = await self._call(self._driver.connect(), self.config.connect_timeout)
        except BaseException:
            self.state = CameraState.CLOSED
            with contextlib.suppress(Exception):
                await self._driver.close()
            raise
        self.state = CameraState.OPEN
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

    async def __aenter__(self) -> Camera:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

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
            raise UnsupportedCapabilityError(
                f"{self._driver.display_name or self.scheme} camera does not support "
                f"{'/'.join(capability.names())}",
                scheme=self.scheme,
                url=self.url,
            )

    async def _call(self, awaitable: Any, timeout: float) -> Any:
        """Await a driver call under a deadline, translating foreign errors."""
        try:
            async with asyncio.timeout(timeout):
                return await awaitable
        except TimeoutError as exc:
            if isinstance(exc, CamError):
                scrub_exception(exc)
                raise translate_error(exc, scheme=self.scheme, url=self.url) from None
            raise CameraTimeoutError(
                f"no answer within {timeout:g} s", scheme=self.scheme, url=self.url
            ) from exc
        except CamError as exc:
            # A driver's error may have been raised while handling a foreign one
            # that quotes the URL: scrub the whole chain, the traceback prints it.
            scrub_exception(exc)
            raise translate_error(exc, scheme=self.scheme, url=self.url) from None
        except Exception as exc:
            err = translate_error(exc, scheme=self.scheme, url=self.url)
            if err is exc:
                raise
            raise err from exc

    # -- the egress seam -----------------------------------------------------------------

    def _authorize(self, action: Action, purpose: str = "") -> Decision:
        """Ask the policy, write the decision to the audit log, raise if denied."""
        self._require_open()
        request = AccessRequest(self.principal, self.id, self._redacted, action, purpose)
        try:
            decision = self.policy.decide(request)
        except Exception as exc:
            # A broken policy denies; it never lets media through by accident.
            decision = Decision(False, f"policy failed: {type(exc).__name__}")
        self._write_audit(
            {
                "event": "access",
                "principal": str(self.principal),
                "camera_id": self.id,
                "camera_url": self._redacted,
                "action": action.value,
                "purpose": purpose,
                "allowed": decision.allowed,
                "reason": decision.reason,
                "grant_id": decision.grant_id,
            }
        )
        if not decision.allowed:
            raise AccessDeniedError(
                f"{action.value} denied for {self.principal}: {decision.reason}",
                scheme=self.scheme,
                url=self.url,
                reason=decision.reason,
            )
        return decision

    def _write_audit(self, record: Mapping[str, Any]) -> None:
        if self.audit is None:
            return
        try:
            self.audit.write(record)
        except Exception as exc:
            # Fail closed: no audit record, no media.
            raise AccessDeniedError(
                "audit log could not be written; refusing access",
                scheme=self.scheme,
                url=self.url,
                reason=f"audit sink failed: {type(exc).__name__}",
            ) from exc

    def _audit_end(
        self,
        action: Action,
        decision: Decision,
        *,
        items: int = 0,
        nbytes: int = 0,
        duration: float = 0.0,
        purpose: str = "",
    ) -> None:
        if self.audit is None:
            return
        record = {
            "event": "egress.end",
            "principal": str(self.principal),
            "camera_id": self.id,
            "camera_url": self._redacted,
            "action": action.value,
            "purpose": purpose,
            "grant_id": decision.grant_id,
            "frames" if action is Action.FRAMES else "packets": items,
            "bytes": nbytes,
            "duration": round(duration, 3),
        }
        try:
            self.audit.write(record)
        except Exception:
            log.exception("audit sink failed on egress end for %s", self._redacted)

    def _all_masks(self, decision: Decision) -> tuple[PrivacyMask, ...]:
        return self.masks + tuple(decision.masks)

    def _require_raw_media(self, decision: Decision) -> None:
        if (
            self._all_masks(decision)
            and not decision.raw_media
            and Capability.PRIVACY_MASK not in self.capabilities
        ):
            raise AccessDeniedError(
                "privacy masks apply and raw packets cannot be masked; a grant with "
                "raw_media is needed (or record with transcode=True)",
                scheme=self.scheme,
                url=self.url,
                reason="masks require raw_media",
            )

    def _mask_set(self, decision: Decision) -> Any:
        masks = self._all_masks(decision)
        if not masks or Capability.PRIVACY_MASK in self.capabilities:
            return None
        key = tuple(id(m) for m in masks)
        cached = self._mask_cache.get(key)
        if cached is None:
            from .privacy import MaskSet

            cached = self._mask_cache[key] = MaskSet(masks)
        return cached

    def _frame_transform(self, decision: Decision) -> Callable[[Any, bool], Any] | None:
        mask_set = self._mask_set(decision)
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

    def _session(self, profile: str | None) -> StreamSession:
        from ._pipeline._session import StreamSession

        name = profile or self._default_profile()
        session = self._sessions.get(name)
        if session is not None and not session.closed:
            return session
        driver = self._driver
        idle = self.config.idle_close
        if idle is None:
            idle = 0.0 if driver.battery_powered else _DEFAULT_IDLE_CLOSE

        async def open_upstream() -> Any:
            if type(driver).overrides("open_stream"):
                try:
                    return await self._call(driver.open_stream(name), self.config.open_timeout)
                except UnsupportedCapabilityError:
                    # This device's stream has a URL after all (e.g. HLS behind HTTP).
                    pass
            source = await self._call(driver.stream_source(name), self.config.open_timeout)
            self._check_source(source)
            from ._pipeline._reader import PyAVReader

            reader = PyAVReader(source)
            try:
                await reader.start()
            except BaseException:
                await reader.aclose()
                raise
            return reader

        session = StreamSession(
            name=name,
            open_upstream=open_upstream,
            config=self.config,
            idle_close=idle,
            url=self._redacted,
            on_state=lambda state, detail: self._on_stream_state(name, state, detail),
            on_closed=lambda s: self._forget_session(name, s),
        )
        self._sessions[name] = session
        return session

    def _forget_session(self, name: str, session: StreamSession) -> None:
        if self._sessions.get(name) is session:
            del self._sessions[name]

    def _check_source(self, source: StreamSource) -> None:
        """Refuse local schemes and hosts the caller did not name (device-supplied URLs)."""
        scheme = source.url.split("://", 1)[0].lower() if "://" in source.url else ""
        if scheme not in _NETWORK_SCHEMES and not self._driver.local_sources:
            shown = f"{scheme}:" if scheme else "a local path"
            raise CameraProtocolError(
                f"stream source uses {shown}, not a network protocol; refused",
                scheme=self.scheme,
                url=self.url,
            )

    def _on_stream_state(self, profile: str, state: StreamState, detail: str) -> None:
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
        return MediaStream(self, profile or self._default_profile(), audio=audio, purpose=purpose)

    async def snapshot(
        self,
        *,
        max_age: float | None = None,
        profile: str | None = None,
        purpose: str = "",
        source: str = "auto",
    ) -> Snapshot:
        """A JPEG still, from the device when it has a native one, else from the stream.

        ``max_age`` bounds staleness in seconds: a cached keyframe older than
        that is not used. A frame that decoded with errors is never returned.
        ``source`` may force ``"device"`` or ``"stream"``.
        """
        self._require(Capability.SNAPSHOT)
        decision = self._authorize(Action.SNAPSHOT, purpose)
        started = time.monotonic()
        snap: Snapshot | None = None
        driver = self._driver
        if source != "stream" and type(driver).overrides("snapshot"):
            try:
                snap = await self._call(
                    driver.snapshot(profile or self._default_profile()),
                    self.config.snapshot_timeout,
                )
                mask_set = self._mask_set(decision)
                if mask_set is not None:
                    jpeg = await asyncio.to_thread(mask_set.apply_jpeg, snap.jpeg)
                    snap = snap.model_copy(update={"jpeg": jpeg})
            except (UnsupportedCapabilityError, CameraProtocolError, CameraConnectionError) as exc:
                if source == "device" or Capability.STREAM not in self.capabilities:
                    raise
                log.debug("device snapshot failed (%s); using the stream", exc)
                snap = None
        if snap is None:
            snap = await self._snapshot_from_stream(profile, max_age, decision)
        self._audit_end(
            Action.SNAPSHOT, decision, items=1, nbytes=len(snap.jpeg),
            duration=time.monotonic() - started, purpose=purpose,
        )
        return snap

    async def _snapshot_from_stream(
        self, profile: str | None, max_age: float | None, decision: Decision
    ) -> Snapshot:
        from ._pipeline._codec import decode_keyframe, encode_jpeg

        if Capability.STREAM not in self.capabilities:
            raise UnsupportedCapabilityError(
                "camera has neither a native snapshot nor a stream", scheme=self.scheme,
                url=self.url,
            )
        session = self._session(profile)
        session.acquire()
        mask_set = self._mask_set(decision)
        try:
            async with asyncio.timeout(self.config.snapshot_timeout):
                info = await session.wait_ready(self.config.snapshot_timeout)
                entry = session.keyframe
                if entry is None or (
                    max_age is not None
                    and (datetime.now(UTC) - entry.captured_at).total_seconds() > max_age
                ):
                    entry = await session.next_keyframe(newer_than=entry.seq if entry else 0)
                while True:
                    cache = getattr(session, "_snapshot_cache", None)
                    if cache is not None and cache[0] == (entry.seq, id(mask_set)):
                        snap: Snapshot = cache[1]
                        return snap

                    def render(pkt: MediaPacket = entry.packet) -> tuple[bytes, int, int]:
                        frame = decode_keyframe(info, pkt)
                        if mask_set is not None:
                            frame = mask_set.apply(frame, in_place=True)
                        return encode_jpeg(frame), frame.width, frame.height

                    try:
                        jpeg, width, height = await asyncio.to_thread(render)
                    except StreamDecodeError as exc:
                        log.debug("keyframe unusable for a snapshot (%s); waiting for next", exc)
                        entry = await session.next_keyframe(newer_than=entry.seq)
                        continue
                    snap = Snapshot(
                        jpeg=jpeg,
                        width=width,
                        height=height,
                        captured_at=entry.captured_at,
                        source="stream",
                        camera_id=self.id,
                    )
                    session._snapshot_cache = ((entry.seq, id(mask_set)), snap)  # type: ignore[attr-defined]
                    return snap
        except TimeoutError:
            raise CameraTimeoutError(
                f"no usable keyframe within {self.config.snapshot_timeout:g} s",
                scheme=self.scheme,
                url=self.url,
            ) from None
        finally:
            session.release()

    async def _snapshot_at(self, when: datetime, purpose: str) -> Snapshot | None:
        """The picture at wall-clock time ``when``, decoded from the prebuffer.

        Returns ``None`` when no stream of this camera is running (nothing is
        buffered). Passes the access policy as a snapshot.
        """
        from ._pipeline._codec import decode_last, encode_jpeg

        session = next((s for s in self._sessions.values() if not s.closed and s.info), None)
        if session is None or session.info is None:
            return None
        decision = self._authorize(Action.SNAPSHOT, purpose)
        # Packets carry monotonic arrival times; map the event's wall time onto them.
        at = time.monotonic() - (datetime.now(UTC) - when).total_seconds()
        buffered = [p for p in session.buffered(1e9) if p.received_at <= at + 0.05]
        starts = [i for i, p in enumerate(buffered) if p.kind == "video" and p.keyframe]
        if not starts:
            return None
        run = buffered[starts[-1]:]
        info = session.info
        mask_set = self._mask_set(decision)

        def render() -> tuple[bytes, int, int]:
            frame = decode_last(info, run)
            if mask_set is not None:
                frame = mask_set.apply(frame, in_place=True)
            return encode_jpeg(frame), frame.width, frame.height

        jpeg, width, height = await asyncio.to_thread(render)
        captured = when - timedelta(seconds=max(0.0, at - run[-1].received_at))
        self._audit_end(Action.SNAPSHOT, decision, items=1, nbytes=len(jpeg), purpose=purpose)
        return Snapshot(jpeg=jpeg, width=width, height=height, captured_at=captured,
                        source="stream", camera_id=self.id)

    async def record(
        self,
        path: str | Path,
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

        Remuxes the camera's own packets into an MP4 (no transcoding, audio
        included when present). The past comes from the prebuffer, which keeps
        at least one GOP (and ``CameraConfig.prebuffer`` seconds); the clip
        starts on the keyframe at or before ``now - pre_roll``. ``progress``
        is called with the finished fraction (0..1). The file appears under its
        name only when complete.

        ``transcode=True`` decodes, applies the privacy masks and re-encodes
        H.264 (video only, no pre-roll): the way to record when masks apply
        and the grant does not allow raw media.
        """
        from ._pipeline._codec import Mp4Writer

        if duration <= 0 or pre_roll < 0:
            raise ConfigurationError("duration must be > 0 and pre_roll >= 0", url=self.url)
        if transcode and pre_roll:
            raise ConfigurationError(
                "pre_roll needs the camera's own packets; it is not available with transcode=True",
                url=self.url,
            )
        self._require(Capability.STREAM)
        decision = self._authorize(Action.RECORD, purpose)
        if transcode:
            return await self._record_transcoded(
                Path(path), duration, profile=profile, decision=decision, purpose=purpose,
                progress=progress,
            )
        self._require_raw_media(decision)
        target = Path(path)
        session = self._session(profile)
        session.acquire()
        started_at = datetime.now(UTC)
        started = time.monotonic()
        writer: Mp4Writer | None = None
        consumer = None
        try:
            info = await session.wait_ready(self.config.open_timeout)
            with_audio = audio and info.has_audio
            consumer = session.attach_packets(audio=with_audio, pre_roll=pre_roll or None,
                                              queue_size=4096)
            buffered = session.buffered(None)
            now_time = buffered[-1].time if buffered else None
            writer = await asyncio.to_thread(Mp4Writer, target, info, audio=with_audio)
            first_time: float | None = None
            end_time: float | None = None
            batch: list[MediaPacket] = []
            wall_limit = duration + pre_roll + self.config.open_timeout + self.config.stall_timeout
            deadline = started + wall_limit
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CameraTimeoutError(
                        "recording did not get enough media in time", scheme=self.scheme,
                        url=self.url,
                    )
                try:
                    async with asyncio.timeout(remaining):
                        item = await consumer.queue.get()
                except TimeoutError:
                    continue
                if not decision.still_valid():
                    raise AccessDeniedError(
                        "access to this camera was revoked or has expired during recording",
                        scheme=self.scheme, url=self.url, reason="grant no longer valid",
                    )
                if isinstance(item, Discontinuity):
                    continue
                if item.kind == "video" and item.time is not None:
                    if first_time is None:
                        first_time = item.time
                        base = now_time if now_time is not None else item.time
                        end_time = max(base, first_time) + duration
                    elif end_time is not None and item.time >= end_time:
                        break
                batch.append(item)
                if len(batch) >= 32:
                    await asyncio.to_thread(writer.write, batch)
                    batch = []
                    if progress is not None and end_time is not None and first_time is not None:
                        span = end_time - first_time
                        progress(min(1.0, ((item.time or first_time) - first_time) / span))
            if batch:
                await asyncio.to_thread(writer.write, batch)
            await asyncio.to_thread(writer.close)
            if progress is not None:
                progress(1.0)
            clip = Recording(
                path=target,
                duration=(
                    end_time - first_time if end_time is not None and first_time is not None
                    else 0.0
                ),
                pre_roll=(
                    max(0.0, now_time - first_time)
                    if now_time is not None and first_time is not None
                    else 0.0
                ),
                started_at=started_at,
                video_packets=writer.video_packets,
                audio_packets=writer.audio_packets,
                bytes=writer.bytes,
            )
            writer = None
            self._audit_end(Action.RECORD, decision, items=clip.video_packets, nbytes=clip.bytes,
                            duration=time.monotonic() - started, purpose=purpose)
            return clip
        finally:
            if consumer is not None:
                session.detach_packets(consumer)
            session.release()
            if writer is not None:
                await asyncio.to_thread(writer.abort)

    async def _record_transcoded(
        self,
        target: Path,
        duration: float,
        *,
        profile: str | None,
        decision: Decision,
        purpose: str,
        progress: Callable[[float], None] | None,
    ) -> Recording:
        from ._media import VideoFrame
        from ._pipeline._codec import H264Encoder
        from ._pipeline._decoder import FrameConsumer
        from ._pipeline._queue import ConsumerQueue, QueueClosed

        session = self._session(profile)
        session.acquire()
        started_at = datetime.now(UTC)
        started = time.monotonic()
        encoder: H264Encoder | None = None
        queue: ConsumerQueue[VideoFrame] = ConsumerQueue(64)
        consumer = FrameConsumer(queue, transform=self._frame_transform(decision))
        attached = False
        try:
            info = await session.wait_ready(self.config.open_timeout)
            encoder = await asyncio.to_thread(
                H264Encoder, target, info.width, info.height, info.fps
            )
            session.attach_frames(consumer)
            attached = True
            first: float | None = None
            last = 0.0
            batch: list[Any] = []
            deadline = started + duration + self.config.open_timeout + self.config.stall_timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CameraTimeoutError(
                        "recording did not get enough media in time", scheme=self.scheme,
                        url=self.url,
                    )
                try:
                    async with asyncio.timeout(remaining):
                        item = await queue.get()
                except (TimeoutError, QueueClosed):
                    continue
                if not decision.still_valid():
                    raise AccessDeniedError(
                        "access to this camera was revoked or has expired during recording",
                        scheme=self.scheme, url=self.url, reason="grant no longer valid",
                    )
                if not isinstance(item, VideoFrame) or item.time is None:
                    continue
                if first is None:
                    first = item.time
                if item.time - first >= duration:
                    break
                last = item.time - first
                batch.append(item.to_av())
                if len(batch) >= 8:
                    await asyncio.to_thread(encoder.write, batch)
                    batch = []
                    if progress is not None:
                        progress(min(1.0, last / duration))
            if batch:
                await asyncio.to_thread(encoder.write, batch)
            await asyncio.to_thread(encoder.close)
            if progress is not None:
                progress(1.0)
            clip = Recording(
                path=target, duration=last, pre_roll=0.0, started_at=started_at,
                video_packets=encoder.frames, audio_packets=0, bytes=encoder.bytes,
            )
            encoder = None
            self._audit_end(Action.RECORD, decision, items=clip.video_packets, nbytes=clip.bytes,
                            duration=time.monotonic() - started, purpose=purpose)
            return clip
        finally:
            if attached:
                session.detach_frames(consumer)
            session.release()
            if encoder is not None:
                await asyncio.to_thread(encoder.abort)

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
        kinds: Collection[EventKind] | None = None,
        *,
        min_score: float | None = None,
        zones: Collection[str] | None = None,
        with_snapshot: bool = False,
        purpose: str = "",
    ) -> EventStream:
        """Subscribe to this camera's normalised events (``async with`` / ``async for``).

        The device's event connection is opened only while someone listens.
        ``with_snapshot=True`` attaches the keyframe at the event (from the
        prebuffer when the camera is streaming) as ``event.snapshot``; that
        snapshot passes the access policy like any other.

        A camera without events of its own but with a stream still reports
        its health here (``STREAM_STATE`` events), so apps can show it.
        """
        self._require_open()
        if not self.capabilities & (Capability.EVENTS | Capability.STREAM):
            self._require(Capability.EVENTS)
        decision = self._authorize(Action.EVENTS_SUBSCRIBE, purpose)
        subscription = self._event_pipeline().subscribe(
            kinds=kinds, min_score=min_score, zones=zones
        )
        return EventStream(self, subscription, decision, with_snapshot=with_snapshot,
                           purpose=purpose)

    async def publish_event(self, event: CameraEvent) -> None:
        """Inject an event into this camera's event pipeline (integrations, tests)."""
        self._require_open()
        await self._event_pipeline().publish(event)

    # -- ptz -----------------------------------------------------------------------------

    @property
    def ptz(self) -> PTZControl:
        """PTZ control; raises `UnsupportedCapabilityError` when the camera has none."""
        self._require(Capability.PTZ)
        if self._ptz is None:
            self._ptz = PTZControl(self)
        return self._ptz


class EventStream:
    """An event subscription: ``async for ev in cam.events(...)``; close with ``aclose``."""

    def __init__(
        self,
        camera: Camera,
        subscription: EventSubscription,
        decision: Decision,
        *,
        with_snapshot: bool,
        purpose: str,
    ) -> None:
        self._camera = camera
        self._subscription = subscription
        self._decision = decision
        self._with_snapshot = with_snapshot
        self._purpose = purpose
        self._started = time.monotonic()
        self._count = 0
        self._closed = False

    @property
    def dropped(self) -> int:
        """Events this subscriber lost because it fell behind."""
        return self._subscription.dropped

    def __aiter__(self) -> AsyncIterator[CameraEvent]:
        return self

    async def __anext__(self) -> CameraEvent:
        if self._closed:
            raise StopAsyncIteration
        try:
            event = await self._subscription.__anext__()
        except BaseException:
            await self.aclose()
            raise
        if not self._decision.still_valid():
            await self.aclose()
            raise AccessDeniedError(
                "access to events was revoked or has expired",
                scheme=self._camera.scheme, url=self._camera.url, reason="grant no longer valid",
            )
        self._count += 1
        if self._with_snapshot and event.active and self._camera.supports(Capability.SNAPSHOT):
            snap = await self._event_snapshot(event)
            if snap is not None:
                event = event.model_copy(update={"snapshot": snap})
        return event

    async def _event_snapshot(self, event: CameraEvent) -> Snapshot | None:
        try:
            snap = await self._camera._snapshot_at(event.received_at, self._purpose)
            if snap is None:
                # Not streaming, so nothing of the moment is buffered: a fresh still.
                snap = await self._camera.snapshot(purpose=self._purpose)
            return snap
        except AccessDeniedError:
            raise
        except CamError as exc:
            log.debug("event snapshot failed: %s", exc)
            return None

    async def aclose(self) -> None:
        """End the subscription. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._subscription.aclose()
        self._camera._audit_end(Action.EVENTS_SUBSCRIBE, self._decision, items=self._count,
                                duration=time.monotonic() - self._started, purpose=self._purpose)

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _check_range(name: str, value: float, low: float, high: float, url: str) -> float:
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be within {low}..{high}, got {value}", url=url)
    return float(value)


class PTZControl:
    """Pan, tilt and zoom in normalised coordinates (pan/tilt -1..1, zoom 0..1).

    Every call passes the access policy (action ``ptz``) and has the camera's
    ``request_timeout``.
    """

    def __init__(self, camera: Camera) -> None:
        self._camera = camera
        self._driver = camera.driver.ptz()
        self._stop_task: asyncio.Task[None] | None = None

    async def _do(self, awaitable_factory: Callable[[], Any], purpose: str) -> Any:
        camera = self._camera
        camera._authorize(Action.PTZ, purpose)
        return await camera._call(awaitable_factory(), camera.config.request_timeout)

    async def move(
        self, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0, *,
        duration: float | None = None, purpose: str = "",
    ) -> None:
        """Move continuously at the given speeds (-1..1); stop after ``duration`` if given."""
        url = self._camera.url
        p, t, z = (_check_range(n, v, -1, 1, url) for n, v in (("pan", pan), ("tilt", tilt),
                                                                  ("zoom", zoom)))
        await self._do(lambda: self._driver.continuous_move(p, t, z), purpose)
        if duration is not None:
            await asyncio.sleep(duration)
            await self.stop(purpose=purpose)

    async def stop(self, *, purpose: str = "") -> None:
        """Stop moving."""
        await self._do(self._driver.stop, purpose)

    async def absolute(self, pan: float, tilt: float, zoom: float, *, purpose: str = "") -> None:
        """Move to an absolute position (pan/tilt -1..1, zoom 0..1)."""
        url = self._camera.url
        p, t = _check_range("pan", pan, -1, 1, url), _check_range("tilt", tilt, -1, 1, url)
        z = _check_range("zoom", zoom, 0, 1, url)
        await self._do(lambda: self._driver.absolute_move(p, t, z), purpose)

    async def relative(
        self, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0, *, purpose: str = ""
    ) -> None:
        """Move by an offset (-2..2 for pan/tilt, -1..1 for zoom)."""
        url = self._camera.url
        p, t = _check_range("pan", pan, -2, 2, url), _check_range("tilt", tilt, -2, 2, url)
        z = _check_range("zoom", zoom, -1, 1, url)
        await self._do(lambda: self._driver.relative_move(p, t, z), purpose)

    async def status(self, *, purpose: str = "") -> PTZStatus:
        """Current position."""
        result: PTZStatus = await self._do(self._driver.status, purpose)
        return result

    async def presets(self, *, purpose: str = "") -> list[PTZPreset]:
        """Stored presets."""
        result: list[PTZPreset] = await self._do(self._driver.presets, purpose)
        return result

    async def goto_preset(self, token: str, *, purpose: str = "") -> None:
        """Move to a stored preset."""
        await self._do(lambda: self._driver.goto_preset(token), purpose)

    async def set_preset(self, name: str, *, purpose: str = "") -> PTZPreset:
        """Store the current position as a preset named ``name``."""
        result: PTZPreset = await self._do(lambda: self._driver.set_preset(name), purpose)
        return result

    async def home(self, *, purpose: str = "") -> None:
        """Move to the home position."""
        await self._do(self._driver.home, purpose)


def open_camera(
    url: str,
    *,
    credentials: Credentials | None = None,
    config: CameraConfig | Mapping[str, Any] | None = None,
    principal: Any = OWNER,
    policy: AccessPolicy | None = None,
    audit: AuditSink | None = None,
    masks: Iterable[PrivacyMask] = (),
    **options: Any,
) -> Camera:
    """Build a `Camera` for ``url`` (no I/O). See `camsdk.open`."""
    from ._registry import load_driver

    parsed = CameraURL.parse(url)
    redacted = parsed.redacted()
    cfg = _build_config(config, redacted, parsed.scheme)
    if parsed.password:
        register_secret(parsed.password)
    if credentials is not None:
        if not isinstance(credentials, Credentials):
            raise ConfigurationError("credentials must be camsdk.Credentials", url=redacted)
        register_secret(credentials.password.get_secret_value())
    driver_cls = load_driver(parsed.scheme, redacted)
    driver_options, device_url = _driver_options(driver_cls, parsed, options, redacted)
    driver = driver_cls(url=device_url, credentials=credentials, config=cfg,
                        options=driver_options)
    return Camera(driver, url=parsed, principal=principal, policy=policy, audit=audit,
                  masks=masks)


def _build_config(
    config: CameraConfig | Mapping[str, Any] | None, url: str, scheme: str
) -> CameraConfig:
    from pydantic import ValidationError

    if config is None:
        return CameraConfig()
    if isinstance(config, CameraConfig):
        return config
    try:
        return CameraConfig.model_validate(dict(config))
    except ValidationError as exc:
        problem = _first_error(exc)
    # Raised outside the except clause: pydantic's error quotes the input values
    # (a password among them) and must not ride along as __context__.
    raise ConfigurationError(f"invalid camera config: {problem}", scheme=scheme, url=url)


def _first_error(exc: Any) -> str:
    errors = exc.errors()
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:3]]
    return "; ".join(parts)


def _driver_options(
    driver_cls: type[CameraDriver], url: CameraURL, kwargs: Mapping[str, Any], redacted: str
) -> tuple[Any, CameraURL]:
    from pydantic import ValidationError

    model = driver_cls.Options
    fields = model.model_fields
    values: dict[str, Any] = {}
    device_query: list[tuple[str, str]] = []
    for key, value in url.query:
        if key in fields:
            values[key] = value
        elif driver_cls.query_passthrough:
            device_query.append((key, value))
        else:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigurationError(
                f"unknown option {key!r} for {url.scheme}:// (known: {known})",
                scheme=url.scheme, url=redacted,
            )
    for key, value in kwargs.items():
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigurationError(
                f"unknown option {key!r} for {url.scheme}:// (known: {known})",
                scheme=url.scheme, url=redacted,
            )
        values[key] = value
    try:
        options = model.model_validate(values)
    except ValidationError as exc:
        problem = _first_error(exc)
    else:
        return options, CameraURL(url.scheme, url.host, url.port, url.path, tuple(device_query),
                                  url.username, url.password, url.fragment)
    # Outside the except clause, so pydantic's error (it quotes input values) is no context.
    raise ConfigurationError(
        f"invalid option for {url.scheme}://: {problem}", scheme=url.scheme, url=redacted
    )
