"""Encoded frames from aiortc's receivers -> `MediaPacket`s. No aiortc, no decoding.

`VideoTap` takes H.264 access units as aiortc's depacketiser assembled them
(Annex-B, four-byte start codes) and

- marks keyframes from the NAL unit types (an IDR slice, with parameter
  sets known to decode it),
- caches SPS and PPS (from the stream or the SDP's ``sprop-parameter-sets``)
  and injects them before a keyframe that lacks them, so a consumer that
  joins at any keyframe (a late joiner, a recording) can decode it,
- keeps the bytes of every other access unit exactly as received.

`AudioTap` stamps Opus or G.711 packets with their RTP clock and duration.
Timestamps are aiortc's: the RTP timestamp counted from the stream's first
frame, unwrapped, so they never go backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from fractions import Fraction

from .._media import MediaPacket
from ._h264 import NAL_IDR, NAL_PPS, NAL_SPS, ParameterSets, join_annexb, nal_type, split_annexb

__all__ = ["AudioTap", "VideoTap", "opus_samples"]

VIDEO_TIME_BASE = Fraction(1, 90_000)
# Opus frame durations in units of 1/400 s (2.5 ms), by TOC configuration (RFC 6716 3.1).
_OPUS_FRAME = [4, 8, 16, 24] * 3 + [4, 8] * 2 + [1, 2, 4, 8] * 4

Wallclock = Callable[[int], "float | None"]


def opus_samples(packet: bytes) -> int:
    """Samples per channel at 48 kHz in one Opus packet (0 when malformed)."""
    if not packet:
        return 0
    toc = packet[0]
    per_frame = _OPUS_FRAME[toc >> 3] * 120  # 1/400 s = 120 samples at 48 kHz
    code = toc & 3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    elif len(packet) >= 2:
        frames = packet[1] & 0x3F
    else:
        return 0
    total = frames * per_frame
    return total if total <= 5760 else 0  # 120 ms is the most a packet may hold


class VideoTap:
    """H.264 access units -> video `MediaPacket`s (see the module docstring)."""

    def __init__(self, wallclock: Wallclock | None = None) -> None:
        self.parameter_sets = ParameterSets()
        self._wallclock = wallclock
        #: Keyframes that got cached parameter sets put in front of them.
        self.injected = 0
        self.access_units = 0
        self.keyframes = 0

    def seed(self, units: Iterable[bytes]) -> None:
        """Parameter sets known before the stream (the SDP's ``sprop-parameter-sets``)."""
        for unit in units:
            self.parameter_sets.update(unit)

    def process(self, data: bytes, timestamp: int, received_at: float | None = None) -> (
        MediaPacket | None
    ):
        """One access unit as a packet; ``None`` for an empty one."""
        units = split_annexb(data)
        if not units:
            return None
        has_idr = has_sps = has_pps = False
        sets = self.parameter_sets
        for unit in units:
            kind = nal_type(unit)
            if kind == NAL_IDR:
                has_idr = True
            elif kind == NAL_SPS:
                has_sps = sets.update(unit) or has_sps
            elif kind == NAL_PPS:
                has_pps = sets.update(unit) or has_pps
        keyframe = has_idr and sets.complete
        if keyframe and not (has_sps and has_pps):
            # A late joiner decodes from this keyframe alone: give it the sets.
            known = [u for u in sets.units() if
                     (nal_type(u) == NAL_SPS and not has_sps) or
                     (nal_type(u) == NAL_PPS and not has_pps)]
            data = join_annexb(known) + data
            self.injected += 1
        self.access_units += 1
        self.keyframes += keyframe
        return MediaPacket(
            data=data,
            pts=timestamp,
            dts=timestamp,  # WebRTC H.264 has no B-frames: decode order is display order
            time_base=VIDEO_TIME_BASE,
            keyframe=keyframe,
            kind="video",
            received_at=time.monotonic() if received_at is None else received_at,
            wallclock=self._wallclock(timestamp) if self._wallclock is not None else None,
        )


class AudioTap:
    """Opus / G.711 packets -> audio `MediaPacket`s in 1/clock_rate."""

    def __init__(self, codec: str, clock_rate: int, wallclock: Wallclock | None = None) -> None:
        self.codec = codec
        self.time_base = Fraction(1, clock_rate)
        self._wallclock = wallclock
        self.packets = 0

    def duration(self, data: bytes) -> int:
        """Samples in ``data`` (per channel, in the clock rate)."""
        if self.codec == "opus":
            return opus_samples(data)
        if self.codec in ("pcm_mulaw", "pcm_alaw"):
            return len(data)
        return 0

    def process(self, data: bytes, timestamp: int, received_at: float | None = None) -> (
        MediaPacket | None
    ):
        """One audio packet; ``None`` for an empty one."""
        if not data:
            return None
        self.packets += 1
        return MediaPacket(
            data=data,
            pts=timestamp,
            dts=timestamp,
            time_base=self.time_base,
            keyframe=True,
            kind="audio",
            duration=self.duration(data),
            received_at=time.monotonic() if received_at is None else received_at,
            wallclock=self._wallclock(timestamp) if self._wallclock is not None else None,
        )
