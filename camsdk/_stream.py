"""`MediaStream`: a consumer's handle on a camera profile's shared upstream.

``async with cam.stream("sub") as s`` attaches to the profile's
`StreamSession` (opening the upstream if nobody else had), waits for the
first keyframe, and gives `MediaStream.packets` and `MediaStream.frames`
iterators. Each iterator has its own bounded queue; each item is checked
against the access decision it was opened under, so a revoked or expired
grant stops it at the next packet or frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._access import Action, Decision
from ._errors import AccessDeniedError, CameraClosedError, StreamEndedError
from ._lifecycle import AsyncResource
from ._media import Discontinuity, MediaPacket, StreamInfo, VideoFrame
from ._models import OverflowPolicy, StreamStats
from ._pipeline._decoder import FrameConsumer
from ._pipeline._queue import ConsumerQueue, QueueClosed

if TYPE_CHECKING:  # pragma: no cover
    from ._camera import Camera
    from ._pipeline._session import PacketConsumer, StreamSession

__all__ = ["FrameIterator", "MediaStream", "PacketIterator"]

T = TypeVar("T", MediaPacket, VideoFrame)


class _EgressIterator(Generic[T], AsyncResource):
    """Shared behaviour of packet and frame iterators: access checks, counts, audit."""

    def __init__(
        self,
        stream: MediaStream,
        queue: ConsumerQueue[T],
        action: Action,
        decision: Decision,
        detach: Callable[[], None],
        purpose: str = "",
    ) -> None:
        self._stream = stream
        self._purpose = purpose
        self._queue: ConsumerQueue[T] = queue
        self._action = action
        self._decision = decision
        self._detach: Callable[[], None] | None = detach
        self._started = time.monotonic()
        self.items = 0
        self.bytes = 0
        stream._iterators.add(self)

    @property
    def dropped(self) -> int:
        """Items this consumer lost to its overflow policy."""
        dropped: int = self._queue.dropped
        return dropped

    def __aiter__(self) -> _EgressIterator[T]:
        return self

    async def __anext__(self) -> T | Discontinuity:
        if self._detach is None:
            raise StopAsyncIteration
        try:
            item = await self._queue.get()
        except (QueueClosed, StreamEndedError):
            await self.aclose()
            raise StopAsyncIteration from None
        except BaseException:
            await self.aclose()
            raise
        if not self._decision.still_valid():
            await self.aclose()
            camera = self._stream._camera
            raise AccessDeniedError(
                "access to this stream was revoked or has expired",
                scheme=camera.scheme,
                url=camera.url,
                reason="grant no longer valid",
            )
        if not isinstance(item, Discontinuity):
            self.items += 1
            if isinstance(item, MediaPacket):
                self.bytes += item.size
        return item

    async def aclose(self) -> None:
        """Detach from the stream and write the egress end to the audit log."""
        detach, self._detach = self._detach, None
        if detach is None:
            return
        detach()
        self._stream._iterators.discard(self)
        self._stream._camera._end(
            self._action,
            self._decision,
            items=self.items,
            nbytes=self.bytes,
            duration=time.monotonic() - self._started,
            purpose=self._purpose,
        )


class PacketIterator(_EgressIterator[MediaPacket]):
    """Encoded packets (video, and audio when asked), with `Discontinuity` markers."""


class FrameIterator(_EgressIterator[VideoFrame]):
    """Decoded frames, masked when privacy masks apply, with `Discontinuity` markers."""


class MediaStream(AsyncResource):
    """A handle on one profile's shared upstream (see module docstring)."""

    def __init__(self, camera: Camera, profile: str, *, audio: bool, purpose: str) -> None:
        self._camera = camera
        self.profile = profile
        self._audio = audio
        self._purpose = purpose
        self._session: StreamSession | None = None
        self._info: StreamInfo | None = None
        self._iterators: set[_EgressIterator[Any]] = set()
        self._closed = False
        self._decision: Decision | None = None

    @property
    def info(self) -> StreamInfo:
        """Codec, size, frame rate and time base of the stream."""
        if self._info is None:
            raise CameraClosedError(
                "stream is not open: use `async with cam.stream() as s`", url=self._camera.url
            )
        return self._info

    async def open(self) -> MediaStream:
        """Attach to the upstream and wait for the first keyframe (``open_timeout``)."""
        if self._closed:
            raise CameraClosedError("a closed stream cannot be reopened", url=self._camera.url)
        if self._session is not None:
            return self
        camera = self._camera
        self._decision = camera._authorize(Action.STREAM_OPEN, self._purpose)
        await camera._check_privacy()
        session = camera._session(self.profile)
        camera._acquire(session, camera._request(Action.STREAM_OPEN, self._purpose))
        try:
            self._info = await session.wait_ready(camera.config.open_timeout)
        except BaseException:
            session.release()
            raise
        self._session = session
        camera._streams.add(self)
        return self

    async def _on_enter(self) -> None:
        await self.open()

    async def aclose(self) -> None:
        """End every iterator of this stream and release the upstream. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for iterator in list(self._iterators):
            await iterator.aclose()
        session, self._session = self._session, None
        if session is not None:
            session.release()
        self._camera._streams.discard(self)
        if self._decision is not None:
            self._camera._end(Action.STREAM_OPEN, self._decision, purpose=self._purpose)

    def _require_session(self) -> StreamSession:
        if self._session is None or self._closed:
            raise CameraClosedError("stream is not open", url=self._camera.url)
        return self._session

    def packets(
        self,
        *,
        audio: bool | None = None,
        queue_size: int | None = None,
        overflow: OverflowPolicy | None = None,
        purpose: str | None = None,
    ) -> PacketIterator:
        """Iterate encoded packets, starting at the latest buffered keyframe.

        Raw packets cannot carry privacy masks, so when masks apply this needs
        a grant with ``raw_media``; the refusal is what the audit log records.
        """
        session = self._require_session()
        camera = self._camera
        purpose = self._purpose if purpose is None else purpose
        decision = camera._authorize(Action.PACKETS, purpose, raw=True)
        consumer: PacketConsumer = session.attach_packets(
            audio=self._audio if audio is None else audio,
            queue_size=queue_size,
            overflow=overflow,
        )
        return PacketIterator(
            self,
            consumer.queue,
            Action.PACKETS,
            decision,
            lambda: session.detach_packets(consumer),
            purpose,
        )

    def frames(
        self,
        *,
        fps: float | None = None,
        keyframes_only: bool = False,
        format: str | None = None,
        queue_size: int | None = None,
        overflow: OverflowPolicy | None = None,
        purpose: str | None = None,
    ) -> FrameIterator:
        """Iterate decoded frames (shared decoder, started on first use).

        ``fps`` thins the output; ``keyframes_only`` decodes only keyframes
        (a small fraction of a full decode's CPU); ``format`` converts pixels
        (e.g. ``"rgb24"``, ``"bgr24"``, ``"gray"``) in the decoder thread; a
        format the converter cannot produce is a `ConfigurationError` here.
        """
        from ._errors import ConfigurationError
        from ._pipeline._codec import check_pixel_format

        if fps is not None and (
            isinstance(fps, bool) or not isinstance(fps, int | float) or fps <= 0
        ):
            raise ConfigurationError("fps must be a positive number", url=self._camera.url)
        if format is not None:
            problem = check_pixel_format(format)
            if problem:
                raise ConfigurationError(problem, url=self._camera.url)
        session = self._require_session()
        camera = self._camera
        purpose = self._purpose if purpose is None else purpose
        decision = camera._authorize(Action.FRAMES, purpose)
        queue: ConsumerQueue[VideoFrame] = ConsumerQueue(
            queue_size or min(camera.config.queue_size, 32),
            overflow or camera.config.overflow,
        )
        consumer = FrameConsumer(
            queue,
            fps=fps,
            keyframes_only=keyframes_only,
            format=format,
            transform=camera._frame_transform(decision),
        )
        session.attach_frames(consumer)
        return FrameIterator(
            self, queue, Action.FRAMES, decision, lambda: session.detach_frames(consumer), purpose
        )

    def stats(self) -> StreamStats:
        """Counters of the shared session, with this stream's iterators' drops."""
        session = self._require_session()
        fps, bitrate = session.rates()
        decoder = session.decoder
        return StreamStats(
            state=session.state,
            consumers=session.consumers,
            packets=session.packets,
            bytes=session.bytes,
            keyframes=session.keyframes,
            reconnects=session.reconnects,
            dropped=sum(it.dropped for it in self._iterators),
            decoded_frames=decoder.decoded if decoder is not None else 0,
            fps=fps,
            bitrate=bitrate,
        )
