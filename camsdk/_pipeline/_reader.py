"""The PyAV upstream reader: demuxes local media (and ``client="ffmpeg"`` RTSP) in a thread.

camsdk reads network streams with its own transports (RTSP, HLS); this
reader is for what FFmpeg opens itself: local files of the ``file://``
driver, and RTSP streams a caller explicitly hands to FFmpeg's client
(``client="ffmpeg"``, for streams camsdk's client cannot parse yet).

One daemon thread per upstream opens the source with PyAV and demuxes it;
packets reach the event loop in batches (one loop wake-up per batch, and one
shared wake-up for every reader of a loop, not one per packet).

Deadlines are the session's, from asyncio. A native call cannot be
abandoned from Python, so for network sources PyAV's own ``timeout=`` (open
and read, a little later than the session's deadlines) is the backstop that
returns a stuck thread; `aclose` never waits on it longer than a moment, and
the thread ends at that backstop at the latest.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .._errors import (
    AuthenticationError,
    CameraTimeoutError,
    CameraUnreachableError,
    DeviceError,
    StreamDecodeError,
    StreamEndedError,
    StreamError,
    StreamOpenError,
)
from .._log import get_logger
from .._media import MediaPacket, StreamInfo
from .._url import redact_text

__all__ = ["PyAVReader", "ReaderSource", "translate_av_error"]

log = get_logger("camsdk.pipeline")

_BATCH = 64
# Packets the thread may run ahead of the event loop. A live stream never
# gets near it; a file read faster than consumers take it waits here.
_MAX_PENDING = 512
_GRACEFUL_CLOSE = 0.25


@dataclass(frozen=True, slots=True)
class ReaderSource:
    """What the PyAV reader opens: ``url`` may hold credentials and is never shown."""

    url: str = field(repr=False)
    shown: str
    options: Mapping[str, str] = field(default_factory=dict)
    format: str | None = None
    realtime: bool = False
    loop: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: PyAV's own (open, read) timeouts: the backstop for network sources.
    timeout: tuple[float | None, float | None] | None = None

    @property
    def redacted_url(self) -> str:
        """The URL as it may be shown."""
        return self.shown


def translate_av_error(
    exc: BaseException, *, url: str, secrets: tuple[str, ...] = ()
) -> Exception:
    """Map an ``av`` exception onto the camsdk error tree (message redacted)."""
    import av

    # FFmpeg's message without PyAV's "[Errno N] ...: 'url'" wrapping (the URL is
    # attached to the error separately, redacted).
    message = getattr(exc, "strerror", None) if isinstance(exc, av.error.FFmpegError) else None
    text = redact_text(message or str(exc), secrets)
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return AuthenticationError(f"stream rejected the credentials: {text}", url=url)
    if isinstance(exc, av.error.HTTPNotFoundError):
        return StreamOpenError(f"stream not found: {text}", url=url)
    if isinstance(exc, av.error.HTTPServerError):
        return DeviceError(f"device reported a server error: {text}", url=url, code="5xx")
    if isinstance(exc, av.error.HTTPClientError):
        return StreamOpenError(f"device refused the request: {text}", url=url)
    if isinstance(exc, av.error.ConnectionRefusedError | av.error.ConnectionResetError):
        return CameraUnreachableError(f"connection failed: {text}", url=url)
    if isinstance(exc, av.error.TimeoutError):
        return CameraTimeoutError(f"stream timed out: {text}", url=url)
    if isinstance(exc, av.error.EOFError):
        return StreamEndedError("stream ended", url=url)
    if isinstance(exc, av.error.ExitError):
        return CameraTimeoutError("stream read was interrupted", url=url)
    if "401" in text or "Unauthorized" in text:
        return AuthenticationError(f"stream rejected the credentials: {text}", url=url)
    if isinstance(exc, av.error.InvalidDataError):
        return StreamOpenError(f"stream sent invalid data: {text}", url=url)
    if isinstance(exc, OSError):
        return CameraUnreachableError(f"stream I/O failed: {text}", url=url)
    return StreamOpenError(f"stream failed: {text}", url=url)


# -- waking the loop ---------------------------------------------------------------------


class _LoopWaker:
    """Hands readers' news to the loop with as few cross-thread wake-ups as possible.

    Idle, the first packet wakes the loop at once (``call_soon_threadsafe``).
    Busy, the loop looks again every `_POLL` seconds while there is news, and
    reader threads only append to a deque: at hundreds of streams that saves
    a self-pipe write, an epoll wake-up and a GIL hand-over per packet, for at
    most `_POLL` of added latency.

    No lock: ``deque.append``/``popleft`` are atomic, and the ``_scheduled``
    flag is re-checked after it is cleared, so a wake-up is never lost (at
    worst one is doubled). A lock shared by every reader thread would make
    them queue for each other, which costs far more than it protects here.
    """

    _POLL = 0.004

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._ready: collections.deque[PyAVReader] = collections.deque()
        self._scheduled = False

    def notify(self, reader: PyAVReader) -> bool:
        """Called from reader threads; False when the loop is gone."""
        self._ready.append(reader)
        if self._scheduled:
            return True
        self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop closed: nobody is listening any more
            return False
        return True

    def _run(self) -> None:
        ready = self._ready
        woke = False
        while ready:
            ready.popleft()._wake()
            woke = True
        if woke:
            self._loop.call_later(self._POLL, self._run)
            return
        self._scheduled = False  # idle: the next packet wakes the loop
        if ready:  # appended after the check above, while still "scheduled"
            self._scheduled = True
            self._loop.call_soon(self._run)


_WAKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWaker] = (
    weakref.WeakKeyDictionary()
)


def _waker(loop: asyncio.AbstractEventLoop) -> _LoopWaker:
    waker = _WAKERS.get(loop)
    if waker is None:
        waker = _WAKERS[loop] = _LoopWaker(loop)
    return waker


# -- the reader --------------------------------------------------------------------------


class PyAVReader:
    """Reads one `StreamSource` with PyAV in a daemon thread; an async packet iterator.

    `start` opens the source and returns its `StreamInfo`; iterating yields
    `MediaPacket` s until the source fails (a typed `CamError`) or ends
    (`StreamEndedError`); `aclose` stops the thread without ever blocking
    the loop on a native call.
    """

    def __init__(self, source: ReaderSource, *, audio: bool = True) -> None:
        self._source = source
        self._want_audio = audio
        self._loop = asyncio.get_running_loop()
        self._waker = _waker(self._loop)
        self._pending: collections.deque[MediaPacket | BaseException] = collections.deque()
        # The thread appends, the loop pops: deque operations are atomic, so
        # the hand-over needs no lock (see `_LoopWaker`).
        self._wake_scheduled = False
        self._quit = threading.Event()
        self._waiter: asyncio.Future[None] | None = None
        self._opened: asyncio.Future[StreamInfo] = self._loop.create_future()
        self._finished: asyncio.Future[None] = self._loop.create_future()
        self._thread: threading.Thread | None = None
        self._info: StreamInfo | None = None
        self._space = threading.Event()
        self._space.set()
        local = source.url.startswith("file:") or "://" not in source.url
        self._live = not local or source.realtime
        self._finite = local and not source.loop
        #: Packets handed to the loop so far.
        self.packets = 0

    @property
    def live(self) -> bool:
        """Whether the source is live (a camera) rather than a file read at its own pace."""
        return self._live

    @property
    def finite(self) -> bool:
        """Whether the source ends for good (a file, a VOD playlist): no reconnecting."""
        return self._finite

    @property
    def info(self) -> StreamInfo:
        """Codec parameters (valid after `start`)."""
        if self._info is None:
            raise StreamOpenError("stream is not open", url=self._source.redacted_url)
        return self._info

    async def start(self) -> StreamInfo:
        """Open the source in the worker thread and wait until its streams are known."""
        self._thread = threading.Thread(
            target=self._run, name=f"camsdk-reader {self._source.redacted_url}", daemon=True
        )
        self._thread.start()
        self._info = await self._opened
        return self._info

    def pause_until_space(self, has_space: bool) -> None:
        """Kept for callers of the old back-pressure hook; pending packets are bounded."""

    # -- worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        container: Any = None
        announced = False  # whether `_opened` got its result (futures are loop-only)
        try:
            if self._quit.is_set():
                return
            container = self._open()
            if container is None:
                return
            video = next(
                (s for s in container.streams.video if not _is_attached_picture(s)), None
            )
            if video is None:
                self._fail_open(
                    StreamOpenError("source has no video track", url=self._source.redacted_url),
                    None,
                )
                return
            audio = next(iter(container.streams.audio), None) if self._want_audio else None
            duration = container.duration
            if not self._source.loop and duration is not None and duration > 0:
                # A known duration (VOD playlist, recording) ends for good.
                self._finite = True
            early: list[MediaPacket] = []
            info = _stream_info(video, audio)
            if info.width <= 0 or info.height <= 0:
                # No parameter sets in the SDP: learn the size from the first keyframe.
                completed = self._complete_info(container, video, audio, info, early)
                if completed is None:
                    return
                info = completed
            self._loop.call_soon_threadsafe(_set_result, self._opened, info)
            announced = True
            self._flush(early)
            self._demux(container, video, audio)
        except Exception as exc:  # pragma: no cover - a bug: report it, never hang
            if not self._quit.is_set():
                err = translate_av_error(exc, url=self._source.shown, secrets=self._source.secrets)
                err.__cause__ = exc
                if announced:
                    self._push(err)
                else:
                    self._fail_open(err, exc)
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception:  # pragma: no cover - closing a broken container
                    log.debug("closing container failed", exc_info=True)
            try:
                self._loop.call_soon_threadsafe(self._on_finished)
            except RuntimeError:  # pragma: no cover - loop closed
                pass

    def _open(self) -> Any:
        import av

        try:
            container = av.open(
                self._source.url,
                mode="r",
                format=self._source.format,
                container_options=dict(self._source.options),
                timeout=self._source.timeout,
            )
        except Exception as exc:
            if not self._quit.is_set():
                err = translate_av_error(exc, url=self._source.shown, secrets=self._source.secrets)
                self._fail_open(err, exc)
            return None
        if self._quit.is_set():
            container.close()
            return None
        return container

    def _complete_info(
        self, container: Any, video: Any, audio: Any, info: StreamInfo,
        early: list[MediaPacket],
    ) -> StreamInfo | None:
        from ._codec import decode_keyframe

        streams = [video] if audio is None else [video, audio]
        for packet in container.demux(streams):
            if self._quit.is_set():
                return None
            if packet.size == 0:
                continue
            pkt = self._to_media(packet, video, _time_base(video), _time_base(audio))
            early.append(pkt)
            if pkt.kind != "video" or not pkt.keyframe:
                continue
            probe = StreamInfo(
                info.codec, 0, 0, info.fps, info.time_base,
                extradata=video.codec_context.extradata,
            )
            try:
                frame = decode_keyframe(probe, pkt)
            except StreamDecodeError:
                continue
            return StreamInfo(
                codec=info.codec, width=frame.width, height=frame.height, fps=info.fps,
                time_base=info.time_base, extradata=video.codec_context.extradata,
                audio_codec=info.audio_codec, audio_sample_rate=info.audio_sample_rate,
                audio_channels=info.audio_channels, audio_time_base=info.audio_time_base,
                audio_extradata=info.audio_extradata,
            )
        self._fail_open(StreamEndedError("stream ended before its first keyframe",
                                         url=self._source.redacted_url), None)
        return None

    def _fail_open(self, err: Exception, cause: BaseException | None) -> None:
        err.__cause__ = cause
        try:
            self._loop.call_soon_threadsafe(_set_exception, self._opened, err)
        except RuntimeError:  # pragma: no cover - loop closed
            pass

    def _to_media(self, packet: Any, video: Any, vtb: Fraction, atb: Fraction) -> MediaPacket:
        is_video = packet.stream is video
        return MediaPacket(
            bytes(packet),
            packet.pts,
            packet.dts,
            vtb if is_video else atb,
            bool(packet.is_keyframe) if is_video else True,
            "video" if is_video else "audio",
            int(packet.duration or 0),
        )

    def _demux(self, container: Any, video: Any, audio: Any) -> None:
        import av

        streams = [video] if audio is None else [video, audio]
        vtb, atb = _time_base(video), _time_base(audio)
        source = self._source
        realtime = source.realtime
        # Looping files: each lap's timestamps continue where the last one ended.
        offsets = {"video": 0, "audio": 0}
        lap_start: dict[str, int] = {}
        ends: dict[str, int] = {}
        t0: float | None = None
        first_ts = 0.0
        batch: list[MediaPacket] = []
        while not self._quit.is_set():
            try:
                for packet in container.demux(streams):
                    if self._quit.is_set():
                        return
                    if packet.size == 0:
                        continue  # flush packets carry no data
                    pkt = self._to_media(packet, video, vtb, atb)
                    if source.loop:
                        pkt = _shift(pkt, offsets, lap_start, ends)
                    if realtime:
                        stamp = pkt.dts if pkt.dts is not None else pkt.pts
                        if stamp is not None:
                            at = float(stamp * pkt.time_base)
                            if t0 is None:
                                t0, first_ts = time.monotonic(), at
                            delay = (at - first_ts) - (time.monotonic() - t0)
                            if delay > 0:
                                self._flush(batch)
                                batch = []
                                if self._quit.wait(delay):
                                    return
                    batch.append(pkt)
                    if len(batch) >= _BATCH or realtime or not self._pending:
                        self._flush(batch)
                        batch = []
                    if not self._space.is_set():
                        self._flush(batch)
                        batch = []
                        # Wait for the loop to drain; the timeout re-checks quit and
                        # the queue itself (a set() may race with our clear()).
                        while not self._space.wait(0.1):
                            if self._quit.is_set():
                                return
                            if len(self._pending) < _MAX_PENDING // 2:
                                break
                self._flush(batch)
                batch = []
                if not source.loop:
                    self._push(StreamEndedError("stream ended", url=source.redacted_url))
                    return
                for kind, end in ends.items():
                    offsets[kind] = end - lap_start.get(kind, 0)
                lap_start.clear()
                container.seek(0)
            except av.error.EOFError:
                self._flush(batch)
                self._push(StreamEndedError("stream ended", url=source.redacted_url))
                return
            except Exception as exc:
                self._flush(batch)
                if not self._quit.is_set():
                    err = translate_av_error(exc, url=source.shown, secrets=source.secrets)
                    err.__cause__ = exc
                    self._push(err)
                return

    def _flush(self, batch: list[MediaPacket]) -> None:
        if not batch:
            return
        pending = self._pending
        pending.extend(batch)
        self.packets += len(batch)
        if not self._live and len(pending) >= _MAX_PENDING:
            self._space.clear()
        if not self._wake_scheduled:
            self._wake_scheduled = True
            if not self._waker.notify(self):
                self._quit.set()

    def _push(self, item: BaseException) -> None:
        self._pending.append(item)
        if not self._wake_scheduled:
            self._wake_scheduled = True
            self._waker.notify(self)

    # -- event loop side -----------------------------------------------------------------

    def _on_finished(self) -> None:
        if not self._finished.done():
            self._finished.set_result(None)
        self._wake()

    def _wake(self) -> None:
        # Cleared before the waiter is looked at: a thread that appends from now
        # on notifies again (see `_iterate`).
        self._wake_scheduled = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        pending = self._pending
        while True:
            while pending:
                item = pending.popleft()
                if isinstance(item, BaseException):
                    raise item
                yield item
            if not self._space.is_set():
                self._space.set()
            if self._finished.done():
                if pending:
                    continue
                raise StreamError("stream reader stopped", url=self._source.redacted_url)
            waiter = self._waiter = self._loop.create_future()
            try:
                # Re-checked with the waiter in place: whatever is appended from
                # here on either is seen now or wakes the waiter.
                if not pending:
                    await waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        """Stop the thread; never blocks the loop on a stuck native call. Idempotent."""
        self._quit.set()
        self._space.set()
        if not self._opened.done():
            self._opened.cancel()
        if self._thread is None or self._finished.done():
            return
        # Flowing media: the thread sees the quit flag at its next packet and
        # closes properly (RTSP TEARDOWN). A stuck one ends at PyAV's timeout.
        await asyncio.wait((self._finished,), timeout=_GRACEFUL_CLOSE)
        if not self._finished.done():
            log.debug("reader thread of %s still in a native call; it ends at its timeout",
                      self._source.redacted_url)


def _set_result(fut: asyncio.Future[StreamInfo], info: StreamInfo) -> None:
    if not fut.done():
        fut.set_result(info)


def _set_exception(fut: asyncio.Future[StreamInfo], err: BaseException) -> None:
    if not fut.done():
        fut.set_exception(err)


def _is_attached_picture(stream: Any) -> bool:
    """Cover art in a file is a one-picture "video" stream; never read it as the video."""
    import av

    flag = getattr(getattr(av.stream, "Disposition", None), "attached_pic", None)
    return flag is not None and bool(stream.disposition & flag)


def _time_base(stream: Any) -> Fraction:
    if stream is None or stream.time_base is None:
        return Fraction(1, 90000) if stream is None or stream.type == "video" else Fraction(
            1, 48000
        )
    return Fraction(stream.time_base)


def _shift(
    pkt: MediaPacket, offsets: dict[str, int], lap_start: dict[str, int], ends: dict[str, int]
) -> MediaPacket:
    """Offset a looping file's timestamps so every lap continues the previous one."""
    kind = pkt.kind
    raw = pkt.dts if pkt.dts is not None else pkt.pts
    if raw is not None and kind not in lap_start:
        lap_start[kind] = raw
    offset = offsets[kind]
    pts = None if pkt.pts is None else pkt.pts + offset
    dts = None if pkt.dts is None else pkt.dts + offset
    stamp = dts if dts is not None else pts
    if stamp is not None:
        end = stamp + max(pkt.duration, 1)
        if end > ends.get(kind, end - 1):
            ends[kind] = end
    if offset == 0:
        return pkt
    return MediaPacket(pkt.data, pts, dts, pkt.time_base, pkt.keyframe, kind, pkt.duration,
                       pkt.received_at)


def _stream_info(video: Any, audio: Any) -> StreamInfo:
    ctx = video.codec_context
    rate = video.average_rate or video.guessed_rate
    return StreamInfo(
        codec=ctx.name,
        width=ctx.width,
        height=ctx.height,
        fps=float(rate) if rate else None,
        time_base=_time_base(video),
        extradata=ctx.extradata,
        audio_codec=audio.codec_context.name if audio is not None else None,
        audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
        audio_channels=audio.codec_context.channels if audio is not None else None,
        audio_time_base=_time_base(audio) if audio is not None else None,
        audio_extradata=audio.codec_context.extradata if audio is not None else None,
    )
