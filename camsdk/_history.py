"""The device's own recordings: listed and downloaded through the camera's gate.

Cloud cameras (Ring) and NVRs keep recordings of past events. `Camera.recordings`
lists them as `DeviceRecording` models and `DeviceRecording.download` writes one
to a file. Both are decided by the camera's `AccessGate` as ``history``
actions and audited before anything is fetched; a download is raw media
(the vendor's bytes, unmasked), so under privacy masks it is denied unless
the grant allows ``raw_media``, exactly as `Camera.record` is.

A download is written the way a recording is (`OutputFile`): the vendor's
bytes go to an anonymous temporary file, are remuxed (never transcoded) into
the container the target's suffix names, in an exclusive temporary file next
to the target, which is moved into place when complete. Bytes that are not
media PyAV can read are refused, and a failure leaves no file behind.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

from ._access import Action
from ._errors import (
    CameraClosedError,
    CameraProtocolError,
    CamError,
    ConfigurationError,
    RecordingError,
)
from ._models import Capability, DeviceRecording, Recording
from ._recording import OutputFile

if TYPE_CHECKING:  # pragma: no cover
    from ._camera import Camera

__all__ = ["MAX_DOWNLOAD_BYTES", "FileSink", "download_recording", "list_recordings"]

#: Largest recording a download accepts (vendors' clips are tens of MB).
MAX_DOWNLOAD_BYTES = 2 * 1024 * 1024 * 1024
# Recordings a listing may return before it is cut (a hostile answer stays bounded).
_MAX_LISTED = 10_000


class FileSink:
    """The `camsdk.driver.RecordingSink` of one download: writes off the loop, capped."""

    def __init__(self, file: BinaryIO, *, limit: int = MAX_DOWNLOAD_BYTES, url: str = "") -> None:
        self._file = file
        self._limit = limit
        self._url = url
        self._written = 0

    @property
    def written(self) -> int:
        """Bytes written so far."""
        return self._written

    async def write(self, data: bytes) -> None:
        """Append ``data``; `RecordingError` past the cap or when the disk refuses."""
        if not data:
            return
        if self._written + len(data) > self._limit:
            raise RecordingError(
                f"the recording is larger than the {self._limit}-byte cap", url=self._url
            )
        try:
            await asyncio.to_thread(self._file.write, bytes(data))
        except OSError as exc:
            raise RecordingError(
                f"writing the download failed: {exc.strerror or exc}", url=self._url
            ) from None
        self._written += len(data)


def _check_window(start: object, end: object, url: str) -> tuple[datetime, datetime]:
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        raise ConfigurationError("start and end are datetime objects", url=url)
    if start.tzinfo is None or end.tzinfo is None:
        raise ConfigurationError("start and end must be timezone-aware datetimes", url=url)
    if end <= start:
        raise ConfigurationError("end must be after start", url=url)
    return start, end


async def list_recordings(
    camera: Camera, start: datetime, end: datetime, *, purpose: str = ""
) -> list[DeviceRecording]:
    """`Camera.recordings`: check, decide, ask the driver, bind each result to ``camera``."""
    start, end = _check_window(start, end, camera.url)
    camera._require(Capability.HISTORY)
    decision = camera._authorize(Action.HISTORY, purpose)
    started = time.monotonic()
    request = camera._request(Action.HISTORY, purpose)
    found = await camera._call(
        camera._driver.recordings(start, end), camera.config.request_timeout, request
    )
    if not isinstance(found, list) or not all(isinstance(r, DeviceRecording) for r in found):
        raise CameraProtocolError(
            "the driver listed something other than DeviceRecording models",
            scheme=camera.scheme, url=camera.url,
        )
    bound: list[DeviceRecording] = []
    for item in sorted(found, key=lambda r: r.start)[:_MAX_LISTED]:
        copy = item.model_copy(update={"camera_id": item.camera_id or camera.id})
        copy._camera = camera
        bound.append(copy)
    camera._end(Action.HISTORY, decision, items=len(bound), duration=time.monotonic() - started,
                purpose=purpose)
    return bound


def _scratch(directory: os.PathLike[str]) -> BinaryIO:
    """An anonymous file (unlinked at once) for the vendor's bytes."""
    return tempfile.TemporaryFile("w+b", dir=directory)


