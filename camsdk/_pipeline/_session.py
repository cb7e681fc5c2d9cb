"""`StreamSession`: one upstream per (camera, profile), shared by every consumer.

The session owns the upstream connection and its reconnect loop, the GOP
prebuffer, the keyframe cache that snapshots are made from, the fan-out to
packet consumers and the lazily started shared decoder. Consumers attach
with `attach_packets` / `attach_frames` and detach when their iterator
closes; `idle_close` seconds after the last one leaves, the upstream closes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .._errors import (
    AuthenticationError,
    CameraClosedError,
    CameraTimeoutError,
    CamError,
    PrivacyModeError,
    StreamEndedError,
    StreamError,
    StreamStalledError,
)
from .._log import get_logger
from .._media import Discontinuity, MediaPacket, StreamInfo
from .._models import CameraConfig, OverflowPolicy, Snapshot, StreamState
from .._translate import translate_error
from ._decoder import FrameConsumer, SharedDecoder
from ._queue import ConsumerQueue

__all__ = ["StreamSession", "Upstream", "KeyframeEntry"]

log = get_logger("camsdk.pipeline")

# Packets a non-live source may run ahead of the decoder.
_DECODER_HIGH_WATER = 16


class Upstream(Protocol):
    """What the session reads: a driver's `PacketSource` or one of camsdk's transports."""

    @property
    def info(self) -> StreamInfo:
        """Codec parameters."""
        ...

    @property
    def live(self) -> bool:
        """Real-time source (drop for slow consumers) or read at the consumers' pace."""
        ...

    @property
    def finite(self) -> bool:
        """Whether the end is for good (no reconnect)."""
        ...

    def __aiter__(self) -> Any:
        """Yield `MediaPacket`s."""
        ...

    async def aclose(self) -> None:
        """Release the upstream."""
        ...


@dataclass(frozen=True, slots=True)
class KeyframeEntry:
    """The latest keyframe and when it arrived."""

    packet: MediaPacket
    captured_at: datetime
    seq: int


class _Clock:
    """Per-track timestamp normaliser: DTS never go backwards within a session."""

    __slots__ = ("last", "offset", "step")

    def __init__(self) -> None:
        self.offset = 0
        self.last: int | None = None
        self.step = 1

    def fix(self, pkt: MediaPacket, rebase: bool) -> tuple[MediaPacket, bool]:
        raw = pkt.dts if pkt.dts is not None else pkt.pts
        if raw is None:
            raw = (self.last + self.step - self.offset) if self.last is not None else 0
        if pkt.duration > 0:
            self.step = pkt.duration
        adj = raw + self.offset
        jumped = False
        if self.last is not None and (rebase or adj <= self.last):
            shift = self.last + max(self.step, 1) - adj
            if rebase or shift > 0:
                self.offset += shift
                adj += shift
                jumped = not rebase
        self.last = adj
        if self.offset == 0 and pkt.dts is not None:
            return pkt, jumped
        pts = pkt.pts + self.offset if pkt.pts is not None else adj
        if pts < adj:
            pts = adj
        return (
            MediaPacket(
                pkt.data, pts, adj, pkt.time_base, pkt.keyframe, pkt.kind, pkt.duration,
                pkt.received_at, pkt.wallclock,
            ),
            jumped,
        )


class PacketConsumer:
    """One ``packets()`` iterator's queue."""

    __slots__ = ("audio", "queue")

    def __init__(self, queue: ConsumerQueue[MediaPacket], *, audio: bool) -> None:
        self.queue = queue
        self.audio = audio


def _is_key(pkt: MediaPacket) -> bool:
    return pkt.kind == "video" and pkt.keyframe


