"""PyAV work that happens off the event loop: decoding, JPEG stills, MP4 remux.

Everything here is blocking and is called from worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, BinaryIO

from .._errors import StreamDecodeError
from .._log import get_logger
from .._media import MediaPacket, StreamInfo

if TYPE_CHECKING:  # pragma: no cover
    import av

__all__ = [
    "H264Encoder",
    "Mp4Writer",
    "decode_keyframe",
    "decode_last",
    "encode_jpeg",
    "new_decoder",
    "to_av_packet",
]

log = get_logger("camsdk.pipeline")

FrameTransform = Callable[["av.VideoFrame"], "av.VideoFrame"]


def new_decoder(info: StreamInfo, *, threads: int = 0, frame_threads: bool = True) -> Any:
    """A PyAV video decoder for ``info`` (``threads=0``: FFmpeg picks).

    ``frame_threads=False`` keeps to slice threading, which returns each
    picture as soon as its packet is decoded (frame threading lags by a
    frame per thread).
    """
    import av

    ctx = av.CodecContext.create(info.codec, "r")
    if info.extradata:
        ctx.extradata = info.extradata
    if threads != 1:
        ctx.thread_type = "AUTO" if frame_threads else "SLICE"
        ctx.thread_count = threads
    return ctx


def to_av_packet(pkt: MediaPacket) -> Any:
    """Copy a `MediaPacket` into an ``av.Packet`` whose buffer FFmpeg owns.

    ``av.Packet(bytes)`` would keep a reference to the Python object, and
    FFmpeg's frame-threading workers then need the GIL to release it; freeing
    a codec context (which holds the GIL) while a worker does that deadlocks.
    A buffer of FFmpeg's own is released without Python.
    """
    import av

    out = av.Packet(len(pkt.data))
    memoryview(out)[:] = pkt.data
    out.pts = pkt.pts
    out.dts = pkt.dts
    out.time_base = pkt.time_base
    if pkt.keyframe:
        out.is_keyframe = True
    return out


def decode_keyframe(info: StreamInfo, packet: MediaPacket) -> av.VideoFrame:
    """Decode one keyframe on its own; raise `StreamDecodeError` if it is damaged.

    A frame that decoded with errors (the decoder concealed missing slices) is
    rejected: a half-grey picture must never become a snapshot.
    """
    import av

    ctx = new_decoder(info, threads=1)
    frames: list[av.VideoFrame] = []
    try:
        frames.extend(ctx.decode(to_av_packet(packet)))
        frames.extend(ctx.decode(None))
    except av.error.FFmpegError as exc:
        raise StreamDecodeError(f"keyframe did not decode: {exc}") from exc
    if not frames:
        raise StreamDecodeError("keyframe produced no picture")
    frame = frames[0]
    if frame.is_corrupt:
        raise StreamDecodeError("keyframe decoded with errors")
    if info.width and info.height and (frame.width, frame.height) != (info.width, info.height):
        # Damaged in-band parameter sets can decode "cleanly" at a wrong size.
        raise StreamDecodeError(
            f"keyframe decoded at {frame.width}x{frame.height}, the stream is "
            f"{info.width}x{info.height}"
        )
    return frame


def decode_last(info: StreamInfo, packets: Iterable[MediaPacket]) -> av.VideoFrame:
    """Decode a run of packets that starts on a keyframe; return the last clean picture.

    Used for the picture *at* an event: the GOP from its keyframe up to the
    event's packet. Raises `StreamDecodeError` if no frame decoded cleanly.
    """
    import av

    ctx = new_decoder(info, threads=1)
    last: av.VideoFrame | None = None
    try:
        for pkt in packets:
            if pkt.kind != "video":
                continue
            for frame in ctx.decode(to_av_packet(pkt)):
                if not frame.is_corrupt:
                    last = frame
        for frame in ctx.decode(None):
            if not frame.is_corrupt:
                last = frame
    except av.error.FFmpegError as exc:
        if last is None:
            raise StreamDecodeError(f"media did not decode: {exc}") from exc
    if last is None:
        raise StreamDecodeError("no picture decoded cleanly")
    return last


def encode_jpeg(frame: av.VideoFrame, *, quality: int = 85) -> bytes:
    """Encode ``frame`` as a baseline JPEG with PyAV's mjpeg encoder."""
    import av

    enc = av.CodecContext.create("mjpeg", "w")
    enc.width = frame.width
    enc.height = frame.height
    enc.pix_fmt = "yuvj420p"
    enc.time_base = Fraction(1, 25)
    # mjpeg's qscale: 2 (best) .. 31; map quality 100..0 onto it.
    qscale = max(2, min(31, round(2 + (100 - quality) * 29 / 100)))
    # Fixed quantiser, as ``ffmpeg -q:v``: global_quality is in lambda units.
    enc.options = {"huffman": "optimal", "global_quality": str(qscale * 118)}
    enc.flags |= av.codec.context.Flags.qscale
    src = frame if frame.format.name == "yuvj420p" else frame.reformat(format="yuvj420p")
    src.pts = 0
    packets = enc.encode(src) + enc.encode(None)
    return b"".join(bytes(p) for p in packets)


