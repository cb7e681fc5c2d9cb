"""One shared decoder per stream session, in its own thread.

Started when the first frame consumer arrives and stopped when the last one
leaves, so a session that only relays packets never decodes. Per-consumer
work (``fps`` thinning, pixel format conversion, privacy masks) also runs in
this thread, once per distinct need, never on the event loop.

When every frame consumer asked for ``keyframes_only``, non-key packets are
not even handed to FFmpeg, which makes low-rate analytics nearly free.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._errors import StreamDecodeError
from .._log import get_logger
from .._media import Discontinuity, MediaPacket, StreamInfo, VideoFrame
from ._codec import new_decoder, to_av_packet
from ._queue import ConsumerQueue

__all__ = ["FrameConsumer", "SharedDecoder"]

log = get_logger("camsdk.pipeline")

# Packets waiting for the decoder; past this the decoder is too slow for the
# stream and drops to the next keyframe instead of falling further behind.
_MAX_BACKLOG = 120


@dataclass(eq=False, slots=True)
class FrameConsumer:
    """One ``frames()`` iterator's wishes and its queue."""

    queue: ConsumerQueue[VideoFrame]
    fps: float | None = None
    keyframes_only: bool = False
    format: str | None = None
    #: Applied in the decoder thread (privacy masks); the flag says whether
    #: the frame is a private copy it may change in place.
    transform: Callable[[Any, bool], Any] | None = None
    #: Set by the decoder thread when this consumer was ended with an error.
    failed: bool = False
    _next_time: float | None = field(default=None, repr=False)

    def wants(self, time: float | None, keyframe: bool) -> bool:
        """Thinning decision (decoder thread only)."""
        if self.keyframes_only and not keyframe:
            return False
        if self.fps is None or time is None:
            return True
        # A time jump backwards (loop, reconnect) restarts the schedule.
        if self._next_time is not None and 0 < self._next_time - time - 1e-6 < 2.0:
            return False
        self._next_time = time + 1.0 / self.fps
        return True


