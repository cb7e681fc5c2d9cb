"""The tracks of a remuxed file, shared by `record()` and the continuous recorder.

Video is copied. Where the muxer can build the sample entry from in-band
parameter sets (H.264 and HEVC with Annex B or no extradata), the track
has no codec context at all: PyAV's ``add_stream`` would open an encoder
with the file header, which costs memory (libx264 at 1080p is about 40 MB
per open file) and, worse, writes the *encoder's* parameter sets into the
sample entry instead of the camera's. The camera's parameter sets go in
front of the first picture and the muxer takes them from there. HEVC in
MP4/MOV must be tagged ``hvc1`` (Safari, iOS and Home Assistant play
nothing else); a stream without a codec context cannot carry a tag, so
`retag_hevc` rewrites the sample entry's four-character code once the file
is finished (what ``ffmpeg -tag:v hvc1`` does).

Audio is copied when the container can hold it; G.711 (which MP4 and
Matroska refuse) is transcoded to AAC with FFmpeg's encoder; anything
else the container refuses is dropped with a warning. `AudioTrack.handling`
says which, for `camsdk.Recording.audio`.

Everything here is blocking and runs in worker threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from typing import Any, BinaryIO

from .._log import get_logger
from .._media import MediaPacket, StreamInfo

__all__ = [
    "AudioTrack",
    "add_mux_video_track",
    "add_video_track",
    "packet_with_prefix",
    "retag_hevc",
]

log = get_logger("camsdk.recording")

#: Codecs whose MP4 sample entry the muxer can build from in-band parameter sets.
_PARAMETER_SET_CODECS = frozenset({"h264", "hevc"})
#: Audio a container may refuse that is transcoded to AAC rather than dropped.
_TRANSCODABLE_AUDIO = frozenset({"pcm_mulaw", "pcm_alaw"})
_LAYOUTS = {1: "mono", 2: "stereo"}


def add_video_track(container: Any, fmt: str, info: StreamInfo) -> tuple[Any, bytes]:
    """Add the copied video track; return it and the bytes to put before the first packet.

    For HEVC in MP4/MOV, call `retag_hevc` on the finished file.
    """
    extradata = info.extradata or b""
    annex_b = extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))
    if info.codec in _PARAMETER_SET_CODECS and (annex_b or not extradata):
        return add_mux_video_track(container, info.codec, info.width, info.height,
                                   info.time_base), extradata
    # libx265 would print its banner on stderr unless told not to (nothing is encoded).
    quiet = {"x265-params": "log-level=none"} if info.codec == "hevc" else None
    video = container.add_stream(info.codec, options=quiet)
    video.width = info.width
    video.height = info.height
    video.time_base = info.time_base
    if extradata:
        video.codec_context.extradata = extradata
    return video, b""


def add_mux_video_track(
    container: Any, codec: str, width: int, height: int, time_base: Fraction
) -> Any:
    """A video track with no codec context, for H.264/HEVC packets in Annex B.

    The muxer builds its sample entry from the parameter sets in front of the
    first keyframe, so the file describes the camera's own SPS/PPS. For HEVC in
    MP4/MOV, call `retag_hevc` on the finished file.
    """
    video = container.add_mux_stream(codec, width=width, height=height)
    video.time_base = time_base
    return video


def needs_hvc1(fmt: str, info: StreamInfo) -> bool:
    """Whether a finished file of ``info`` in ``fmt`` wants `retag_hevc`."""
    return info.codec == "hevc" and fmt in ("mp4", "mov")


#: Boxes on the way from the top of an MP4 file down to the sample descriptions.
_STSD_PATH = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")


def retag_hevc(file: BinaryIO) -> int:
    """Rename ``hev1`` sample entries of a finished MP4/MOV ``file`` to ``hvc1``.

    Walks the box tree (moov/trak/mdia/minf/stbl/stsd), reading only box
    headers and the sample descriptions; returns how many entries it renamed.
    """
    file.seek(0, 2)
    renamed = 0
    for depth, start, end in _boxes(file, 0, file.tell(), 0):
        if depth == len(_STSD_PATH) - 1:
            file.seek(start + 8 + 4)  # header, version and flags
            count = int.from_bytes(file.read(4), "big")
            at = start + 16
            for _ in range(min(count, 64)):
                file.seek(at)
                head = file.read(8)
                if len(head) < 8:
                    break
                size = int.from_bytes(head[:4], "big")
                if head[4:] == b"hev1":
                    file.seek(at + 4)
                    file.write(b"hvc1")
                    renamed += 1
                if size < 8 or at + size > end:
                    break
                at += size
    file.flush()
    return renamed


def _boxes(file: BinaryIO, start: int, end: int, depth: int) -> Iterator[tuple[int, int, int]]:
    """``(depth, start, end)`` of the boxes on `_STSD_PATH`, depth first."""
    at = start
    while at + 8 <= end:
        file.seek(at)
        head = file.read(16)
        size = int.from_bytes(head[:4], "big")
        header = 8
        if size == 1:  # 64-bit size
            size, header = int.from_bytes(head[8:16], "big"), 16
        elif size == 0:  # to the end of the file
            size = end - at
        if size < header or at + size > end:
            return
        if head[4:8] == _STSD_PATH[depth]:
            yield depth, at, at + size
            if depth + 1 < len(_STSD_PATH):
                yield from _boxes(file, at + header, at + size, depth + 1)
        at += size


def packet_with_prefix(prefix: bytes, pkt: MediaPacket) -> Any:
    """``prefix + pkt.data`` as an ``av.Packet`` whose buffer FFmpeg owns (see `to_av_packet`)."""
    import av

    out = av.Packet(len(prefix) + len(pkt.data))
    view = memoryview(out)
    view[: len(prefix)] = prefix
    view[len(prefix):] = pkt.data
    out.pts = pkt.pts
    out.dts = pkt.dts
    out.time_base = pkt.time_base
    if pkt.keyframe:
        out.is_keyframe = True
    return out


class AudioTrack:
    """The camera's audio in one file: copied, transcoded to AAC, or dropped (`handling`)."""

    def __init__(self, container: Any, fmt: str, info: StreamInfo) -> None:
        codec = info.audio_codec or ""
        self._transcoder: _AudioToAac | None = None
        #: ``"copied"``, ``"transcoded to aac"`` or ``"dropped (<why>)"``.
        self.handling = "copied"
        self.stream: Any = None
        try:
            stream: Any = container.add_stream(codec, rate=info.audio_sample_rate)
        except ValueError:
            if codec not in _TRANSCODABLE_AUDIO:
                self.handling = f"dropped ({fmt} cannot hold {codec})"
                log.warning("recording without audio: %s cannot hold %s", fmt, codec)
                return
            self._transcoder = _AudioToAac(codec, info.audio_sample_rate or 8000)
            stream = container.add_stream("aac", rate=self._transcoder.rate)
            stream.codec_context.layout = "mono"
            stream.codec_context.extradata = self._transcoder.extradata
            stream.time_base = Fraction(1, self._transcoder.rate)
            self.handling = "transcoded to aac"
            self.stream = stream
            return
        layout = _LAYOUTS.get(info.audio_channels or 0)
        if layout:
            stream.codec_context.layout = layout
        if info.audio_extradata:
            stream.codec_context.extradata = info.audio_extradata
        if info.audio_time_base is not None:
            stream.time_base = info.audio_time_base
        self.stream = stream

    def packets(self, pkt: MediaPacket, pts: int, dts: int) -> list[Any]:
        """The ``av.Packet``s to mux for ``pkt``, whose rebased times are ``pts``/``dts``."""
        from ._codec import to_av_packet

        if self._transcoder is not None:
            return self._transcoder.feed(pkt.data, pts, pkt.time_base)
        out = to_av_packet(pkt)
        out.pts = pts
        out.dts = dts
        if pkt.duration:
            out.duration = pkt.duration
        return [out]

    def flush(self) -> list[Any]:
        """What an encoder still holds, at the end of the file."""
        return self._transcoder.flush() if self._transcoder is not None else []


