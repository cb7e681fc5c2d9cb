"""Writing a camera's own H.264/H.265 packets into MP4 without opening any codec.

PyAV's ``add_stream("h264")`` gives the output stream an *encoder* context
(libx264), which the muxer opens when it writes the header; the encoder's
own parameter sets then replace the camera's in the file's ``avcC``. A file
written that way plays only while every keyframe carries its parameter sets
in band. This writer uses a codec-less mux stream instead, normalises every
packet to Annex B and makes sure each keyframe carries the stream's
parameter sets (taken from the extradata, or from the last keyframe that
had them), so the muxer builds the sample description from the camera's
own SPS/PPS (FFmpeg's ``extract_extradata``) whatever the source does.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, BinaryIO

from .._media import MediaPacket
from .._pipeline._remux import add_mux_video_track, retag_hevc
from ..testing._rtp import _nal_format

__all__ = ["AnnexB", "CodecFreeMp4"]

_START = b"\x00\x00\x00\x01"
_TB = Fraction(1, 90000)
_H264_PARAMS = {7, 8}
_H265_PARAMS = {32, 33, 34}


class AnnexB:
    """Packets as Annex B, keyframes with their parameter sets in band."""

    def __init__(self, codec: str, extradata: bytes | None) -> None:
        self._h264 = codec == "h264"
        self._split: Callable[[bytes], list[bytes]]
        self._split, params = _nal_format("h264" if self._h264 else "hevc", extradata)
        self._params = [params[k] for k in sorted(params)]
        self._wanted = _H264_PARAMS if self._h264 else _H265_PARAMS

    def _type(self, nal: bytes) -> int:
        return nal[0] & 0x1F if self._h264 else (nal[0] >> 1) & 0x3F

    def convert(self, pkt: MediaPacket) -> bytes:
        """``pkt``'s data as Annex B; a keyframe gets the parameter sets it lacks."""
        nals = [n for n in self._split(pkt.data) if n]
        if pkt.keyframe:
            present = [n for n in nals if self._type(n) in self._wanted]
            if present:
                self._params = present  # the camera may change them: keep the newest
            else:
                nals = [*self._params, *nals]
        return b"".join(_START + n for n in nals)


class CodecFreeMp4:
    """MP4 (``fragmented``: one fragment per frame) of H.264/H.265 packets, remuxed only.

    Timestamps start at zero on the first keyframe; packets before it, and
    packets whose decode time does not increase, are dropped (the muxer
    would refuse them).
    """

    def __init__(self, file: BinaryIO | Any, codec: str, extradata: bytes | None, width: int,
                 height: int, *, fragmented: bool) -> None:
        import av

        options = ({"movflags": "empty_moov+default_base_moof+frag_every_frame"}
                   if fragmented else {})
        self._file = file
        self._out: Any = av.open(file, "w", format="mp4", options=options)
        name = "h264" if codec == "h264" else "hevc"
        self._stream: Any = add_mux_video_track(self._out, name, width, height, _TB)
        # HEVC is tagged hvc1 (what Safari and browsers expect) once a file is finished;
        # a fragmented stream has sent its header by then and keeps hev1.
        self._hvc1 = name == "hevc" and not fragmented
        self._annexb = AnnexB(name, extradata)
        self._origin: float | None = None
        self._last_dts = -1
        self.packets = 0
        self.bytes = 0
        self.first_time: float | None = None
        self.last_time: float | None = None

    def write(self, pkt: MediaPacket) -> None:
        """Mux one packet."""
        import av

        if self._origin is None:
            if not pkt.keyframe:
                return
            start = pkt.dts if pkt.dts is not None else pkt.pts
            self._origin = float((start or 0) * pkt.time_base)
        dts = pkt.dts if pkt.dts is not None else pkt.pts
        pts = pkt.pts if pkt.pts is not None else dts
        if dts is None or pts is None:
            return
        out_dts = round((float(dts * pkt.time_base) - self._origin) * 90000)
        out_pts = round((float(pts * pkt.time_base) - self._origin) * 90000)
        if out_dts <= self._last_dts or out_dts < 0:
            return
        self._last_dts = out_dts
        data = self._annexb.convert(pkt)
        out = av.Packet(len(data))
        memoryview(out)[:] = data
        out.dts, out.pts, out.time_base = out_dts, out_pts, _TB
        out.is_keyframe = pkt.keyframe
        out.stream = self._stream
        self._out.mux(out)
        self.packets += 1
        self.bytes += len(data)
        seconds = float(pts * pkt.time_base)
        if self.first_time is None:
            self.first_time = seconds
        self.last_time = seconds

    def close(self) -> None:
        """Finish the file (trailer); HEVC in a whole file is retagged ``hvc1``.

        The retag reads the file back: give a whole file opened for reading too.
        """
        self._out.close()
        if self._hvc1:
            retag_hevc(self._file)