class SharedDecoder:
    """Decodes a session's video once for all of its frame consumers."""

    def __init__(self, info: StreamInfo, *, threads: int = 0) -> None:
        self._info = info
        self._threads = threads
        self._loop = asyncio.get_running_loop()
        self._consumers: tuple[FrameConsumer, ...] = ()
        self._backlog: collections.deque[MediaPacket | Discontinuity] = collections.deque()
        self._cond = threading.Condition()
        self._quit = False
        self._need_key = True
        self._outbox: list[tuple[FrameConsumer, VideoFrame | Discontinuity | BaseException]] = []
        self._out_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="camsdk-decoder", daemon=True)
        self._thread.start()
        self._drained: asyncio.Future[None] | None = None
        self._drain_below = 0
        #: Frames decoded (all consumers together count once).
        self.decoded = 0
        #: Packets dropped because decoding fell behind.
        self.skipped = 0

    @property
    def consumers(self) -> tuple[FrameConsumer, ...]:
        """Current frame consumers."""
        return self._consumers

    @property
    def keyframes_only(self) -> bool:
        """Whether every consumer wants keyframes only."""
        return bool(self._consumers) and all(c.keyframes_only for c in self._consumers)

    def add(self, consumer: FrameConsumer) -> None:
        """Attach a consumer (event loop)."""
        was_key_only = self.keyframes_only
        self._consumers = (*self._consumers, consumer)
        if was_key_only and not consumer.keyframes_only:
            # Non-key packets were skipped so far: resume full decoding at a keyframe.
            self._need_key = True

    def remove(self, consumer: FrameConsumer) -> None:
        """Detach a consumer (event loop)."""
        self._consumers = tuple(c for c in self._consumers if c is not consumer)

    def feed(self, pkt: MediaPacket) -> None:
        """Queue a video packet for decoding (event loop; never blocks)."""
        if pkt.kind != "video":
            return
        if self._need_key:
            if not pkt.keyframe:
                return
            self._need_key = False
        elif not pkt.keyframe and self.keyframes_only:
            return
        with self._cond:
            if len(self._backlog) >= _MAX_BACKLOG:
                self.skipped += len(self._backlog)
                self._backlog.clear()
                self._backlog.append(Discontinuity("overflow"))
                if not pkt.keyframe:
                    self._need_key = True
                    self._cond.notify()
                    return
            self._backlog.append(pkt)
            self._cond.notify()

    @property
    def backlog(self) -> int:
        """Packets waiting to be decoded."""
        return len(self._backlog)

    async def wait_backlog(self, limit: int) -> None:
        """Non-live sources: wait until the decoder caught up to ``limit`` packets."""
        while True:
            fut = self._loop.create_future()
            with self._cond:
                # Check and arm under the lock, so the thread cannot drain in between.
                if len(self._backlog) <= limit or self._quit:
                    return
                self._drained = fut
                self._drain_below = limit // 2
            try:
                await fut
            finally:
                self._drained = None

    def _signal_drained(self) -> None:
        fut = self._drained
        if fut is not None and len(self._backlog) <= self._drain_below:
            self._drained = None
            self._loop.call_soon_threadsafe(_resolve, fut)

    def mark_discontinuity(self) -> None:
        """Reconnects and timestamp jumps: flush the decoder, restart at a keyframe."""
        self._need_key = True
        with self._cond:
            self._backlog.append(Discontinuity("reconnect"))
            self._cond.notify()

    def close(self) -> None:
        """Stop the thread (returns at once; the thread exits after its current frame)."""
        with self._cond:
            self._quit = True
            self._backlog.clear()
            self._signal_drained()
            self._cond.notify()

    def join(self, timeout: float) -> None:
        """Wait for the thread (call from a worker thread, not the loop)."""
        self._thread.join(timeout)

    # -- decoder thread ------------------------------------------------------------------

    def _run(self) -> None:
        # A failure that is not the media's fault (a bug, FFmpeg refusing the
        # codec) ends every current consumer with a typed error, then the
        # decoder starts afresh for whoever attaches next: never a silent stall.
        while True:
            try:
                self._decode_loop()
                return
            except Exception as exc:
                log.warning("decoder failed (%s); restarting", type(exc).__name__)
                error = StreamDecodeError(f"the shared decoder failed: {type(exc).__name__}")
                for consumer in self._consumers:
                    self._fail(consumer, error)
                self._flush()
                with self._cond:
                    self._backlog.clear()
                    if self._quit:
                        return
                self._need_key = True

    def _decode_loop(self) -> None:
        import av

        ctx: Any = None  # made with the first packet, so a restart waits for media
        key_only_mode = False
        frame_threaded = True
        pending_times: dict[int | None, tuple[float, bool]] = {}
        broken = False  # after a decode error, drop frames until a clean keyframe
        try:
            while True:
                with self._cond:
                    while not self._backlog and not self._quit:
                        self._cond.wait()
                    if self._quit:
                        return
                    item = self._backlog.popleft()
                    self._signal_drained()
                if ctx is None or isinstance(item, Discontinuity):
                    ctx = new_decoder(self._info, threads=self._threads)
                    key_only_mode = False
                    frame_threaded = True
                if isinstance(item, Discontinuity):
                    pending_times.clear()
                    for consumer in self._consumers:
                        self._emit(consumer, Discontinuity(item.reason))
                    self._flush()
                    continue
                want_key_only = self.keyframes_only
                if want_key_only != key_only_mode:
                    ctx.skip_frame = "NONKEY" if want_key_only else "DEFAULT"
                    key_only_mode = want_key_only
                leftover: list[Any] = []
                if frame_threaded == key_only_mode and item.keyframe:
                    # Frame threading holds each picture back until more packets
                    # arrive: fed keyframes only, that is whole GOPs. Key-only
                    # decoding gets a decoder without it, switched at a keyframe
                    # once the old one has given back the pictures it held.
                    leftover = _drain(ctx)
                    ctx = new_decoder(
                        self._info, threads=self._threads, frame_threads=not key_only_mode
                    )
                    ctx.skip_frame = "NONKEY" if key_only_mode else "DEFAULT"
                    frame_threaded = not key_only_mode
                pending_times[item.pts] = (item.received_at, item.keyframe)
                if len(pending_times) > 64:
                    pending_times.pop(next(iter(pending_times)))
                try:
                    frames = [*leftover, *ctx.decode(to_av_packet(item))]
                except av.error.FFmpegError as exc:
                    log.debug("decode error: %s", exc)
                    broken = True
                    continue
                for frame in frames:
                    received_at, _ = pending_times.pop(frame.pts, (item.received_at, False))
                    keyframe = bool(frame.key_frame)
                    if frame.is_corrupt:
                        broken = True
                        continue
                    if broken:
                        if not keyframe:
                            continue
                        broken = False
                        for consumer in self._consumers:
                            self._emit(consumer, Discontinuity("overflow"))
                    self.decoded += 1
                    self._dispatch(frame, received_at, keyframe)
                self._flush()
        finally:
            self._flush()

    def _dispatch(self, frame: Any, received_at: float, keyframe: bool) -> None:
        time = None
        if frame.pts is not None and frame.time_base:
            time = float(frame.pts * frame.time_base)
        converted: dict[tuple[str | None, int], Any] = {}
        for consumer in self._consumers:
            if consumer.failed or not consumer.wants(time, keyframe):
                continue
            key = (consumer.format, id(consumer.transform))
            out = converted.get(key)
            if out is None:
                try:
                    out = frame
                    if consumer.format and frame.format.name != consumer.format:
                        out = out.reformat(format=consumer.format)
                    if consumer.transform is not None:
                        out = consumer.transform(out, out is not frame)
                except Exception as exc:
                    # This consumer's wish cannot be met: end it, keep the others going.
                    self._fail(consumer, StreamDecodeError(
                        f"frames could not be converted ({type(exc).__name__}: {exc})"[:200]
                    ))
                    continue
                converted[key] = out
            self._emit(
                consumer,
                VideoFrame(
                    out.width,
                    out.height,
                    out.format.name,
                    frame.pts,
                    frame.time_base or self._info.time_base,
                    keyframe,
                    received_at,
                    out,
                ),
            )

    def _emit(self, consumer: FrameConsumer, item: VideoFrame | Discontinuity) -> None:
        self._outbox.append((consumer, item))

    def _fail(self, consumer: FrameConsumer, error: BaseException) -> None:
        consumer.failed = True
        self._outbox.append((consumer, error))

    def _flush(self) -> None:
        if not self._outbox:
            return
        batch, self._outbox = self._outbox, []
        try:
            self._loop.call_soon_threadsafe(_deliver, batch)
        except RuntimeError:  # loop closed
            with self._cond:
                self._quit = True


def _drain(ctx: Any) -> list[Any]:
    """The pictures a decoder still holds (it is finished after this)."""
    import av

    try:
        return list(ctx.decode(None))
    except av.error.FFmpegError:
        return []


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _deliver(batch: list[tuple[FrameConsumer, VideoFrame | Discontinuity | BaseException]]) -> None:
    for consumer, item in batch:
        if isinstance(item, BaseException):
            consumer.queue.close(item)
        elif isinstance(item, Discontinuity):
            consumer.queue.put_marker(item)
        else:
            consumer.queue.put(item)
