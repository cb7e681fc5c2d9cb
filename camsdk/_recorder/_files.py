"""Footage files: where they go, what they are called, and the blocking writer of one.

Layout under the recorder's directory::

    <root>/<camera>/index.sqlite3
    <root>/<camera>/<YYYY-MM-DD>/<YYYYmmddTHHMMSS.ffffffZ>.mp4            segments
    <root>/<camera>/clips/<YYYY-MM-DD>/<YYYYmmddTHHMMSS.ffffffZ>-<kind>.mp4  event clips

Names are the UTC wall-clock time of the first frame, so they sort by time.
`MediaFile` writes through `OutputFile` (an exclusive temporary file moved
into place when complete), so a crash never leaves half a file under a
final name. Everything in `MediaFile` blocks: call it from a worker thread.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any

from .._errors import ConfigurationError, RecordingError
from .._media import MediaPacket, StreamInfo
from .._pipeline._remux import (
    AudioTrack,
    add_video_track,
    needs_hvc1,
    packet_with_prefix,
    retag_hevc,
)
from .._recording import OutputFile

__all__ = [
    "FileResult",
    "MediaFile",
    "camera_dirname",
    "footage_name",
    "is_footage_name",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_FOOTAGE = re.compile(
    r"^(clips/)?\d{4}-\d{2}-\d{2}/\d{8}T\d{6}\.\d{6}Z(-[a-z0-9_]{1,32})?\.mp4$"
)
CLIPS_DIR = "clips"


def camera_dirname(camera_id: str) -> str:
    """A directory name for ``camera_id``: safe characters only, distinct per id.

    When characters had to be replaced, a short hash of the id is appended,
    so ``a:b`` and ``a_b`` never share a directory.
    """
    clean = _UNSAFE.sub("_", camera_id).strip("._-")[:80]
    if clean != camera_id or not clean:
        digest = hashlib.sha256(camera_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        clean = f"{clean or 'camera'}-{digest}"
    return clean


def footage_name(start: datetime, *, label: str = "") -> PurePosixPath:
    """The relative path of a segment (or, with ``label``, an event clip) starting at ``start``."""
    stem = f"{start:%Y%m%dT%H%M%S.%fZ}" + (f"-{label}" if label else "")
    day = f"{start:%Y-%m-%d}"
    if label:
        return PurePosixPath(CLIPS_DIR, day, stem + ".mp4")
    return PurePosixPath(day, stem + ".mp4")


def is_footage_name(relative: str) -> bool:
    """Whether ``relative`` has the shape of a name `footage_name` makes (a deletion guard)."""
    return bool(_FOOTAGE.match(relative))


@dataclass(frozen=True, slots=True)
class FileResult:
    """What a finished file holds, on the camera's timeline (video time base)."""

    start_pts: int
    end_pts: int
    video_packets: int
    audio_packets: int
    bytes: int


def _decode_ts(pkt: MediaPacket) -> int:
    if pkt.dts is not None:
        return pkt.dts
    return pkt.pts or 0