class StreamSession:
    """The shared upstream of one camera profile (see module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        open_upstream: Callable[[], Awaitable[Upstream]],
        config: CameraConfig,
        idle_close: float,
        url: str,
        scheme: str = "",
        on_state: Callable[[StreamState, str], None] | None = None,
        on_closed: Callable[[StreamSession], None] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.scheme = scheme
        #: The last snapshot made from this session's keyframes: ((seq, masks), Snapshot).
        self.snapshot_cache: tuple[tuple[int, int], Snapshot] | None = None
        self.config = config
        self.idle_close = idle_close
        self._open_upstream = open_upstream
        self._on_state = on_state
        self._on_closed = on_closed
        #: Seconds of media kept beyond the last complete GOP (grows for pre-roll).
        self.prebuffer = config.prebuffer
        self._loop = asyncio.get_running_loop()
        self.state = StreamState.IDLE
        self.info: StreamInfo | None = None
        self._task: asyncio.Task[None] | None = None
        self._upstream: Upstream | None = None
        self._keyframe_asked_at = -1e9
        self._keyframe_ask: asyncio.Task[None] | None = None
        self._packets: tuple[PacketConsumer, ...] = ()
        self._decoder: SharedDecoder | None = None
        self._refs = 0
        self._idle_handle: asyncio.TimerHandle | None = None
        self._gops: collections.deque[list[MediaPacket]] = collections.deque()
        self._clocks = {"video": _Clock(), "audio": _Clock()}
        self._keyframe: KeyframeEntry | None = None
        self._key_waiters: list[asyncio.Future[KeyframeEntry]] = []
        self._ready: asyncio.Future[StreamInfo] = self._loop.create_future()
        self._last_error: BaseException | None = None
        self._closed = False
        self._synced = False
        self._rebase_pending: set[str] = set()
        self._listeners: list[Callable[[StreamState, str], None]] = []
        #: Seconds the last backoff waited (or is waiting) before reconnecting.
        self.backoff_delay = 0.0
        # A stall was detected and no video came back since.
        self._stalled = False
        # Set when a consumer attaches (non-live sources wait for the first one).
        self._attached = asyncio.Event()
        # Why a finite source ended; consumers attaching later end at once.
        self._ended: BaseException | None = None
        # counters
        self.packets = 0
        self.bytes = 0
        self.keyframes = 0
        self.reconnects = 0
        self._rate_window: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the session ended for good."""
        return self._closed

    @property
    def consumers(self) -> int:
        """Attached consumers (iterators, recordings, snapshot waits)."""
        return self._refs

    @property
    def keyframe(self) -> KeyframeEntry | None:
        """The latest keyframe, if one arrived."""
        return self._keyframe

    @property
    def decoder(self) -> SharedDecoder | None:
        """The shared decoder while frame consumers exist."""
        return self._decoder

    def acquire(self) -> None:
        """Count a user of the session and make sure the upstream runs."""
        if self._closed:
            raise CameraClosedError("stream session is closed", url=self.url)
        self._refs += 1
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name=f"camsdk-upstream {self.url}")

    def release(self) -> None:
        """Uncount a user; the upstream closes ``idle_close`` s after the last one."""
        self._refs -= 1
        if self._refs <= 0 and not self._closed:
            self._refs = 0
            if self.idle_close <= 0:
                self._loop.call_soon(self._idle_expired)
            else:
                self._idle_handle = self._loop.call_later(self.idle_close, self._idle_expired)

    def _idle_expired(self) -> None:
        self._idle_handle = None
        if self._refs == 0 and not self._closed:
            self._loop.create_task(self.aclose(), name="camsdk-idle-close")

    async def wait_ready(self, timeout: float) -> StreamInfo:
        """Wait until the first keyframe arrived; raise the reason it did not."""
        if self._ready.done():
            return self._ready.result()
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._ready)
        except TimeoutError:
            err = self._last_error
            if isinstance(err, CamError):
                # A fresh copy (with the error's own fields: location, reason, code
                # ...) per waiter, so tracebacks do not pile up on one object.
                raise copy.copy(err) from err
            raise CameraTimeoutError(
                f"no keyframe within {timeout:g} s of opening the stream", url=self.url
            ) from None

    async def aclose(self) -> None:
        """Close the upstream and end every consumer with `CameraClosedError`."""
        if self._closed:
            return
        self._closed = True
        self._set_state(StreamState.CLOSED, "closed")
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        ask = self._keyframe_ask
        if ask is not None and not ask.done():
            ask.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ask
        err = CameraClosedError("stream closed", url=self.url)
        self._end_consumers(err)
        if not self._ready.done():
            self._ready.set_exception(err)
            self._ready.exception()  # mark retrieved
        await self._stop_decoder()
        if self._on_closed is not None:
            self._on_closed(self)

    async def end(self, err: BaseException) -> None:
        """End the session for a reason (privacy mode): consumers see ``err``, then close."""
        self._finish(err)
        await self.aclose()

    def _end_consumers(self, err: BaseException) -> None:
        for consumer in self._packets:
            consumer.queue.close(err)
        if self._decoder is not None:
            for fc in self._decoder.consumers:
                fc.queue.close(err)
        for waiter in self._key_waiters:
            if not waiter.done():
                waiter.set_exception(err)
                waiter.exception()
        self._key_waiters.clear()

    def _set_state(self, state: StreamState, detail: str = "") -> None:
        if state is self.state:
            return
        self.state = state
        log.debug("stream %s: %s %s", self.url, state.value, detail)
        for observer in (self._on_state, *self._listeners):
            if observer is None:
                continue
            try:
                observer(state, detail)
            except Exception:  # pragma: no cover - observer bugs must not kill the stream
                log.exception("stream state observer failed")

    def add_state_listener(
        self, listener: Callable[[StreamState, str], None]
    ) -> Callable[[], None]:
        """Call ``listener(state, detail)`` on every state change; returns its remover."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    # -- upstream loop -------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        cfg = self.config
        try:
            while not self._closed:
                self._set_state(StreamState.CONNECTING)
                healthy_since: float | None = None
                upstream: Upstream | None = None
                try:
                    async with asyncio.timeout(cfg.open_timeout) as deadline:
                        upstream = await self._open_upstream()
                        self._upstream = upstream
                        self._on_open(upstream.info)
                        stall = cfg.open_timeout
                        last_reschedule = 0.0
                        live = upstream.live
                        async for pkt in upstream:
                            if isinstance(pkt, Discontinuity):
                                self._ingest(pkt)
                                continue
                            if pkt.kind == "video":
                                now = self._loop.time()
                                if now - last_reschedule > 0.25:
                                    deadline.reschedule(now + stall)
                                    last_reschedule = now
                            first = self._ingest(pkt)
                            if not live:
                                # Waiting for consumers is not a stall: no deadline meanwhile.
                                deadline.reschedule(None)
                                await self._hold_back()
                                deadline.reschedule(self._loop.time() + stall)
                            if first and healthy_since is None:
                                # First keyframe: from now on liveness is media progress.
                                healthy_since = time.monotonic()
                                stall = cfg.stall_timeout
                                deadline.reschedule(self._loop.time() + stall)
                                self._stalled = False
                                self._set_state(StreamState.STREAMING)
                            if (
                                healthy_since is not None
                                and attempt
                                and time.monotonic() - healthy_since > cfg.backoff_reset
                            ):
                                attempt = 0
                    raise StreamEndedError("stream ended", url=self.url)
                except TimeoutError:
                    if healthy_since is None and upstream is None and not self._stalled:
                        err: BaseException = CameraTimeoutError(
                            f"stream did not open within {cfg.open_timeout:g} s", url=self.url
                        )
                    elif healthy_since is None:
                        # Connected (or back after a stall), but no video: still a
                        # stall. PyAV's open waits for the first packet, so after a
                        # stall an open that times out counts as no video too.
                        err = CameraTimeoutError(
                            f"no video within {cfg.open_timeout:g} s", url=self.url
                        )
                        self._stalled = True
                        self._set_state(StreamState.STALLED, str(err))
                    else:
                        err = StreamStalledError(
                            f"no media for {cfg.stall_timeout:g} s", url=self.url
                        )
                        self._stalled = True
                        self._set_state(StreamState.STALLED, str(err))
                    self._last_error = err
                except StreamEndedError as exc:
                    self._last_error = exc
                    if upstream is not None and (not upstream.live or upstream.finite):
                        # A file or VOD playlist ended for good: nothing to reconnect to.
                        self._finish(exc)
                        return
                except Exception as exc:
                    # Whatever the source raised (a driver's httpx error, a bug) goes
                    # through the one mapping, then the reconnect rules below.
                    err = translate_error(exc, scheme=self.scheme, url=self.url, strict=True)
                    self._last_error = err
                    if isinstance(err, PrivacyModeError):
                        # The owner covered the camera: not a fault to retry.
                        self._set_state(StreamState.PRIVACY_MODE, str(err))
                        self._finish(err)
                        return
                    if isinstance(err, AuthenticationError):
                        # Devices lock accounts (or ban the IP) after a few wrong
                        # passwords: a reconnect loop must not keep trying.
                        self._set_state(StreamState.AUTH_FAILED, str(err))
                        self._finish(err)
                        return
                    log.debug("upstream %s failed: %s", self.url, err)
                finally:
                    self._upstream = None
                    if upstream is not None:
                        with contextlib.suppress(Exception):
                            await upstream.aclose()
                if healthy_since is not None:
                    self.reconnects += 1
                    self._mark_gap()
                # Full jitter: a fleet of cameras that lost one NVR does not return in step.
                delay = random.uniform(0, min(cfg.backoff_cap, cfg.backoff_base * 2**attempt))
                attempt = min(attempt + 1, 30)
                self.backoff_delay = delay
                self._set_state(StreamState.BACKOFF, f"retry in {delay:.1f} s")
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pragma: no cover - a bug: fail consumers loudly
            log.exception("stream session crashed")
            self._finish(exc)

    def _finish(self, err: BaseException) -> None:
        self._ended = err
        self._end_consumers(err)
        self._fail_ready(err)

    def _fail_ready(self, err: BaseException) -> None:
        if not self._ready.done():
            self._ready.set_exception(err)
            self._ready.exception()
            # Let a later connection succeed for later openers.
            self._ready = self._loop.create_future()

    def _on_open(self, info: StreamInfo) -> None:
        self.info = info
        self._synced = False

    def _mark_hole(self, marker: Discontinuity) -> None:
        for consumer in self._packets:
            consumer.queue.put_marker(marker)
        if self._decoder is not None:
            self._decoder.mark_discontinuity()
        # What follows the hole up to the next keyframe cannot be decoded.
        self._synced = False

    def _mark_gap(self) -> None:
        """After a lost connection: consumers get a marker and resume on a keyframe."""
        self._gops.clear()
        self._rebase_pending = {"video", "audio"}
        self._synced = False
        marker = Discontinuity("reconnect")
        for consumer in self._packets:
            consumer.queue.put_marker(marker)
        if self._decoder is not None:
            self._decoder.mark_discontinuity()

    # -- ingest --------------------------------------------------------------------------

    def _ingest(self, raw: MediaPacket | Discontinuity) -> bool:
        """Normalise, buffer and fan out one packet; True if it was the first keyframe."""
        if isinstance(raw, Discontinuity):
            # The transport lost media: consumers resume on the next keyframe.
            self._mark_hole(raw)
            return False
        first_key = False
        if not self._synced:
            # Everything before the first keyframe of a connection is undecodable.
            if not _is_key(raw):
                return False
            self._synced = True
            first_key = True
        # After a reconnect each track continues from its own last timestamp.
        rebase = raw.kind in self._rebase_pending
        if rebase:
            self._rebase_pending.discard(raw.kind)
        clock = self._clocks[raw.kind]
        pkt, jumped = clock.fix(raw, rebase)
        if jumped:
            marker = Discontinuity("timestamp")
            for consumer in self._packets:
                consumer.queue.put_marker(marker)
        self.packets += 1
        self.bytes += pkt.size
        if pkt.kind == "video":
            self._rate_window.append((pkt.received_at, pkt.size))
            if pkt.keyframe:
                self._on_keyframe(pkt)
            elif self._gops:
                self._gops[-1].append(pkt)
            if self._decoder is not None:
                self._decoder.feed(pkt)
        elif self._gops:
            self._gops[-1].append(pkt)
        for consumer in self._packets:
            if pkt.kind == "audio" and not consumer.audio:
                continue
            consumer.queue.put(pkt)
        if first_key and not self._ready.done() and self.info is not None:
            self._ready.set_result(self.info)
        return first_key

    async def _hold_back(self) -> None:
        """Non-live sources (files): wait for slow consumers instead of dropping."""
        # Nobody reads yet (a stream opened, its iterator not yet made): wait, so
        # the first consumer starts at the beginning instead of the middle.
        while self._ready.done() and not (
            self._packets or self._decoder is not None or self._key_waiters
        ):
            if self._closed:
                return
            self._attached.clear()
            await self._attached.wait()
        decoder = self._decoder
        if decoder is not None and decoder.backlog > _DECODER_HIGH_WATER:
            await decoder.wait_backlog(_DECODER_HIGH_WATER)
        for consumer in self._packets:
            if consumer.queue.full():
                await consumer.queue.wait_space()

    def _on_keyframe(self, pkt: MediaPacket) -> None:
        self.keyframes += 1
        self._gops.append([pkt])
        keep_seconds = self.prebuffer
        latest = pkt.time or 0.0
        # Keep the last complete GOP plus whatever `prebuffer` asks for.
        while len(self._gops) > 2:
            second = self._gops[1][0].time
            if keep_seconds > 0 and second is not None and latest - second < keep_seconds:
                break
            self._gops.popleft()
        entry = KeyframeEntry(pkt, datetime.now(UTC), self.keyframes)
        self._keyframe = entry
        if self._key_waiters:
            waiters, self._key_waiters = self._key_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(entry)

    # -- consumers -----------------------------------------------------------------------

    def attach_packets(
        self,
        *,
        audio: bool = True,
        pre_roll: float | None = None,
        queue_size: int | None = None,
        overflow: OverflowPolicy | None = None,
    ) -> PacketConsumer:
        """Attach a packet consumer, primed from the prebuffer so it starts on a keyframe.

        ``pre_roll=None`` starts at the latest keyframe; a number starts at the
        latest keyframe at least that many seconds old (as far as buffered).
        """
        policy = overflow or self.config.overflow
        queue: ConsumerQueue[MediaPacket] = ConsumerQueue(
            queue_size or self.config.queue_size, policy, _is_key
        )
        consumer = PacketConsumer(queue, audio=audio)
        buffered = self.buffered(pre_roll)
        for pkt in buffered:
            if pkt.kind == "video" or audio:
                queue.put(pkt)
        if not buffered:
            self._ask_for_keyframe()
        if self._ended is not None:
            queue.close(self._ended)
        self._packets = (*self._packets, consumer)
        self._attached.set()
        return consumer

    def reserve_prebuffer(self, seconds: float) -> None:
        """Keep at least ``seconds`` of media from now on (a recording's pre-roll)."""
        self.prebuffer = max(self.prebuffer, seconds)

    def buffered_seconds(self) -> float:
        """How far back the buffered video reaches, in seconds of media time."""
        if not self._gops:
            return 0.0
        first = self._gops[0][0].time
        last = self._gops[-1][-1].time
        if first is None or last is None:
            return 0.0
        return max(0.0, last - first)

    def buffered(self, pre_roll: float | None) -> list[MediaPacket]:
        """Buffered packets from the keyframe that satisfies ``pre_roll``."""
        if not self._gops:
            return []
        gops = list(self._gops)
        start = len(gops) - 1
        if pre_roll is not None and pre_roll > 0:
            newest = gops[-1][-1].time or 0.0
            for i in range(len(gops) - 1, -1, -1):
                start = i
                first = gops[i][0].time
                if first is not None and newest - first >= pre_roll:
                    break
        return [pkt for gop in gops[start:] for pkt in gop]

    def detach_packets(self, consumer: PacketConsumer) -> None:
        """Detach a packet consumer."""
        self._packets = tuple(c for c in self._packets if c is not consumer)
        consumer.queue.close()

    def attach_frames(self, consumer: FrameConsumer) -> None:
        """Attach a frame consumer; the decoder starts with the first one."""
        if self.info is None:
            raise StreamError("stream is not ready", url=self.url)
        if self._ended is not None:
            consumer.queue.close(self._ended)
            return
        self._attached.set()
        if self._decoder is None:
            self._decoder = SharedDecoder(self.info)
            # Start from the buffered keyframe so the first frame comes at once.
            gop = self._gops[-1] if self._gops else []
            self._decoder.add(consumer)
            for pkt in gop:
                self._decoder.feed(pkt)
            return
        self._decoder.add(consumer)

    def detach_frames(self, consumer: FrameConsumer) -> None:
        """Detach a frame consumer; the decoder stops with the last one."""
        consumer.queue.close()
        decoder = self._decoder
        if decoder is None:
            return
        decoder.remove(consumer)
        if not decoder.consumers:
            self._decoder = None
            decoder.close()

    async def _stop_decoder(self) -> None:
        decoder, self._decoder = self._decoder, None
        if decoder is not None:
            decoder.close()
            await asyncio.to_thread(decoder.join, 5.0)

    def _ask_for_keyframe(self) -> None:
        """Ask a source that can (``request_keyframe``) for a keyframe, at most once a second."""
        request = getattr(self._upstream, "request_keyframe", None)
        now = self._loop.time()
        if request is None or now - self._keyframe_asked_at < 1.0:
            return
        if self._keyframe_ask is not None and not self._keyframe_ask.done():
            return
        self._keyframe_asked_at = now

        async def ask() -> None:
            try:
                async with asyncio.timeout(self.config.request_timeout):
                    await request()
            except Exception as exc:  # a hint to the source: never fails a consumer
                log.debug("keyframe request failed: %s", exc)

        self._keyframe_ask = self._loop.create_task(ask(), name="camsdk-keyframe-request")

    async def next_keyframe(self, *, newer_than: int = 0) -> KeyframeEntry:
        """Wait for a keyframe with sequence number above ``newer_than``."""
        entry = self._keyframe
        if entry is not None and entry.seq > newer_than:
            return entry
        if self._closed:
            raise CameraClosedError("stream closed", url=self.url)
        waiter: asyncio.Future[KeyframeEntry] = self._loop.create_future()
        self._key_waiters.append(waiter)
        self._attached.set()
        self._ask_for_keyframe()
        try:
            return await waiter
        finally:
            if waiter in self._key_waiters:
                self._key_waiters.remove(waiter)

    # -- stats ---------------------------------------------------------------------------

    def rates(self) -> tuple[float | None, float | None]:
        """Measured video fps and bitrate (bits/s) over the recent window."""
        window = self._rate_window
        if len(window) < 2:
            return None, None
        span = window[-1][0] - window[0][0]
        if span <= 0:
            return None, None
        return (len(window) - 1) / span, sum(size for _, size in window) * 8 / span
