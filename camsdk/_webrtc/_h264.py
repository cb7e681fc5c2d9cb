"""H.264 access units as WebRTC delivers them: Annex-B NAL units, parameter sets, SPS fields.

Pure Python and bounded: a hostile SPS raises `ValueError` (the caller turns
it into a typed error or ignores the unit), never loops or allocates without
limit. Nothing here decodes pictures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

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
# H.264 allows 32 SPS and 256 PPS ids; more than that is not a stream.
_MAX_SPS = 32
_MAX_PPS = 256
# High profiles carry chroma format, bit depths and scaling lists in the SPS.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_PROFILE_NAMES = {
    66: "baseline", 77: "main", 88: "extended", 100: "high", 110: "high10",
    122: "high422", 244: "high444",
}


def split_annexb(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B buffer, without start codes or trailing zero bytes.

    Three- and four-byte start codes are both accepted, so two encodings of
    the same units compare equal after a split.
    """
    units: list[bytes] = []
    find = data.find
    start = find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        end = find(b"\x00\x00\x01", begin)
        nal = data[begin:] if end < 0 else data[begin:end]
        # A NAL unit never ends in a zero byte; zeros here belong to the next
        # start code (four-byte form) or are trailing_zero_8bits.
        nal = nal.rstrip(b"\x00")
        if nal:
            units.append(nal)
        start = end
    return units


def join_annexb(units: Iterable[bytes]) -> bytes:
    """NAL units joined with four-byte start codes."""
    return b"".join(_START + unit for unit in units)


def nal_type(unit: bytes) -> int:
    """The ``nal_unit_type`` of one NAL unit (0 for an empty one)."""
    return unit[0] & 0x1F if unit else 0


def _unescape(unit: bytes) -> bytes:
    """The RBSP of a NAL unit: emulation-prevention bytes (00 00 03) removed."""
    if b"\x00\x00\x03" not in unit:
        return unit
    out = bytearray()
    zeros = 0
    for byte in unit:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _Bits:
    """An MSB-first bit reader with Exp-Golomb codes; reading past the end raises."""

    __slots__ = ("_data", "_pos", "_size")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._size = len(data) * 8

    def u(self, count: int) -> int:
        if self._pos + count > self._size:
            raise ValueError("SPS is truncated")
        value = 0
        for _ in range(count):
            byte = self._data[self._pos >> 3]
            value = (value << 1) | ((byte >> (7 - (self._pos & 7))) & 1)
            self._pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("Exp-Golomb code is too long")
        return (1 << zeros) - 1 + (self.u(zeros) if zeros else 0)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


@dataclass(frozen=True, slots=True)
class SpsInfo:
    """What a stream needs from its sequence parameter set."""

    sps_id: int
    profile_idc: int
    #: constraint_set0..5 flags and reserved bits, as in the SPS byte.
    constraints: int
    level_idc: int
    width: int
    height: int
    #: Frame rate from the VUI timing information, when the encoder wrote it.
    fps: float | None

    @property
    def profile(self) -> str:
        """FFmpeg-style profile name (``constrained baseline``, ``main``, ``high`` ...)."""
        if self.profile_idc == 66 and self.constraints & 0x40:
            return "constrained baseline"
        return _PROFILE_NAMES.get(self.profile_idc, "main")


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + bits.se()) % 256
        last = nxt or last


def parse_sps(unit: bytes) -> SpsInfo:
    """Parse a sequence parameter set NAL unit (header byte included).

    Raises `ValueError` when the unit is not an SPS or is malformed.
    """
    if nal_type(unit) != NAL_SPS or len(unit) < 4:
        raise ValueError("not a sequence parameter set")
    bits = _Bits(_unescape(unit[1:]))
    profile_idc = bits.u(8)
    constraints = bits.u(8)
    level_idc = bits.u(8)
    sps_id = bits.ue()
    if sps_id >= _MAX_SPS:
        raise ValueError("SPS id out of range")
    chroma_format_idc = 1
    separate_colour_plane = 0
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = bits.ue()
        if chroma_format_idc > 3:
            raise ValueError("bad chroma_format_idc")
        if chroma_format_idc == 3:
            separate_colour_plane = bits.u(1)
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        cycle = bits.ue()
        if cycle > 255:
            raise ValueError("too many ref frames in POC cycle")
        for _ in range(cycle):
            bits.se()
    elif poc_type != 2:
        raise ValueError("bad pic_order_cnt_type")
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_units * 16 * (2 - frame_mbs_only)
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
        crop_x = 1 if chroma_array_type == 0 else (2 if chroma_format_idc in (1, 2) else 1)
        crop_y = (1 if chroma_array_type == 0 else (2 if chroma_format_idc == 1 else 1)) * (
            2 - frame_mbs_only
        )
        width -= (left + right) * crop_x
        height -= (top + bottom) * crop_y
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise ValueError(f"implausible picture size {width}x{height}")
    fps = None
    try:
        if bits.u(1):  # vui_parameters_present_flag
            fps = _vui_fps(bits)
    except ValueError:
        fps = None  # a truncated VUI costs only the frame rate
    return SpsInfo(sps_id, profile_idc, constraints, level_idc, width, height, fps)


def _vui_fps(bits: _Bits) -> float | None:
    # aspect_ratio_info_present_flag, then aspect_ratio_idc == Extended_SAR
    if bits.u(1) and bits.u(8) == 255:
        bits.u(32)  # sar_width, sar_height
    if bits.u(1):  # overscan_info_present_flag
        bits.u(1)
    if bits.u(1):  # video_signal_type_present_flag
        bits.u(3)
        bits.u(1)
        if bits.u(1):  # colour_description_present_flag
            bits.u(24)
    if bits.u(1):  # chroma_loc_info_present_flag
        bits.ue()
        bits.ue()
    if not bits.u(1):  # timing_info_present_flag
        return None
    units = bits.u(32)
    scale = bits.u(32)
    if not units or not scale:
        return None
    fps = scale / (2 * units)
    return round(fps, 3) if 0 < fps <= 1000 else None


def pps_id(unit: bytes) -> int:
    """The id of a picture parameter set NAL unit; `ValueError` when malformed."""
    if nal_type(unit) != NAL_PPS or len(unit) < 2:
        raise ValueError("not a picture parameter set")
    value = _Bits(_unescape(unit[1:2 + 8])).ue()
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
