"""H.264 over RTP (RFC 6184) -> Annex-B access units.

Packetisation modes 0 and 1: single NAL unit packets, STAP-A aggregates and
FU-A fragments. STAP-B, MTAP and FU-B (interleaved mode only) are ignored.
One access unit per RTP timestamp; see `AccessUnitAssembler` for loss and
parameter-set rules.
"""

from __future__ import annotations

from ._nal import AccessUnitAssembler, Emit, FragmentedNal

__all__ = ["H264Depacketizer", "h264_nal_type"]

_STAP_A, _FU_A = 24, 28
_VCL = frozenset({1, 2, 3, 4, 5})
_IDR = frozenset({5})
SPS, PPS = 7, 8


def h264_nal_type(nal: bytes) -> int:
    """The NAL unit type (low five bits of the header byte)."""
    return nal[0] & 0x1F


def _first_slice(nal: bytes) -> bool:
    # first_mb_in_slice is ue(v): the code for 0 is a single 1 bit.
    return len(nal) > 1 and nal[1] & 0x80 != 0


class H264Depacketizer:
    """Turns the RTP payloads of one H.264 track into access units."""

    __slots__ = ("_frag", "au", "ignored")

    def __init__(self, emit: Emit, parameter_sets: list[bytes]) -> None:
        self.au = AccessUnitAssembler(
            emit, h264_nal_type, _first_slice, vcl=_VCL, keyframes=_IDR,
            parameter_types=(SPS, PPS), parameter_sets=parameter_sets,
        )
        self._frag = FragmentedNal(self.au)
        #: Packets of kinds this depacketiser does not handle (STAP-B, MTAP, FU-B, ...).
        self.ignored = 0

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """One RTP payload, ``packet[start:end]``."""
        au = self.au
        au.begin(timestamp)
        if end <= start:
            au.damage()
        else:
            kind = packet[start] & 0x1F
            if 0 < kind < 24:
                self._frag.abandon()
                au.add(packet[start:end])
            elif kind == _FU_A:
                self._fragment(packet, start, end)
            elif kind == _STAP_A:
                self._aggregate(packet, start + 1, end)
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
        if end - start < 3:
            self.au.damage()
            return
        indicator, header = packet[start], packet[start + 1]
        if header & 0x80:  # start bit
            nal_header = (indicator & 0xE0) | (header & 0x1F)
            self._frag.start(bytes((nal_header,)), packet[start + 2 : end])
        elif not self._frag.append(packet[start + 2 : end]):
            return
        if header & 0x40:  # end bit
            self._frag.end()

    def _aggregate(self, packet: bytes, pos: int, end: int) -> None:
        au = self.au
        if pos >= end:
            au.damage()
            return
        while pos + 2 <= end:
            size = (packet[pos] << 8) | packet[pos + 1]
            pos += 2
            if size == 0 or pos + size > end:
                au.damage()
                return
            au.add(packet[pos : pos + size])
            pos += size
        if pos != end:
            au.damage()
