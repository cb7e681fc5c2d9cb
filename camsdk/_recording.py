"""Clips: remuxed packets from the shared session (with pre-roll), or masked and re-encoded.

A recording is one more consumer of the camera profile's `StreamSession`.
The file is written to a temporary file next to the target, created with
``O_EXCL`` (so a planted file or symlink is never written through) and handed
to FFmpeg as an open file, then moved into place with ``os.replace`` once it
is complete: a reader never sees a half-written clip under the final name,
and an existing file or symlink at that name is replaced, not written into.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ._access import Action, Decision
from ._errors import AccessDeniedError, CameraTimeoutError, ConfigurationError, RecordingError
from ._log import get_logger
from ._media import Discontinuity, MediaPacket
from ._models import Recording

if TYPE_CHECKING:  # pragma: no cover
    from ._camera import Camera

__all__ = ["OutputFile", "record_clip", "record_transcoded", "wall_time"]

log = get_logger("camsdk.recording")

# File suffix -> the container FFmpeg writes.
_CONTAINERS = {
    ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".ts": "mpegts",
}


@dataclass(slots=True)
class OutputFile:
    """A clip being written: an exclusive temporary file that becomes ``path`` on `commit`."""

    path: Path
    tmp: Path
    file: BinaryIO
    format: str

    @classmethod
    def create(cls, target: str | os.PathLike[str], *, url: str) -> OutputFile:
        """Check ``target`` and open the temporary file; `ConfigurationError` before any media."""
        path = Path(target)
        fmt = _CONTAINERS.get(path.suffix.lower())
        if fmt is None:
            known = ", ".join(sorted(_CONTAINERS))
            raise ConfigurationError(
                f"cannot tell the container from {path.name!r}; use one of {known}", url=url
            )
        parent = path.parent
        if not parent.is_dir():
            raise ConfigurationError(f"the directory {str(parent)!r} does not exist", url=url)
        if path.is_dir():
            raise ConfigurationError(f"{str(path)!r} is a directory", url=url)
        try:
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".part")
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write in {str(parent)!r}: {exc.strerror}", url=url
            ) from None
        return cls(path, Path(tmp), os.fdopen(fd, "w+b"), fmt)

    def commit(self, *, url: str) -> None:
        """Make the finished clip durable and move it to its name."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.discard()
            raise RecordingError(
                f"could not finish {self.path.name!r}: {exc.strerror or exc}", url=url
            ) from None

    def discard(self) -> None:
        """Close and delete the temporary file."""
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink(missing_ok=True)


def _storage_error(exc: BaseException, out: OutputFile, url: str) -> RecordingError | None:
    """A write failure of FFmpeg or the OS, as a `RecordingError` (or ``None`` if not one)."""
    import av

    if isinstance(exc, av.error.FFmpegError | OSError):
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return RecordingError(f"writing {out.path.name!r} failed: {reason}", url=url)
    return None


async def record_clip(
    camera: Camera,
    target: str | os.PathLike[str],
    duration: float,
    pre_roll: float,
    *,
    profile: str | None,
    audio: bool,
    decision: Decision,
    purpose: str,
    progress: Callable[[float], None] | None,
) -> Recording:
    """Remux ``duration`` seconds (plus up to ``pre_roll`` before now) into ``target``.

    A clip cut short (the task cancelled, Ctrl-C, the camera lost for good)
    is still finished and moved into place, playable, with what it got; a
    warning names it, and the error goes on to the caller.
    """
    from ._pipeline._codec import Mp4Writer

    url = camera.url
    out = OutputFile.create(target, url=url)
    if pre_roll:
        # Grow the buffer now, so this and every later pre-roll can be honest.
        camera._reserve_prebuffer(pre_roll)
    session = camera._session(profile)
    camera._acquire(session, camera._request(Action.RECORD, purpose))
    called = time.monotonic()
    writer: Mp4Writer | None = None
    consumer = None
    done = False
    cfg = camera.config
    first: MediaPacket | None = None
    first_time: float | None = None
    end_time: float | None = None
    now_time: float | None = None
    try:
        info = await session.wait_ready(cfg.open_timeout)
        with_audio = audio and info.has_audio
        consumer = session.attach_packets(audio=with_audio, pre_roll=pre_roll or None,
                                          queue_size=4096)
        buffered = session.buffered(None)
        now_time = buffered[-1].time if buffered else None
        writer = await asyncio.to_thread(Mp4Writer, out.file, out.format, info, audio=with_audio)
        batch: list[MediaPacket] = []
        deadline = called + duration + pre_roll + cfg.open_timeout + cfg.stall_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CameraTimeoutError(
                    "recording did not get enough media in time", scheme=camera.scheme, url=url
                )
            try:
                async with asyncio.timeout(remaining):
                    item = await consumer.queue.get()
            except TimeoutError:
                continue
            if not decision.still_valid():
                raise AccessDeniedError(
                    "access to this camera was revoked or has expired during recording",
                    scheme=camera.scheme, url=url, reason="grant no longer valid",
                )
            if isinstance(item, Discontinuity):
                continue
            if item.kind == "video" and item.time is not None:
                if first_time is None:
                    first, first_time = item, item.time
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
        counts = (writer.video_packets, writer.audio_packets, writer.bytes)
        audio_handling = writer.audio_handling
        writer = None
        await asyncio.to_thread(out.commit, url=url)
        done = True
        if progress is not None:
            progress(1.0)
    except BaseException as exc:
        if writer is not None and writer.video_packets and first is not None:
            done = await _finish_partial(writer, out, url, exc)
            writer = None
        err = _storage_error(exc, out, url) if isinstance(exc, Exception) else None
        if err is not None:
            raise err from None
        raise
    finally:
        if consumer is not None:
            session.detach_packets(consumer)
        session.release()
        if writer is not None:
            await asyncio.to_thread(writer.abort)
        if not done:
            out.discard()
    assert first is not None and first_time is not None and end_time is not None
    before = max(0.0, now_time - first_time) if now_time is not None else 0.0
    if pre_roll and before + 1e-3 < pre_roll:
        log.warning(
            "%s: pre-roll of %.3f s asked, %.3f s was buffered (the buffer now keeps %.3f s)",
            url, pre_roll, before, pre_roll,
        )
    return Recording(
        path=out.path,
        duration=round(end_time - first_time, 6),
        pre_roll=round(before, 6),
        pre_roll_requested=round(float(pre_roll), 6),
        started_at=wall_time(first),
        video_packets=counts[0], audio_packets=counts[1], bytes=counts[2],
        audio=audio_handling,
    )


