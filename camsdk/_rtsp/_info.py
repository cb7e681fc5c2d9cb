"""`StreamInfo` from the SDP and the parameter sets: codec, size, rate, extradata."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from camsdk._errors import StreamOpenError
from camsdk._log import get_logger
from camsdk._media import StreamInfo

from ._nal import START_CODE
from ._sdp import MediaDescription
from ._sps import SpsInfo, parse_h264_sps, parse_h265_sps
from ._tracks import AudioCodec

__all__ = ["VIDEO_CODECS", "stream_info", "video_parameters"]

log = get_logger("camsdk.rtsp")
VIDEO_CODECS = {"h264": "h264", "h265": "hevc", "jpeg": "mjpeg"}


def video_parameters(encoding: str, parameter_sets: dict[int, list[bytes]]) -> tuple[
        SpsInfo | None, bytes | None]:
    """The parsed SPS (``None`` when absent or unreadable) and the Annex-B extradata."""
    order: tuple[int, ...]
    if encoding == "h264":
        order, sps_type, parse = (7, 8), 7, parse_h264_sps
    elif encoding == "h265":
        order, sps_type, parse = (32, 33, 34), 33, parse_h265_sps
    else:
        return None, None
    nals = [nal for kind in order for nal in parameter_sets.get(kind, ())]
    extradata = b"".join(START_CODE + nal for nal in nals) or None
    sps = parameter_sets.get(sps_type)
    if not sps:
        return None, extradata
    try:
        return parse(sps[0]), extradata
    except ValueError as exc:
        log.debug("unreadable SPS (%s); the size comes from decoding a keyframe", exc)
        return None, extradata


def decoded_size(codec: str, extradata: bytes | None, keyframe: bytes) -> tuple[int, int]:
    """Width and height from decoding one keyframe with PyAV (the fallback)."""
    import av  # deferred: only when an SPS could not be parsed

    try:
        ctx: Any = av.CodecContext.create(codec, "r")
        if extradata:
            ctx.extradata = extradata
        frames = list(ctx.decode(av.Packet(keyframe))) + list(ctx.decode(None))
    except (av.error.FFmpegError, ValueError) as exc:
        raise StreamOpenError(f"cannot learn the picture size: {exc}") from exc
    if not frames:
        raise StreamOpenError("cannot learn the picture size: the keyframe did not decode")
    return frames[0].width, frames[0].height


def stream_info(
    video: MediaDescription, sps: SpsInfo | None, size: tuple[int, int] | None,
    extradata: bytes | None, audio: tuple[MediaDescription, AudioCodec] | None,
) -> StreamInfo:
    """Assemble the `StreamInfo` of a session."""
    width, height = (sps.width, sps.height) if sps is not None else size or (0, 0)
    fps = video.framerate or (sps.fps if sps is not None else None)
    kwargs: dict[str, object] = {}
    if audio is not None:
        media, codec = audio
        kwargs = {
            "audio_codec": codec.codec,
            "audio_sample_rate": codec.sample_rate,
            "audio_channels": codec.channels,
            "audio_time_base": Fraction(1, media.clock_rate),
            "audio_extradata": codec.extradata,
        }
    return StreamInfo(
        codec=VIDEO_CODECS[video.encoding], width=width, height=height, fps=fps,
        time_base=Fraction(1, video.clock_rate), extradata=extradata,
        **kwargs,  # type: ignore[arg-type]
    )
