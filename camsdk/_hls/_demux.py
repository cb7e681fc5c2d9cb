"""Segment bytes to packets with PyAV, from memory only (blocking: the worker thread's job).

`SegmentDemuxer` opens each segment as its own container over an
in-memory buffer, with the format forced (``mpegts``, or ``mp4`` for fMP4:
the init section and the fragment concatenated). FFmpeg never probes the
format from the bytes, so a "segment" that is really a playlist can never
start FFmpeg's HLS, DASH or concat demuxers, and it may open no URL at all
(``protocol_whitelist`` names no protocol).

The first segment that shows the picture size (its parameter sets, or a
keyframe) defines the stream (`StreamInfo`); later segments must
carry the same video codec (a change raises `StreamError`: the session
reopens and learns the new one). Timestamps of a segment whose time base
differs (a new init section) are rescaled to the first one's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any, Literal

from .._errors import StreamDecodeError, StreamError, StreamOpenError
from .._media import StreamInfo
from ._bitstream import AnnexBWriter, adts_config, adts_header_size, is_length_prefixed
from ._timeline import RawPacket

__all__ = ["ContainerFormat", "DemuxedSegment", "SegmentDemuxer", "sniff_format"]

ContainerFormat = Literal["mpegts", "mp4"]

_MP4_BOXES = (b"ftyp", b"styp", b"moof", b"sidx", b"moov", b"emsg", b"prft", b"free")
_TS_PACKET = 188
_BUFFER = 256 * 1024
# No protocol has this name: FFmpeg may open nothing beyond the buffer it is given.
_NO_PROTOCOLS = {"protocol_whitelist": "camsdk-none"}
# Probing (avformat_find_stream_info) decodes frames to guess the decoder delay; the
# parsers already give every parameter camsdk uses, and the packets are the same. Not
# decoding (and not starting decoder threads) makes a segment open ~4x cheaper.
_PROBE_WITHOUT_DECODING = [{"threads": "1", "skip_frame": "all"}] * 8


def sniff_format(data: bytes, *, has_init: bool) -> ContainerFormat:
    """``mp4`` for fMP4 (an init section, or MP4 boxes), else ``mpegts``."""
    if has_init or data[4:8] in _MP4_BOXES:
        return "mp4"
    return "mpegts"


@dataclass(slots=True)
class DemuxedSegment:
    """The packets of one segment, in demux order."""

    packets: list[RawPacket]
    #: The segment's container format.
    format: ContainerFormat


class SegmentDemuxer:
    """Demuxes segments one at a time and keeps what they share (see module docstring)."""

    def __init__(self, *, audio: bool, max_packets: int) -> None:
        self._want_audio = audio
        self._max_packets = max_packets
        self.info: StreamInfo | None = None
        self._writers: dict[tuple[str, bytes], AnnexBWriter] = {}
        # AudioSpecificConfig from the first ADTS header (MPEG-TS carries no other).
        self._adts_config: bytes | None = None

    def demux(self, data: bytes, *, init: bytes | None = None) -> DemuxedSegment:
        """Demux one segment (``init``: its fMP4 initialisation section)."""
        import av

        fmt = sniff_format(data, has_init=init is not None)
        payload = init + data if init is not None else data
        try:
            try:
                # PyAV's stub says list[str]; the code takes one dict per stream.
                container = av.open(
                    io.BytesIO(payload), format=fmt, container_options=_NO_PROTOCOLS,
                    stream_options=_PROBE_WITHOUT_DECODING,  # type: ignore[arg-type]
                    buffer_size=_BUFFER,
                )
            except ValueError as exc:
                if isinstance(exc, av.error.FFmpegError):
                    raise
                # No stream known before probing (no PAT/PMT up front): probe as FFmpeg likes.
                container = av.open(
                    io.BytesIO(payload), format=fmt, container_options=_NO_PROTOCOLS,
                    buffer_size=_BUFFER,
                )
        except av.error.FFmpegError as exc:
            raise StreamDecodeError(f"a segment could not be opened as {fmt}: {_why(exc)}") from exc
        try:
            return DemuxedSegment(self._read(container, fmt), fmt)
        finally:
            container.close()

    def _read(self, container: Any, fmt: ContainerFormat) -> list[RawPacket]:
        import av

        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None) if self._want_audio else None
        info = self.info
        if video is None and info is None:
            raise StreamOpenError("the HLS stream has no video track")
        if video is not None and info is not None and video.codec_context.name != info.codec:
            raise StreamError(
                f"the HLS stream changed its video codec ({info.codec} to "
                f"{video.codec_context.name}); reopen it"
            )
        writer = self._writer(video) if fmt == "mp4" and video is not None else None
        if info is not None and audio is not None and (
            info.audio_codec is None or audio.codec_context.name != info.audio_codec
        ):
            audio = None  # audio that was not there at first, or another codec: left out
        streams = [s for s in (video, audio) if s is not None]
        video_scale = _scale(video, info.time_base if info is not None else None)
        audio_scale = _scale(audio, info.audio_time_base if info is not None else None)
        adts = audio is not None and fmt == "mpegts" and audio.codec_context.name == "aac"
        packets: list[RawPacket] = []
        append = packets.append
        limit = self._max_packets
        try:
            for packet in container.demux(streams):
                if packet.size == 0:
                    continue
                if len(packets) >= limit:
                    raise StreamDecodeError(f"a segment holds more than {limit} packets")
                data = bytes(packet)
                if packet.stream is video:
                    keyframe = bool(packet.is_keyframe)
                    if writer is not None:
                        data, random_access = writer.convert(data)
                        keyframe = keyframe or random_access
                    raw = RawPacket("video", data, packet.pts, packet.dts, keyframe,
                                    int(packet.duration or 0))
                    if video_scale is not None:
                        _rescale(raw, video_scale)
                else:
                    if adts:
                        header = adts_header_size(data)
                        if header and len(data) > header:
                            if self._adts_config is None:
                                self._adts_config = adts_config(data)
                            data = data[header:]
                    raw = RawPacket("audio", data, packet.pts, packet.dts, True,
                                    int(packet.duration or 0))
                    if audio_scale is not None:
                        _rescale(raw, audio_scale)
                append(raw)
        except av.error.FFmpegError as exc:
            if not packets:
                raise StreamDecodeError(f"a segment could not be demuxed: {_why(exc)}") from exc
            # A damaged tail: keep what came before it.
        if self.info is None:
            assert video is not None
            self.info = self._stream_info(video, audio, writer, packets)
        return packets

    def _writer(self, video: Any) -> AnnexBWriter | None:
        ctx = video.codec_context
        extradata = bytes(ctx.extradata or b"")
        if not is_length_prefixed(extradata):
            return None  # Annex-B inside MP4 (rare, but allowed): nothing to convert
        key = (ctx.name, extradata)
        writer = self._writers.get(key)
        if writer is None:
            writer = AnnexBWriter(ctx.name, extradata)
            # Only the current init section matters; older ones are not coming back.
            self._writers = {key: writer}
        return writer

    def _stream_info(
        self, video: Any, audio: Any, writer: AnnexBWriter | None, packets: list[RawPacket]
    ) -> StreamInfo | None:
        ctx = video.codec_context
        rate = video.average_rate or video.guessed_rate
        extradata = writer.extradata if writer is not None else ctx.extradata
        info = StreamInfo(
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            fps=float(rate) if rate else None,
            time_base=_time_base(video),
            extradata=bytes(extradata) if extradata else None,
        )
        if info.width <= 0 or info.height <= 0:
            sized = _size_from_keyframe(info, packets)
            if sized is None:
                return None
            info = sized
        if audio is not None:
            actx = audio.codec_context
            audio_extradata = actx.extradata or (
                self._adts_config if actx.name == "aac" else None
            )
            info = replace(
                info,
                audio_codec=actx.name,
                audio_sample_rate=actx.sample_rate,
                audio_channels=actx.channels,
                audio_time_base=_time_base(audio),
                audio_extradata=bytes(audio_extradata) if audio_extradata else None,
            )
        return info


def _size_from_keyframe(info: StreamInfo, packets: list[RawPacket]) -> StreamInfo | None:
    """The picture size from decoding the first keyframe (no SPS reached the probe)."""
    from .._media import MediaPacket
    from .._pipeline._codec import decode_keyframe

    for raw in packets:
        if raw.kind != "video" or not raw.keyframe:
            continue
        packet = MediaPacket(raw.data, raw.pts, raw.dts, info.time_base, True)
        try:
            frame = decode_keyframe(info, packet)
        except StreamDecodeError:
            continue
        return replace(info, width=frame.width, height=frame.height)
    return None


def _time_base(stream: Any) -> Fraction:
    if stream.time_base is None:
        return Fraction(1, 90000)
    return Fraction(stream.time_base)


def _scale(stream: Any, target: Fraction | None) -> Fraction | None:
    """The factor from ``stream``'s time base to ``target``, or ``None`` when they agree."""
    if stream is None or target is None:
        return None
    source = _time_base(stream)
    return None if source == target else source / target


def _rescale(pkt: RawPacket, factor: Fraction) -> None:
    if pkt.pts is not None:
        pkt.pts = round(pkt.pts * factor)
    if pkt.dts is not None:
        pkt.dts = round(pkt.dts * factor)
    pkt.duration = round(pkt.duration * factor)


def _why(exc: BaseException) -> str:
    """FFmpeg's reason, without the file name PyAV adds."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)[:200]