class _AudioToAac:
    """G.711 packets in, AAC packets out (timestamps in 1/rate, from the input's)."""

    def __init__(self, codec: str, rate: int) -> None:
        import av

        self.rate = rate
        decoder: Any = av.CodecContext.create(codec, "r")
        decoder.sample_rate = rate
        decoder.layout = "mono"
        self._decoder = decoder
        encoder: Any = av.CodecContext.create("aac", "w")
        encoder.sample_rate = rate
        encoder.layout = "mono"
        encoder.format = "fltp"
        encoder.bit_rate = 32000
        encoder.time_base = Fraction(1, rate)
        encoder.open()
        self._encoder = encoder
        self.extradata: bytes | None = encoder.extradata
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        self._next_pts: int | None = None

    def feed(self, data: bytes, start: int, time_base: Fraction) -> list[Any]:
        import av

        out: list[Any] = []
        pts = round(start * time_base * self.rate)
        if self._next_pts is None or pts > self._next_pts:
            self._next_pts = pts  # a gap in the camera's audio stays a gap
        for frame in self._decoder.decode(av.Packet(data)):
            for resampled in self._resampler.resample(frame):
                resampled.pts = self._next_pts
                resampled.time_base = Fraction(1, self.rate)
                self._next_pts += resampled.samples
                out.extend(self._encoder.encode(resampled))
        return out

    def flush(self) -> list[Any]:
        return list(self._encoder.encode(None))