def _remux(source: BinaryIO, out: OutputFile) -> tuple[int, int, float]:
    """Copy ``source``'s packets into ``out``'s container (no transcoding).

    Returns video and audio packets and the duration (s); `ValueError` when
    ``source`` is not media PyAV can read.
    """
    import av

    source.seek(0)
    video = audio = 0
    first: float | None = None
    last = 0.0
    try:
        with av.open(source, "r") as reader:
            streams = [s for s in reader.streams if s.type in ("video", "audio")]
            if not streams:
                raise ValueError("no audio or video stream")
            with av.open(out.file, "w", format=out.format) as writer:
                mapped = {s.index: writer.add_stream_from_template(s) for s in streams}
                for packet in reader.demux(streams):
                    if packet.dts is None or packet.size == 0:
                        continue  # flush packets
                    if packet.stream.type == "video":
                        video += 1
                        if packet.pts is not None and packet.time_base is not None:
                            moment = float(packet.pts * packet.time_base)
                            first = moment if first is None else min(first, moment)
                            last = max(last, moment + float(
                                (packet.duration or 0) * packet.time_base))
                    else:
                        audio += 1
                    packet.stream = mapped[packet.stream.index]
                    writer.mux(packet)
    except av.error.FFmpegError as exc:
        raise ValueError(type(exc).__name__) from None
    return video, audio, max(0.0, last - (first or 0.0))


async def download_recording(
    recording: DeviceRecording,
    target: str | os.PathLike[str],
    *,
    progress: Callable[[float], None] | None = None,
    purpose: str = "",
    timeout: float = 300.0,
) -> Recording:
    """`DeviceRecording.download`: decide (raw media), audit, fetch, check, commit."""
    from ._camera import Camera, CameraState

    camera = recording._camera
    if not isinstance(camera, Camera):
        raise ConfigurationError(
            "this recording was not listed by a camera: get it from Camera.recordings()"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigurationError("timeout must be a number of seconds > 0", url=camera.url)
    if camera.state is not CameraState.OPEN:
        raise CameraClosedError("the camera that listed this recording is closed",
                                scheme=camera.scheme, url=camera.url)
    camera._require(Capability.HISTORY)
    decision = camera._authorize(Action.HISTORY, purpose, raw=True)
    camera._gate.record(camera._ref, {
        "event": "history.download", "recording": recording.id,
        "principal": camera.principal.id, "purpose": purpose,
    })
    url = camera.url
    out = OutputFile.create(target, url=url)
    # The vendor's bytes land in an anonymous file first; they reach the target
    # only remuxed into the container its suffix names, and only if they are media.
    raw = await asyncio.to_thread(_scratch, out.path.parent)
    sink = FileSink(raw, url=url)
    started = time.monotonic()
    done = False
    try:
        await camera._call(
            camera._driver.download_recording(recording, sink, progress), float(timeout),
            camera._request(Action.HISTORY, purpose),
        )
        try:
            video, audio, duration = await asyncio.to_thread(_remux, raw, out)
        except ValueError as exc:
            raise CameraProtocolError(
                f"the downloaded recording is not media camsdk can read ({exc})",
                scheme=camera.scheme, url=url,
            ) from None
        await asyncio.to_thread(out.commit, url=url)
        done = True
    except CamError as exc:
        exc.scheme = exc.scheme or camera.scheme
        raise
    finally:
        await asyncio.to_thread(raw.close)
        if not done:
            out.discard()
    if progress is not None:
        progress(1.0)
    camera._end(Action.HISTORY, decision, items=1, nbytes=sink.written,
                duration=time.monotonic() - started, purpose=purpose)
    return Recording(
        path=out.path,
        duration=round(duration if duration > 0 else (recording.duration or 0.0), 6),
        pre_roll=0.0,
        started_at=recording.start,
        video_packets=video,
        audio_packets=audio,
        bytes=sink.written,
        audio="copied" if audio else "none",
    )
