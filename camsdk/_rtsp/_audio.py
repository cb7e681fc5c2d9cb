"""Audio payloads that map one RTP packet to one frame: G.711, L16, Opus.

- G.711 µ-law/A-law (``PCMU``/``PCMA``, also static payload types 0 and 8):
  one byte per sample and channel.
- L16 (RFC 3551): big-endian 16-bit samples, ``pcm_s16be``.
- Opus (RFC 7587): one Opus packet per RTP packet; its duration is read from
  the TOC byte (RFC 6716 3.1), at the 48 kHz RTP clock.
"""

from __future__ import annotations

from ._nal import Emit

__all__ = ["FrameDepacketizer", "opus_samples"]

# Frame sizes in 48 kHz samples for each TOC configuration (RFC 6716 table 2).
_OPUS_FRAME = (
    480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,  # SILK
    480, 960, 480, 960,  # hybrid
    120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,  # CELT
)


def opus_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) in one Opus packet; 0 when it cannot be read."""
    if not packet:
        return 0
    toc = packet[0]
    frame = _OPUS_FRAME[toc >> 3]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            return 0
        count = packet[1] & 0x3F
    total = frame * count
    return total if total <= 5760 else 0  # at most 120 ms per packet


class FrameDepacketizer:
    """Each RTP payload is one frame; ``bytes_per_sample`` sizes it (0: Opus TOC)."""

    __slots__ = ("bytes_per_sample", "emit", "malformed")

    def __init__(self, emit: Emit, *, bytes_per_sample: int) -> None:
        self.emit = emit
        self.bytes_per_sample = bytes_per_sample
        self.malformed = 0

    def lost(self) -> None:
        """Frames are independent: a loss costs only the lost frames."""

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """One RTP payload, ``packet[start:end]``."""
        if end <= start:
            self.malformed += 1
            return
        data = packet[start:end]
        if self.bytes_per_sample:
            duration = len(data) // self.bytes_per_sample
        else:
            duration = opus_samples(data)
        self.emit(data, timestamp, True, duration)
