"""Picture size and frame rate from H.264 and H.265 sequence parameter sets.

An exp-Golomb bit reader over the RBSP (emulation-prevention bytes removed)
walks just far enough: to the cropping window for the size, on into the VUI
for the frame rate. Every read is bounded by the NAL unit's length, so a
hostile SPS ends in `ValueError`, never in a long loop.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SpsInfo", "parse_h264_sps", "parse_h265_sps", "unescape_rbsp"]

_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_MAX_DIMENSION = 16384
# H.264 allows 32 SPS ids; a larger one is not a stream.
_MAX_SPS = 32
_PROFILE_NAMES = {
    66: "baseline", 77: "main", 88: "extended", 100: "high", 110: "high10",
    122: "high422", 244: "high444",
}


@dataclass(frozen=True, slots=True)
class SpsInfo:
    """What a sequence parameter set says about the pictures."""

    width: int
    height: int
    fps: float | None = None
    profile_idc: int = 0
    level_idc: int = 0
    #: H.264 only: ``seq_parameter_set_id`` and the constraint_set flags byte.
    sps_id: int = 0
    constraints: int = 0

    @property
    def profile(self) -> str:
        """FFmpeg-style H.264 profile name (``constrained baseline``, ``main``, ``high`` ...)."""
        if self.profile_idc == 66 and self.constraints & 0x40:
            return "constrained baseline"
        return _PROFILE_NAMES.get(self.profile_idc, "main")


def unescape_rbsp(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (``00 00 03`` -> ``00 00``)."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    """MSB-first bit reader; `ValueError` when reading past the end."""

    __slots__ = ("_bits", "_pos", "_value")

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._bits = len(data) * 8
        self._pos = 0

    @property
    def position(self) -> int:
        """Bits read so far."""
        return self._pos

    def u(self, count: int) -> int:
        """Read ``count`` bits as an unsigned number."""
        if count == 0:
            return 0
        end = self._pos + count
        if end > self._bits:
            raise ValueError("SPS ends early")
        value = (self._value >> (self._bits - end)) & ((1 << count) - 1)
        self._pos = end
        return value

    def flag(self) -> bool:
        """Read one bit."""
        return self.u(1) == 1

    def ue(self) -> int:
        """Read an unsigned exp-Golomb number (at most 32 leading zeros)."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 32:
                raise ValueError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """Read a signed exp-Golomb number."""
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)

    def skip(self, count: int) -> None:
        """Skip ``count`` bits."""
        if self._pos + count > self._bits:
            raise ValueError("SPS ends early")
        self._pos += count


def _check_size(width: int, height: int) -> None:
    if not (0 < width <= _MAX_DIMENSION and 0 < height <= _MAX_DIMENSION):
        raise ValueError(f"implausible picture size {width}x{height}")


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se()) % 256
        last = last if nxt == 0 else nxt


