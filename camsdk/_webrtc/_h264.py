"""H.264 access units as WebRTC delivers them: Annex-B NAL units, parameter sets, SPS fields.

Pure Python and bounded: a hostile SPS raises `ValueError` (the caller turns
it into a typed error or ignores the unit), never loops or allocates without
limit. Nothing here decodes pictures.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._rtsp._nal import split_annexb
from .._rtsp._sps import BitReader, SpsInfo, parse_h264_sps, unescape_rbsp

__all__ = [
    "NAL_IDR",
    "NAL_PPS",
    "NAL_SPS",
    "ParameterSets",
    "SpsInfo",
    "join_annexb",
    "nal_type",
    "parse_sps",
    "pps_id",
    "split_annexb",
]

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9

_START = b"\x00\x00\x00\x01"
# H.264 allows 256 PPS ids; more than that is not a stream.
_MAX_PPS = 256


def join_annexb(units: Iterable[bytes]) -> bytes:
    """NAL units joined with four-byte start codes."""
    return b"".join(_START + unit for unit in units)


def nal_type(unit: bytes) -> int:
    """The ``nal_unit_type`` of one NAL unit (0 for an empty one)."""
    return unit[0] & 0x1F if unit else 0


def parse_sps(unit: bytes) -> SpsInfo:
    """Parse a sequence parameter set NAL unit (header byte included).

    Raises `ValueError` when the unit is not an SPS, is malformed, or
    describes a picture smaller than a macroblock.
    """
    if nal_type(unit) != NAL_SPS:
        raise ValueError("not a sequence parameter set")
    info = parse_h264_sps(unit)
    if info.width < 16 or info.height < 16:
        raise ValueError(f"implausible picture size {info.width}x{info.height}")
    return info


def pps_id(unit: bytes) -> int:
    """The id of a picture parameter set NAL unit; `ValueError` when malformed."""
    if nal_type(unit) != NAL_PPS or len(unit) < 2:
        raise ValueError("not a picture parameter set")
    value = BitReader(unescape_rbsp(unit[1:2 + 8])).ue()
    if value >= _MAX_PPS:
        raise ValueError("PPS id out of range")
    return value


class ParameterSets:
    """The latest SPS and PPS units seen on a stream, by id (bounded by the spec's id ranges).

    `complete` says whether a decoder could start from a keyframe with them;
    `prefix` gives them in decoding order (every SPS, then every PPS).
    """

    def __init__(self) -> None:
        self._sps: dict[int, bytes] = {}
        self._pps: dict[int, bytes] = {}
        #: The parsed fields of the most recent SPS.
        self.sps_info: SpsInfo | None = None

    @property
    def complete(self) -> bool:
        """Whether at least one SPS and one PPS are known."""
        return bool(self._sps) and bool(self._pps)

    def update(self, unit: bytes) -> bool:
        """Remember ``unit`` if it is a parameter set; True if it was one and is valid."""
        kind = nal_type(unit)
        try:
            if kind == NAL_SPS:
                info = parse_sps(unit)
                self._sps[info.sps_id] = unit
                self.sps_info = info
                return True
            if kind == NAL_PPS:
                self._pps[pps_id(unit)] = unit
                return True
        except ValueError:
            return False
        return False

    def units(self) -> list[bytes]:
        """Every known SPS then every PPS."""
        return [*self._sps.values(), *self._pps.values()]

    def annexb(self) -> bytes:
        """The known parameter sets as Annex-B (``StreamInfo.extradata``)."""
        return join_annexb(self.units())
