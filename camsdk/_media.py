"""Per-packet and per-frame objects: plain frozen slotted dataclasses.

These cross the API edge many times a second, so they are dataclasses rather
than pydantic models: no validation cost, no per-instance dict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover - typing only, keeps `import camsdk` free of av
    import av
    import numpy as np

__all__ = [
    "Discontinuity",
    "MediaKind",
    "MediaPacket",
    "StreamInfo",
    "VideoFrame",
]

MediaKind = Literal["video", "audio"]


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """One encoded packet, ready to remux.

    ``pts``/``dts`` are in ``time_base`` units and never go backwards within a
    stream session, even across reconnects (see `Discontinuity`).
    """

    data: bytes
    pts: int | None
    dts: int | None
    time_base: Fraction
    keyframe: bool
    kind: MediaKind = "video"
    duration: int = 0
    #: ``time.monotonic()`` when the packet entered the SDK.
    received_at: float = field(default_factory=time.monotonic)
    #: Capture time on the camera's wall clock (UNIX seconds, UTC), when the
    #: transport knows it (RTSP: from RTCP sender reports); ``None`` until then.
    wallclock: float | None = None

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or ``None`` when unknown."""
        return None if self.pts is None else float(self.pts * self.time_base)

    @property
    def size(self) -> int:
        """Payload size in bytes."""
        return len(self.data)

    def __repr__(self) -> str:
        return (
            f"MediaPacket(kind={self.kind!r}, pts={self.pts}, dts={self.dts}, "
            f"keyframe={self.keyframe}, size={len(self.data)})"
        )


@dataclass(frozen=True, slots=True)
class Discontinuity:
    """Marks a gap in a packet or frame iterator.

    Emitted after a reconnect, after a consumer's queue overflowed (items were
    dropped), when the upstream reported a timestamp jump, or when the
    transport lost media (``loss``: RTP packets that never came). The next
    item after a marker is always a keyframe (packets) or a cleanly decoded
    frame. A `camsdk.driver.PacketSource` may yield one too, before the
    keyframe that follows a hole.
    """

    reason: Literal["reconnect", "overflow", "timestamp", "start", "loss"]
    #: Number of items the consumer lost to its overflow policy, if known.
    dropped: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One decoded picture.

    Pixel data stays inside the decoder's frame until asked for, so thinning
    and filtering cost no copies. `to_ndarray` gives a numpy array
    (height x width x channels for packed RGB/BGR formats).
    """

    width: int
    height: int
    format: str
    pts: int | None
    time_base: Fraction
    keyframe: bool
    #: ``time.monotonic()`` when the packet that produced this frame arrived.
    received_at: float
    _frame: av.VideoFrame = field(repr=False, compare=False)

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, or ``None`` when unknown."""
        return None if self.pts is None else float(self.pts * self.time_base)

    def to_ndarray(self, **kwargs: Any) -> np.ndarray[Any, Any]:
        """Return the pixels as a numpy array.

        For packed formats (``rgb24``, ``bgr24``) the array may be a view of
        the frame, which every consumer of the stream shares: call ``.copy()``
        before writing into it.
        """
        return self._frame.to_ndarray(**kwargs)

    def to_av(self) -> av.VideoFrame:
        """Return the underlying PyAV frame (shared; do not modify in place)."""
        return self._frame


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a stream carries: codec parameters needed to decode or remux it."""

    codec: str
    width: int
    height: int
    fps: float | None
    time_base: Fraction
    extradata: bytes | None = field(default=None, repr=False)
    profile: str = "main"
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_time_base: Fraction | None = None
    audio_extradata: bytes | None = field(default=None, repr=False)

    @property
    def has_audio(self) -> bool:
        """Whether the stream carries an audio track."""
        return self.audio_codec is not None