def parse_h264_sps(nal: bytes) -> SpsInfo:
    """Parse an H.264 SPS NAL unit (with its one-byte header). Raises `ValueError`."""
    if len(nal) < 4 or nal[0] & 0x1F != 7:
        raise ValueError("not an H.264 SPS")
    r = BitReader(unescape_rbsp(nal[1:]))
    profile = r.u(8)
    constraints = r.u(8)
    level = r.u(8)
    sps_id = r.ue()
    if sps_id >= _MAX_SPS:
        raise ValueError("SPS id out of range")
    chroma_format = 1
    separate_planes = False
    if profile in _HIGH_PROFILES:
        chroma_format = r.ue()
        if chroma_format > 3:
            raise ValueError("bad chroma_format_idc")
        if chroma_format == 3:
            separate_planes = r.flag()
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if r.flag():
                    _skip_scaling_list(r, 16 if index < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.skip(1)
        r.se()
        r.se()
        cycle = r.ue()
        if cycle > 255:
            raise ValueError("bad num_ref_frames_in_pic_order_cnt_cycle")
        for _ in range(cycle):
            r.se()
    elif poc_type != 2:
        raise ValueError("bad pic_order_cnt_type")
    r.ue()  # max_num_ref_frames
    r.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_units = r.ue() + 1
    frame_mbs_only = r.flag()
    if not frame_mbs_only:
        r.skip(1)  # mb_adaptive_frame_field_flag
    r.skip(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_units * 16
    if r.flag():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        array_type = 0 if separate_planes else chroma_format
        if array_type == 0:
            unit_x, unit_y = 1, 2 - frame_mbs_only
        else:
            sub_w = 1 if chroma_format == 3 else 2
            sub_h = 2 if chroma_format == 1 else 1
            unit_x, unit_y = sub_w, sub_h * (2 - frame_mbs_only)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    _check_size(width, height)
    fps: float | None = None
    try:
        if r.flag():  # vui_parameters_present_flag
            fps = _h264_vui_fps(r)
    except ValueError:
        fps = None  # the size is what matters; a truncated VUI costs only the frame rate
    return SpsInfo(width, height, fps, profile, level, sps_id, constraints)


def _h264_vui_fps(r: BitReader) -> float | None:
    if r.flag() and r.u(8) == 255:  # aspect_ratio_info_present_flag, Extended_SAR
        r.skip(32)
    if r.flag():  # overscan_info_present_flag
        r.skip(1)
    if r.flag():  # video_signal_type_present_flag
        r.skip(4)
        if r.flag():
            r.skip(24)
    if r.flag():  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    if r.flag():  # timing_info_present_flag
        units, scale = r.u(32), r.u(32)
        if units and scale:
            fps = scale / (2 * units)
            return fps if 0 < fps <= 1000 else None
    return None


def _skip_profile_tier_level(r: BitReader, max_sub_layers_minus1: int) -> int:
    r.skip(2 + 1)  # profile space, tier
    profile = r.u(5)
    r.skip(32 + 4 + 43 + 1)
    r.skip(8)  # general_level_idc
    present = [(r.flag(), r.flag()) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.skip(2 * (8 - max_sub_layers_minus1))
    for profile_present, level_present in present:
        if profile_present:
            r.skip(88)
        if level_present:
            r.skip(8)
    return profile


def _skip_hevc_scaling_list_data(r: BitReader) -> None:
    for size_id in range(4):
        for _ in range(0, 6, 3 if size_id == 3 else 1):
            if not r.flag():  # scaling_list_pred_mode_flag
                r.ue()
            else:
                count = min(64, 1 << (4 + (size_id << 1)))
                if size_id > 1:
                    r.se()
                for _ in range(count):
                    r.se()


def _skip_short_term_ref_pic_sets(r: BitReader, count: int) -> None:
    deltas: list[int] = []  # NumDeltaPocs of each set so far
    for index in range(count):
        inter = index != 0 and r.flag()
        if inter:
            # Only the last set can be referenced from within the SPS (delta_idx = 1).
            r.skip(1)  # delta_rps_sign
            r.ue()  # abs_delta_rps_minus1
            used = 0
            for _ in range(deltas[index - 1] + 1):
                if r.flag() or r.flag():  # used_by_curr_pic_flag
                    used += 1
            deltas.append(used)
        else:
            negative, positive = r.ue(), r.ue()
            if negative > 16 or positive > 16:
                raise ValueError("bad short-term reference picture set")
            for _ in range(negative + positive):
                r.ue()
                r.skip(1)
            deltas.append(negative + positive)


def parse_h265_sps(nal: bytes) -> SpsInfo:
    """Parse an H.265 SPS NAL unit (with its two-byte header). Raises `ValueError`."""
    if len(nal) < 6 or (nal[0] >> 1) & 0x3F != 33:
        raise ValueError("not an H.265 SPS")
    r = BitReader(unescape_rbsp(nal[2:]))
    r.skip(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = r.u(3)
    if max_sub_layers_minus1 > 6:
        raise ValueError("bad sps_max_sub_layers_minus1")
    r.skip(1)
    profile = _skip_profile_tier_level(r, max_sub_layers_minus1)
    r.ue()  # sps_seq_parameter_set_id
    chroma_format = r.ue()
    if chroma_format > 3:
        raise ValueError("bad chroma_format_idc")
    separate_planes = chroma_format == 3 and r.flag()
    width, height = r.ue(), r.ue()
    if r.flag():  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        array_type = 0 if separate_planes else chroma_format
        sub_w = 2 if array_type in (1, 2) else 1
        sub_h = 2 if array_type == 1 else 1
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    _check_size(width, height)
    fps: float | None = None
    try:
        fps = _h265_fps(r, max_sub_layers_minus1)
    except ValueError:
        fps = None
    return SpsInfo(width, height, fps, profile, 0)


def _h265_fps(r: BitReader, max_sub_layers_minus1: int) -> float | None:
    r.ue()  # bit_depth_luma_minus8
    r.ue()  # bit_depth_chroma_minus8
    log2_max_poc_lsb = r.ue() + 4
    if log2_max_poc_lsb > 16:
        raise ValueError("bad log2_max_pic_order_cnt_lsb")
    ordering_all = r.flag()
    for _ in range(0 if ordering_all else max_sub_layers_minus1, max_sub_layers_minus1 + 1):
        r.ue()
        r.ue()
        r.ue()
    for _ in range(6):  # coding block, transform block sizes and depths
        r.ue()
    if r.flag() and r.flag():  # scaling_list_enabled_flag, sps_scaling_list_data_present
        _skip_hevc_scaling_list_data(r)
    r.skip(2)  # amp_enabled_flag, sample_adaptive_offset_enabled_flag
    if r.flag():  # pcm_enabled_flag
        r.skip(8)
        r.ue()
        r.ue()
        r.skip(1)
    sets = r.ue()
    if sets > 64:
        raise ValueError("bad num_short_term_ref_pic_sets")
    _skip_short_term_ref_pic_sets(r, sets)
    if r.flag():  # long_term_ref_pics_present_flag
        count = r.ue()
        if count > 32:
            raise ValueError("bad num_long_term_ref_pics_sps")
        for _ in range(count):
            r.skip(log2_max_poc_lsb + 1)
    r.skip(2)  # sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
    if not r.flag():  # vui_parameters_present_flag
        return None
    if r.flag() and r.u(8) == 255:  # aspect_ratio_info_present_flag, Extended_SAR
        r.skip(32)
    if r.flag():  # overscan_info_present_flag
        r.skip(1)
    if r.flag():  # video_signal_type_present_flag
        r.skip(4)
        if r.flag():
            r.skip(24)
    if r.flag():  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    r.skip(3)  # neutral_chroma, field_seq, frame_field_info_present
    if r.flag():  # default_display_window_flag
        r.ue()
        r.ue()
        r.ue()
        r.ue()
    if r.flag():  # vui_timing_info_present_flag
        units, scale = r.u(32), r.u(32)
        if units and scale:
            fps = scale / units
            return fps if 0 < fps <= 1000 else None
    return None