def wall_time(packet: MediaPacket) -> datetime:
    """When ``packet`` was captured: the camera's clock if the transport knows it, else arrival."""
    if packet.wallclock is not None:
        return datetime.fromtimestamp(packet.wallclock, UTC)
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - packet.received_at)


async def _finish_partial(writer: Any, out: OutputFile, url: str, exc: BaseException) -> bool:
    """Make a clip cut short by ``exc`` playable under its name; True if that worked."""
    import anyio

    with anyio.CancelScope(shield=True):
        try:
            await asyncio.to_thread(writer.close)
            await asyncio.to_thread(out.commit, url=url)
        except Exception:
            log.warning("%s: the partial clip %s could not be saved", url, out.path.name)
            return False
    reason = "cancelled" if isinstance(exc, asyncio.CancelledError) else type(exc).__name__
    log.warning("%s: recording cut short (%s); the partial clip is %s", url, reason, out.path)
    return True


async def record_transcoded(
    camera: Camera,
    target: str | os.PathLike[str],
    duration: float,
    *,
    profile: str | None,
    decision: Decision,
    purpose: str,
    progress: Callable[[float], None] | None,
) -> Recording:
    """Decode, apply the privacy masks and re-encode H.264 (video only, no pre-roll)."""
    from ._media import VideoFrame
    from ._pipeline._codec import H264Encoder
    from ._pipeline._decoder import FrameConsumer
    from ._pipeline._queue import ConsumerQueue, QueueClosed

    url = camera.url
    out = OutputFile.create(target, url=url)
    session = camera._session(profile)
    camera._acquire(session, camera._request(Action.RECORD, purpose))
    started_at = datetime.now(UTC)
    started = time.monotonic()
    encoder: H264Encoder | None = None
    queue: ConsumerQueue[VideoFrame] = ConsumerQueue(64)
    consumer = FrameConsumer(queue, transform=camera._frame_transform(decision))
    attached = False
    done = False
    cfg = camera.config
    try:
        info = await session.wait_ready(cfg.open_timeout)
        encoder = await asyncio.to_thread(
            H264Encoder, out.file, out.format, info.width, info.height, info.fps
        )
        session.attach_frames(consumer)
        attached = True
        first: float | None = None
        last = 0.0
        batch: list[Any] = []
        deadline = started + duration + cfg.open_timeout + cfg.stall_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CameraTimeoutError(
                    "recording did not get enough media in time", scheme=camera.scheme, url=url
                )
            try:
                async with asyncio.timeout(remaining):
                    item = await queue.get()
            except (TimeoutError, QueueClosed):
                continue
            if not decision.still_valid():
                raise AccessDeniedError(
                    "access to this camera was revoked or has expired during recording",
                    scheme=camera.scheme, url=url, reason="grant no longer valid",
                )
            if not isinstance(item, VideoFrame) or item.time is None:
                continue
            if first is None:
                first = item.time
                started_at = datetime.now(UTC) - timedelta(
                    seconds=time.monotonic() - item.received_at
                )
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
        frames, nbytes = encoder.frames, encoder.bytes
        encoder = None
        await asyncio.to_thread(out.commit, url=url)
        done = True
        if progress is not None:
            progress(1.0)
        return Recording(
            path=out.path, duration=last, pre_roll=0.0, started_at=started_at,
            video_packets=frames, audio_packets=0, bytes=nbytes,
        )
    except Exception as exc:
        err = _storage_error(exc, out, url)
        if err is not None:
            raise err from None
        raise
    finally:
        if attached:
            session.detach_frames(consumer)
        session.release()
        if encoder is not None:
            await asyncio.to_thread(encoder.abort)
        if not done:
            out.discard()