class Mp4Writer:
    """Remuxes `MediaPacket`s into an MP4 (or another container PyAV writes).

    Video is copied; audio is copied or, where the container refuses it
    (G.711 in MP4), transcoded to AAC (see `camsdk._pipeline._remux`).
    Writes into an open file object (the caller's temporary file); the caller
    moves it into place once `close` returned.
    """

    def __init__(self, file: BinaryIO, fmt: str, info: StreamInfo, *, audio: bool) -> None:
        import av

        from ._remux import AudioTrack, add_video_track, needs_hvc1

        self._file = file
        self._out = av.open(file, "w", format=fmt)
        self._video, self._prefix = add_video_track(self._out, fmt, info)
        self._hvc1 = needs_hvc1(fmt, info)
        self._audio: AudioTrack | None = None
        #: What happened to the camera's audio: "copied", "transcoded to aac",
        #: "dropped (<why>)" or "none".
        self.audio_handling = "none"
        if audio and info.audio_codec:
            self._audio = AudioTrack(self._out, fmt, info)
            self.audio_handling = self._audio.handling
            if self._audio.stream is None:
                self._audio = None
        self._origin: dict[str, int] = {}
        self.video_packets = 0
        self.audio_packets = 0
        self.bytes = 0
        self._last_dts: dict[str, int] = {}

    def write(self, packets: Iterable[MediaPacket]) -> None:
        """Mux ``packets`` (timestamps are rebased so the clip starts at zero)."""
        from ._remux import packet_with_prefix

        for pkt in packets:
            if pkt.kind != "video" and self._audio is None:
                continue
            if pkt.kind not in self._origin:
                self._origin[pkt.kind] = pkt.dts if pkt.dts is not None else (pkt.pts or 0)
            origin = self._origin[pkt.kind]
            dts = (pkt.dts if pkt.dts is not None else (pkt.pts or 0)) - origin
            last = self._last_dts.get(pkt.kind)
            if last is not None and dts <= last:
                continue  # the muxer refuses non-increasing DTS
            self._last_dts[pkt.kind] = dts
            pts = (pkt.pts if pkt.pts is not None else dts + origin) - origin
            self.bytes += pkt.size
            if pkt.kind == "video":
                if self._prefix:
                    out = packet_with_prefix(self._prefix, pkt)
                    self._prefix = b""
                else:
                    out = to_av_packet(pkt)
                out.pts, out.dts = pts, dts
                out.stream = self._video
                self._out.mux(out)
                self.video_packets += 1
                continue
            assert self._audio is not None
            for out in self._audio.packets(pkt, pts, dts):
                out.stream = self._audio.stream
                self._out.mux(out)
                self.audio_packets += 1

    def close(self) -> None:
        """Finish the container (trailer, index)."""
        if self._audio is not None:
            for out in self._audio.flush():
                out.stream = self._audio.stream
                self._out.mux(out)
        self._out.close()
        if self._hvc1:
            from ._remux import retag_hevc

            retag_hevc(self._file)

    def abort(self) -> None:
        """Close the container after a failure."""
        try:
            self._out.close()
        except Exception:  # pragma: no cover - already broken
            log.debug("closing a failed recording", exc_info=True)


class H264Encoder:
    """Re-encodes decoded (for example privacy-masked) frames into an H.264 MP4.

    Used by ``record(transcode=True)``, the only way to record when privacy
    masks apply and raw media may not leave. Writes into an open file object,
    like `Mp4Writer`.
    """

    def __init__(
        self, file: BinaryIO, fmt: str, width: int, height: int, fps: float | None
    ) -> None:
        import av

        self._out = av.open(file, "w", format=fmt)
        stream: Any = self._out.add_stream("libx264", rate=round(fps or 15))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 90000)
        stream.codec_context.time_base = Fraction(1, 90000)
        stream.options = {"preset": "veryfast", "crf": "23"}
        self._stream = stream
        self._origin: float | None = None
        self._last_pts = -1
        self.frames = 0
        self.bytes = 0

    def write(self, frames: Iterable[Any]) -> None:
        """Encode ``frames`` (``av.VideoFrame``; times taken from their pts)."""
        for frame in frames:
            t = float(frame.pts * frame.time_base) if frame.pts is not None else None
            if t is None:
                continue
            if self._origin is None:
                self._origin = t
            pts = round((t - self._origin) * 90000)
            if pts <= self._last_pts:
                continue
            self._last_pts = pts
            src = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
            src.pts = pts
            src.time_base = Fraction(1, 90000)
            self._mux(self._stream.encode(src))
            self.frames += 1

    def _mux(self, packets: Any) -> None:
        for packet in packets:
            self.bytes += packet.size
            self._out.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the container."""
        self._mux(self._stream.encode(None))
        self._out.close()

    def abort(self) -> None:
        """Close the container after a failure."""
        try:
            self._out.close()
        except Exception:  # pragma: no cover - already broken
            log.debug("closing a failed recording", exc_info=True)


_PIXEL_FORMATS: dict[str, str] = {}


def check_pixel_format(name: str) -> str:
    """``""`` when decoded frames can be converted to ``name``, else the reason why not.

    Tried once per name on a tiny picture, so a format the converter rejects
    (``pal8``, a typo) is refused where it is asked for, not in the shared
    decoder thread. Blocking but cheap (tens of microseconds, then cached).
    """
    cached = _PIXEL_FORMATS.get(name)
    if cached is not None:
        return cached
    import av

    problem = ""
    if not isinstance(name, str) or not name or len(name) > 32:
        problem = "format must be a pixel format name such as 'rgb24', 'bgr24' or 'gray'"
    else:
        try:
            probe = av.VideoFrame(16, 16, "yuv420p")
            converted = probe.reformat(format=name)
            converted.to_ndarray()
        except Exception as exc:
            problem = f"frames cannot be converted to {name!r} ({type(exc).__name__})"
    if isinstance(name, str) and len(_PIXEL_FORMATS) < 256:
        _PIXEL_FORMATS[name] = problem
    return problem
