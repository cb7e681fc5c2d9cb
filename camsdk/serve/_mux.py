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

The camera's audio rides along when it is AAC (copied) or G.711 (transcoded
to AAC, which MP4 and browsers need), through the recorder's own
`camsdk._pipeline._remux.AudioTrack`; other audio codecs are left out
(`carried_audio`). Audio and video share one timeline: audio before the
first keyframe is dropped, like the video before it.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, BinaryIO

from .._log import get_logger
from .._media import MediaPacket, StreamInfo
from .._pipeline._remux import AudioTrack, add_mux_video_track, retag_hevc
from .._rtsp._packetize import _nal_format

__all__ = ["AnnexB", "CodecFreeMp4", "carried_audio", "mse_audio_codec"]

log = get_logger("camsdk.serve.mux")

_START = b"\x00\x00\x00\x01"
_TB = Fraction(1, 90000)
_H264_PARAMS = {7, 8}
_H265_PARAMS = {32, 33, 34}
#: Audio the gateway's MP4 carries: AAC as it comes, G.711 transcoded to AAC.
_CARRIED_AUDIO = frozenset({"aac", "pcm_mulaw", "pcm_alaw"})


def carried_audio(info: StreamInfo) -> StreamInfo | None:
    """``info`` when its audio track can go into the gateway's MP4, else ``None``."""
    codec = info.audio_codec
    if codec is None:
        return None
    if codec not in _CARRIED_AUDIO or not info.audio_sample_rate:
        log.debug("audio left out: %s is neither AAC nor G.711", codec)
        return None
    return info


def mse_audio_codec(info: StreamInfo) -> str:
    """The MSE codec name of the AAC track written for ``info``: ``mp4a.40.<object type>``.

    Copied AAC keeps the camera's audio object type (from its AudioSpecificConfig);
    G.711 becomes AAC-LC (``mp4a.40.2``).
    """
    config = info.audio_extradata if info.audio_codec == "aac" else None
    object_type = config[0] >> 3 if config else 2
    return f"mp4a.40.{object_type if object_type in (2, 5, 29) else 2}"


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
    would refuse them). With ``audio`` (a `StreamInfo` that `carried_audio`
    accepted), audio packets are muxed too: AAC copied, G.711 made AAC.
    """

    def __init__(self, file: BinaryIO | Any, codec: str, extradata: bytes | None, width: int,
                 height: int, *, fragmented: bool, audio: StreamInfo | None = None) -> None:
        import av

        options: dict[str, str] = {}
        if fragmented:
            # A live viewer should not wait for the muxer's interleaving queue to fill:
            # half a second at most when one track pauses (10 s by default).
            options = {"movflags": "empty_moov+default_base_moof+frag_every_frame"}
            if audio is not None:
                options["max_interleave_delta"] = "500000"
        self._file = file
        self._out: Any = av.open(file, "w", format="mp4", options=options)
        name = "h264" if codec == "h264" else "hevc"
        self._stream: Any = add_mux_video_track(self._out, name, width, height, _TB)
        self._audio: AudioTrack | None = None
        if audio is not None:
            track = AudioTrack(self._out, "mp4", audio)
            self._audio = track if track.stream is not None else None
        self._last_audio_dts = -1
        #: Audio packets taken (before any transcoding).
        self.audio_packets = 0
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

    @property
    def has_audio(self) -> bool:
        """Whether the file has an audio track."""
        return self._audio is not None

    def write(self, pkt: MediaPacket) -> None:
        """Mux one packet (audio is left out when the file has no audio track)."""
        import av

        if pkt.kind == "audio":
            self._write_audio(pkt)
            return
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

    def _write_audio(self, pkt: MediaPacket) -> None:
        audio = self._audio
        if audio is None or self._origin is None or pkt.pts is None:
            return
        start = round(self._origin / pkt.time_base)  # the first keyframe, in this time base
        pts = pkt.pts - start
        dts = (pkt.dts if pkt.dts is not None else pkt.pts) - start
        if dts < 0 or dts <= self._last_audio_dts:
            return
        self._last_audio_dts = dts
        self.audio_packets += 1
        self._mux_audio(audio.packets(pkt, pts, dts))

    def _mux_audio(self, packets: list[Any]) -> None:
        assert self._audio is not None
        for out in packets:
            if out.pts is not None and out.pts < 0:
                continue  # the AAC encoder's priming packet, before the first keyframe
            out.stream = self._audio.stream
            self._out.mux(out)

    def close(self) -> None:
        """Finish the file (trailer); HEVC in a whole file is retagged ``hvc1``.

        The retag reads the file back: give a whole file opened for reading too.
        """
        if self._audio is not None and self._origin is not None:
            self._mux_audio(self._audio.flush())
        self._out.close()
        if self._hvc1:
            retag_hevc(self._file)
