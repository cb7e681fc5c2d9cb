"""The PyAV upstream reader: demuxes a `StreamSource` in a worker thread.

The thread hands packets to the event loop in batches (one loop wake-up per
batch, not per packet). Deadlines are enforced from asyncio by the session's
watchdog, never by FFmpeg's own interrupt callback: PyAV's ``timeout=`` takes
the GIL on every interrupt check, which costs a lot of CPU across many streams.
Closing the reader sets a quit flag; a thread stuck in a native call is
released by FFmpeg's socket timeouts (``rw_timeout``/``timeout`` options,
set by the driver) and never waited on by the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .._errors import (
    AuthenticationError,
    CameraTimeoutError,
    CameraUnreachableError,
    StreamEndedError,
    StreamError,
    StreamOpenError,
)
from .._log import get_logger
from .._media import MediaPacket, StreamInfo
from .._url import redact_text

if TYPE_CHECKING:  # pragma: no cover
    import av.container

    from .._driver import StreamSource

__all__ = ["PyAVReader", "translate_av_error"]

log = get_logger("camsdk.pipeline")

_BATCH = 64
_READER_THREADS = threading.Semaphore(1024)


def translate_av_error(exc: BaseException, source: StreamSource) -> Exception:
    """Map an ``av`` exception onto the camsdk error tree (message redacted)."""
    import av

    text = redact_text(str(exc), source.secrets)
    url = source.redacted_url
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return AuthenticationError(f"stream rejected the credentials: {text}", url=url)
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
    if isinstance(exc, OSError):
        return CameraUnreachableError(f"stream I/O failed: {text}", url=url)
    return StreamOpenError(f"stream failed: {text}", url=url)


class PyAVReader:
    """Reads one `StreamSource` with PyAV in a daemon thread; an async packet iterator."""

    def __init__(self, source: StreamSource, *, audio: bool = True) -> None:
        self._source = source
        self._want_audio = audio
        self._loop = asyncio.get_running_loop()
        self._pending: collections.deque[MediaPacket | BaseException] = collections.deque()
        self._wake_scheduled = False
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._waiter: asyncio.Future[None] | None = None
        self._opened: asyncio.Future[StreamInfo] = self._loop.create_future()
        self._thread: threading.Thread | None = None
        self._info: StreamInfo | None = None
        self._space = threading.Event()
        self._space.set()

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
        """Back-pressure for ``BLOCK`` consumers of non-live sources."""
        if has_space:
            self._space.set()
        else:
            self._space.clear()

    # -- worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        import av

        container: av.container.InputContainer | None = None
        try:
            try:
                container = av.open(
                    self._source.url,
                    mode="r",
                    format=self._source.format,
                    options=dict(self._source.options),
                )
            except Exception as exc:
                self._fail_open(translate_av_error(exc, self._source), exc)
                return
            if self._quit.is_set():
                return
            video = next(iter(container.streams.video), None)
            if video is None:
                self._fail_open(
                    StreamOpenError("source has no video track", url=self._source.redacted_url),
                    None,
                )
                return
            audio = next(iter(container.streams.audio), None) if self._want_audio else None
            info = _stream_info(video, audio)
            self._loop.call_soon_threadsafe(_set_result, self._opened, info)
            self._demux(container, video, audio)
        finally:
            if container is not None:
                try:
                    container.close()
                except Exception:  # pragma: no cover - closing a broken container
                    log.debug("closing container failed", exc_info=True)

    def _fail_open(self, err: Exception, cause: BaseException | None) -> None:
        err.__cause__ = cause
        self._loop.call_soon_threadsafe(_set_exception, self._opened, err)

    def _demux(self, container: Any, video: Any, audio: Any) -> None:
        import av

        streams = [video] if audio is None else [video, audio]
        vtb = video.time_base or Fraction(1, 90000)
        atb = (audio.time_base if audio is not None else None) or Fraction(1, 48000)
        realtime = self._source.realtime
        t0: float | None = None
        first_ts: float | None = None
        batch: list[MediaPacket] = []
        while not self._quit.is_set():
            try:
                for packet in container.demux(streams):
                    if self._quit.is_set():
                        return
                    if packet.size == 0:
                        continue  # flush packets carry no data
                    is_video = packet.stream is video
                    tb = vtb if is_video else atb
                    pkt = MediaPacket(
                        bytes(packet),
                        packet.pts,
                        packet.dts,
                        tb,
                        bool(packet.is_keyframe) if is_video else True,
                        "video" if is_video else "audio",
                        int(packet.duration or 0),
                    )
                    if realtime and pkt.time is not None:
                        if t0 is None or first_ts is None:
                            t0, first_ts = time.monotonic(), pkt.time
                        delay = (pkt.time - first_ts) - (time.monotonic() - t0)
                        if delay > 0:
                            self._flush(batch)
                            batch = []
                            if self._quit.wait(min(delay, 1.0)):
                                return
                    batch.append(pkt)
                    if len(batch) >= _BATCH or realtime or not self._pending:
                        self._flush(batch)
                        batch = []
                    if not self._space.is_set():
                        self._flush(batch)
                        batch = []
                        while not self._space.wait(0.1):
                            if self._quit.is_set():
                                return
                self._flush(batch)
                batch = []
                if not self._source.loop:
                    self._push(StreamEndedError("stream ended", url=self._source.redacted_url))
                    return
                container.seek(0)
                t0 = None
            except av.error.EOFError:
                self._flush(batch)
                self._push(StreamEndedError("stream ended", url=self._source.redacted_url))
                return
            except Exception as exc:
                self._flush(batch)
                if not self._quit.is_set():
                    err = translate_av_error(exc, self._source)
                    err.__cause__ = exc
                    self._push(err)
                return

    def _flush(self, batch: list[MediaPacket]) -> None:
        if not batch:
            return
        with self._lock:
            self._pending.extend(batch)
            schedule = not self._wake_scheduled
            self._wake_scheduled = True
        if schedule:
            try:
                self._loop.call_soon_threadsafe(self._wake)
            except RuntimeError:  # loop closed: nobody is listening any more
                self._quit.set()

    def _push(self, item: BaseException) -> None:
        with self._lock:
            self._pending.append(item)
            self._wake_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # pragma: no cover - loop closed
            pass

    # -- event loop side -----------------------------------------------------------------

    def _wake(self) -> None:
        with self._lock:
            self._wake_scheduled = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[MediaPacket]:
        while True:
            while True:
                with self._lock:
                    item = self._pending.popleft() if self._pending else None
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
            if self._thread is not None and not self._thread.is_alive():
                with self._lock:
                    if self._pending:
                        continue
                raise StreamError("stream reader stopped", url=self._source.redacted_url)
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        """Ask the thread to stop; never blocks the loop on a stuck native call."""
        self._quit.set()
        self._space.set()
        if not self._opened.done():
            self._opened.cancel()
        thread = self._thread
        if thread is not None and thread.is_alive():
            # Give a well-behaved thread a moment; a stuck one is left to its
            # socket timeout (daemon thread, no reference to the loop is used).
            await asyncio.to_thread(thread.join, 2.0)


def _set_result(fut: asyncio.Future[StreamInfo], info: StreamInfo) -> None:
    if not fut.done():
        fut.set_result(info)


def _set_exception(fut: asyncio.Future[StreamInfo], err: BaseException) -> None:
    if not fut.done():
        fut.set_exception(err)


def _stream_info(video: Any, audio: Any) -> StreamInfo:
    ctx = video.codec_context
    rate = video.average_rate or video.guessed_rate
    return StreamInfo(
        codec=ctx.name,
        width=ctx.width,
        height=ctx.height,
        fps=float(rate) if rate else None,
        time_base=video.time_base or Fraction(1, 90000),
        extradata=ctx.extradata,
        audio_codec=audio.codec_context.name if audio is not None else None,
        audio_sample_rate=audio.codec_context.sample_rate if audio is not None else None,
        audio_channels=audio.codec_context.channels if audio is not None else None,
        audio_time_base=audio.time_base if audio is not None else None,
        audio_extradata=audio.codec_context.extradata if audio is not None else None,
    )