class MediaFile:
    """One MP4 being written from remuxed packets, starting at the keyframe ``first``.

    Both tracks are shifted by the same origin (the first frame's time), so
    the file starts at zero and audio stays in step with video. Video packet
    durations are taken from the next packet's timestamp (one packet is held
    back), and the last one's from ``end_pts`` when the caller knows where
    the next file starts: consecutive files then meet exactly.
    """

    def __init__(
        self, target: Path, info: StreamInfo, first: MediaPacket, *, audio: bool, url: str
    ) -> None:
        import av

        self.path = target
        self._url = url
        try:
            self._out_file = OutputFile.create(target, url=url)
        except ConfigurationError as exc:
            # Checked at the start; now the directory went away under us.
            raise RecordingError(exc.message, url=url) from None
        self._video_tb = info.time_base
        self.start_pts = first.pts if first.pts is not None else _decode_ts(first)
        self._origin = _decode_ts(first)
        origin_seconds = Fraction(self._origin) * info.time_base
        self._audio_tb = info.audio_time_base
        self._audio_origin = (
            math.floor(origin_seconds / self._audio_tb) if self._audio_tb is not None else 0
        )
        # Parameter sets go in front of the first frame (see `_add_video`).
        self._prefix = b""
        try:
            self._container: Any = av.open(self._out_file.file, "w", format=self._out_file.format)
            self._video, self._prefix = add_video_track(
                self._container, self._out_file.format, info
            )
            self._hvc1 = needs_hvc1(self._out_file.format, info)
            self._audio: AudioTrack | None = None
            if audio and info.audio_codec:
                self._audio = AudioTrack(self._container, self._out_file.format, info)
                if self._audio.stream is None:
                    self._audio = None
        except Exception as exc:
            self._out_file.discard()
            raise self._error("could not start", exc) from None
        # A cancelled caller may abort while a worker thread still writes: one at a time.
        self._lock = threading.Lock()
        self._done = False
        self._pending: MediaPacket | None = None
        self._last_delta = 0
        self._last_dts: dict[str, int] = {}
        self.end_pts = self.start_pts
        self.video_packets = 0
        self.audio_packets = 0
        self.skipped = 0

    @property
    def time_base(self) -> Fraction:
        """The video time base (of ``start_pts`` and ``end_pts``)."""
        return self._video_tb

    @property
    def audio_origin(self) -> int:
        """The first audio pts this file takes (earlier audio belongs to the file before)."""
        return self._audio_origin

    def _error(self, what: str, exc: BaseException) -> RecordingError:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return RecordingError(f"{what} {self.path.name!r}: {reason}", url=self._url)

    def _check_alive(self) -> None:
        # The temporary file lost its last link: the directory was removed.
        if os.fstat(self._out_file.file.fileno()).st_nlink == 0:
            raise RecordingError(
                f"the directory of {self.path.name!r} was removed while recording", url=self._url
            )

    def write(self, packets: list[MediaPacket]) -> None:
        """Mux ``packets`` (video and audio, in arrival order)."""
        with self._lock:
            self._write(packets)

    def _write(self, packets: list[MediaPacket]) -> None:
        import av

        try:
            if self._done:
                raise RecordingError(f"{self.path.name!r} is already closed", url=self._url)
            self._check_alive()
            for pkt in packets:
                if pkt.kind == "video":
                    prev = self._pending
                    if prev is not None:
                        delta = _decode_ts(pkt) - _decode_ts(prev)
                        self._mux_video(prev, delta if delta > 0 else None)
                    self._pending = pkt
                elif self._audio is not None:
                    self._mux_audio(pkt)
        except RecordingError:
            raise
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise self._error("writing", exc) from None

    def _mux_video(self, pkt: MediaPacket, duration: int | None) -> None:
        from .._pipeline._codec import to_av_packet

        if duration is None:
            duration = pkt.duration or self._last_delta
        self._last_delta = duration
        dts = _decode_ts(pkt) - self._origin
        last = self._last_dts.get("video")
        if last is not None and dts <= last:
            self.skipped += 1  # the muxer refuses non-increasing DTS
            return
        self._last_dts["video"] = dts
        if self._prefix:
            out = packet_with_prefix(self._prefix, pkt)
            self._prefix = b""
        else:
            out = to_av_packet(pkt)
        out.dts = dts
        out.pts = (pkt.pts if pkt.pts is not None else _decode_ts(pkt)) - self._origin
        out.duration = duration
        out.stream = self._video
        self._container.mux(out)
        self.video_packets += 1
        self.end_pts = max(self.end_pts, out.pts + self._origin + duration)

    def _mux_audio(self, pkt: MediaPacket) -> None:
        assert self._audio is not None
        origin = self._audio_origin
        dts = _decode_ts(pkt) - origin
        last = self._last_dts.get("audio")
        if dts < 0 or (last is not None and dts <= last):
            self.skipped += 1
            return
        self._last_dts["audio"] = dts
        pts = (pkt.pts if pkt.pts is not None else _decode_ts(pkt)) - origin
        for out in self._audio.packets(pkt, pts, dts):
            out.stream = self._audio.stream
            self._container.mux(out)
        self.audio_packets += 1

    def finish(self, end_pts: int | None) -> FileResult:
        """Write the held-back packet (lasting until ``end_pts`` if given), close, commit."""
        with self._lock:
            if self._done:
                raise RecordingError(f"{self.path.name!r} is already closed", url=self._url)
            self._done = True
            return self._finish(end_pts)

    def _finish(self, end_pts: int | None) -> FileResult:
        import av

        try:
            self._check_alive()
            pending, self._pending = self._pending, None
            if pending is not None:
                duration = None
                if end_pts is not None:
                    duration = end_pts - (pending.pts if pending.pts is not None
                                          else _decode_ts(pending))
                self._mux_video(pending, duration if duration and duration > 0 else None)
            if self._audio is not None:
                for out in self._audio.flush():
                    out.stream = self._audio.stream
                    self._container.mux(out)
            self._container.close()
            self._out_file.file.flush()  # the file object buffers too
            if self._hvc1:
                retag_hevc(self._out_file.file)
            size = os.fstat(self._out_file.file.fileno()).st_size
        except RecordingError:
            self._abort()
            raise
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self._abort()
            raise self._error("finishing", exc) from None
        self._out_file.commit(url=self._url)
        return FileResult(
            self.start_pts, self.end_pts, self.video_packets, self.audio_packets, size
        )

    def abort(self) -> None:
        """Give up: close what is open and delete the temporary file (no-op once finished)."""
        with self._lock:
            if not self._done:
                self._done = True
                self._abort()

    def _abort(self) -> None:
        try:
            self._container.close()
        except Exception:
            pass  # already broken; the temporary file goes either way
        self._out_file.discard()
