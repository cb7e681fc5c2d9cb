"""Bitstream forms: fMP4's length-prefixed H.264/H.265 to Annex-B, ADTS AAC to raw frames.

camsdk's packets are Annex-B for H.264 and H.265 (what RTSP and MPEG-TS
carry) and raw AAC frames with an AudioSpecificConfig in `StreamInfo`.

fMP4 segments store NAL units behind big-endian length prefixes, with the
parameter sets in the init segment's ``avcC``/``hvcC`` box. `AnnexBWriter`
rewrites each access unit with start codes and puts the parameter sets in
front of the first IDR/IRAP slice of a keyframe that does not carry its own,
so every keyframe decodes on its own. Start codes are laid out as FFmpeg's
``*_mp4toannexb`` filters do (H.264: four bytes for the first unit of a
packet and for parameter sets, three otherwise; H.265: four bytes always),
so the bytes equal what FFmpeg's HLS reader gives after that filter.

MPEG-TS carries AAC in ADTS frames: `strip_adts` drops each frame's header
and `adts_config` builds the AudioSpecificConfig from the first one.
"""

from __future__ import annotations

from .._errors import StreamDecodeError
from .._rtsp._nal import read_avcc, read_hvcc

__all__ = [
    "AnnexBWriter",
    "adts_config",
    "adts_header_size",
    "is_length_prefixed",
    "strip_adts",
]

_START4 = b"\x00\x00\x00\x01"
_START3 = b"\x00\x00\x01"

# H.264 NAL unit types.
_H264_IDR, _H264_SPS, _H264_PPS = 5, 7, 8
# H.265 NAL unit types.
_H265_IRAP_FIRST, _H265_IRAP_LAST = 16, 23
_H265_VPS, _H265_SPS, _H265_PPS = 32, 33, 34


def is_length_prefixed(extradata: bytes | None) -> bool:
    """Whether ``extradata`` is an ``avcC``/``hvcC`` record (not Annex-B parameter sets)."""
    return extradata is not None and extradata[:1] == b"\x01"


def _read_record(codec: str, extradata: bytes) -> tuple[int, list[bytes]]:
    """``(length_size, parameter sets)`` of the init segment's ``avcC``/``hvcC`` record."""
    try:
        return read_avcc(extradata) if codec == "h264" else read_hvcc(extradata)
    except ValueError as exc:
        raise StreamDecodeError(f"{exc} in the init segment") from None


class AnnexBWriter:
    """Rewrites length-prefixed access units of one track as Annex-B (see module docstring)."""

    __slots__ = ("_hevc", "_length_size", "_parameter_sets", "extradata")

    def __init__(self, codec: str, extradata: bytes) -> None:
        if codec == "h264":
            self._hevc = False
            self._length_size, sets = _read_record(codec, extradata)
        elif codec == "hevc":
            self._hevc = True
            self._length_size, sets = _read_record(codec, extradata)
        else:
            raise StreamDecodeError(f"no Annex-B form for {codec[:32]} in fMP4")
        if self._length_size == 3:
            raise StreamDecodeError("NAL length prefixes of 3 bytes are not valid")
        self._parameter_sets = b"".join(_START4 + unit for unit in sets)
        #: The parameter sets as Annex-B: `StreamInfo.extradata` for this track.
        self.extradata = self._parameter_sets

    def convert(self, data: bytes) -> tuple[bytes, bool]:
        """``(annex_b, has_random_access_slice)`` of one access unit."""
        size_of = self._length_size
        hevc = self._hevc
        pieces: list[bytes] = []
        pos, end = 0, len(data)
        view = memoryview(data)
        seen_sps = False
        irap = False
        while pos < end:
            if pos + size_of > end:
                raise StreamDecodeError("an fMP4 sample ends inside a NAL length prefix")
            size = int.from_bytes(view[pos : pos + size_of], "big")
            pos += size_of
            if size == 0 or pos + size > end:
                raise StreamDecodeError("an fMP4 sample holds a NAL unit of a bad length")
            unit = view[pos : pos + size]
            pos += size
            if hevc:
                kind = (unit[0] >> 1) & 0x3F
                is_ps = _H265_VPS <= kind <= _H265_PPS
                is_random_access = _H265_IRAP_FIRST <= kind <= _H265_IRAP_LAST
                start = _START4
            else:
                kind = unit[0] & 0x1F
                is_ps = kind in (_H264_SPS, _H264_PPS)
                is_random_access = kind == _H264_IDR
                start = _START4 if is_ps or not pieces else _START3
            if kind == (_H265_SPS if hevc else _H264_SPS):
                seen_sps = True
            if is_random_access and not irap:
                irap = True
                if not seen_sps and self._parameter_sets:
                    pieces.append(self._parameter_sets)
                    if not hevc:
                        start = _START3
            pieces.append(start)
            pieces.append(bytes(unit))
        return b"".join(pieces), irap


def adts_header_size(data: bytes) -> int:
    """Bytes of the ADTS header at the start of ``data`` (7, or 9 with CRC), or 0 if none."""
    if len(data) < 7 or data[0] != 0xFF or (data[1] & 0xF6) != 0xF0:
        return 0
    return 7 if data[1] & 0x01 else 9


def adts_config(data: bytes) -> bytes | None:
    """The 2-byte AudioSpecificConfig an ADTS header describes, or ``None`` if none."""
    if not adts_header_size(data):
        return None
    object_type = (data[2] >> 6) + 1
    rate_index = (data[2] >> 2) & 0x0F
    channels = ((data[2] & 0x01) << 2) | (data[3] >> 6)
    config = (object_type << 11) | (rate_index << 7) | (channels << 3)
    return config.to_bytes(2, "big")


def strip_adts(data: bytes) -> bytes:
    """One ADTS frame without its header (data without one comes back unchanged)."""
    size = adts_header_size(data)
    return data[size:] if size and len(data) > size else data
