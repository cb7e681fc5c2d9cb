"""H.265 over RTP (RFC 7798) -> Annex-B access units.

Single NAL unit packets, aggregation packets (AP, type 48) and fragmentation
units (FU, type 49); PACI (50) is ignored. DONL/DOND fields are read when
the SDP announces ``sprop-max-don-diff`` > 0 (they are absent otherwise). One
access unit per RTP timestamp; see `AccessUnitAssembler`.
"""

from __future__ import annotations

from ._nal import AccessUnitAssembler, Emit, FragmentedNal

__all__ = ["H265Depacketizer", "h265_nal_type"]

_AP, _FU = 48, 49
_VCL = frozenset(range(32))
_IRAP = frozenset(range(16, 22))
VPS, SPS, PPS = 32, 33, 34


def h265_nal_type(nal: bytes) -> int:
    """The NAL unit type (bits 1..6 of the first header byte)."""
    return (nal[0] >> 1) & 0x3F


def _first_slice(nal: bytes) -> bool:
    return len(nal) > 2 and nal[2] & 0x80 != 0  # first_slice_segment_in_pic_flag


class H265Depacketizer:
    """Turns the RTP payloads of one H.265 track into access units."""

    __slots__ = ("_don", "_frag", "au", "ignored")

    def __init__(self, emit: Emit, parameter_sets: list[bytes], *, donl: bool = False) -> None:
        self.au = AccessUnitAssembler(
            emit, h265_nal_type, _first_slice, vcl=_VCL, keyframes=_IRAP,
            parameter_types=(VPS, SPS, PPS), parameter_sets=parameter_sets,
        )
        self._don = 2 if donl else 0
        self._frag = FragmentedNal(self.au)
        self.ignored = 0

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """One RTP payload, ``packet[start:end]``."""
        au = self.au
        au.begin(timestamp)
        if end - start < 3:
            au.damage()
        else:
            kind = (packet[start] >> 1) & 0x3F
            if kind < 48:
                self._frag.abandon()
                au.add(packet[start:end])
            elif kind == _FU:
                self._fragment(packet, start, end)
            elif kind == _AP:
                self._aggregate(packet, start + 2, end)
            else:
                self.ignored += 1
        if marker:
            self._frag.abandon()
            au.finish()

    def lost(self) -> None:
        """Packets before the next one were lost."""
        self._frag.abandon()
        self.au.lost()

    def _fragment(self, packet: bytes, start: int, end: int) -> None:
        header = packet[start + 2]
        body = start + 3
        if header & 0x80:
            body += self._don
            if body >= end:
                self.au.damage()
                return
            first = (packet[start] & 0x81) | ((header & 0x3F) << 1)
            self._frag.start(bytes((first, packet[start + 1])), packet[body:end])
        elif not self._frag.append(packet[body:end]):
            return
        if header & 0x40:
            self._frag.end()

    def _aggregate(self, packet: bytes, pos: int, end: int) -> None:
        au = self.au
        first = True
        while pos < end:
            pos += self._don if first else (1 if self._don else 0)
            first = False
            if pos + 2 > end:
                au.damage()
                return
            size = (packet[pos] << 8) | packet[pos + 1]
            pos += 2
            if size < 2 or pos + size > end:
                au.damage()
                return
            au.add(packet[pos : pos + size])
            pos += size
