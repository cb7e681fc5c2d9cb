"""Media for the test RTSP server: the `MediaLoop` protocol and `generate_source`.

`generate_source` encodes a short synthetic clip with PyAV (H.264 or H.265,
optional AAC), ready for `RtspServer` to loop forever.
"""

from __future__ import annotations

import array
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, Protocol

from camsdk._media import MediaPacket, StreamInfo
from camsdk._rtsp._packetize import split_annexb

__all__ = ["EncodedLoop", "MediaLoop", "generate_source"]


class MediaLoop(Protocol):
    """What `RtspServer` serves: an encoded loop of packets.

    ``video`` is in decode order and starts with a keyframe; packets carry
    their own ``time_base`` (1/90000 is usual). An optional ``audio``
    attribute holds AAC packets. The server repeats the loop forever.
    """

    @property
    def info(self) -> StreamInfo:
        """Codec parameters; ``extradata`` supplies the SDP parameter sets."""
        ...

    @property
    def video(self) -> Sequence[MediaPacket]:
        """Encoded video packets, decode order, keyframe first."""
        ...


@dataclass(frozen=True, slots=True)
class EncodedLoop:
    """A ready-made `MediaLoop`, as built by `generate_source`."""

    info: StreamInfo
    video: tuple[MediaPacket, ...]
    audio: tuple[MediaPacket, ...] = ()


def generate_source(
    width: int = 320,
    height: int = 240,
    fps: int = 15,
    gop: int = 15,
    seconds: float = 2.0,
    codec: Literal["h264", "h265", "hevc"] = "h264",
    audio: bool = False,
) -> EncodedLoop:
    """Encode a short synthetic clip with PyAV, ready for `RtspServer`.

    Video is a moving gradient with a sliding box, encoded with libx264 or
    libx265 (ultrafast, zero latency, no B-frames, a keyframe every ``gop``
    frames with parameter sets repeated in band, and global-header
    extradata); timestamps are in 1/90000. ``audio=True`` adds a 440 Hz mono
    AAC track at 48 kHz covering the same duration. CPU only; takes well
    under a second at the defaults.
    """
    import av  # deferred: importing camsdk.testing must not require PyAV
    from av.codec.context import Flags

    if codec not in ("h264", "h265", "hevc"):
        raise ValueError(f"codec must be 'h264' or 'h265', not {codec!r}")
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise ValueError("width and height must be positive and even")
    if fps <= 0 or gop <= 0 or seconds <= 0:
        raise ValueError("fps, gop and seconds must be positive")
    hevc = codec != "h264"
    ticks = Fraction(90000, fps)
    frame_count = max(1, round(seconds * fps))

    ctx = av.CodecContext.create("libx265" if hevc else "libx264", "w")
    ctx.width = width
    ctx.height = height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, 90000)
    ctx.framerate = Fraction(fps)
    ctx.gop_size = gop
    ctx.max_b_frames = 0
    ctx.flags |= int(Flags.global_header)
    params = f"repeat-headers=1:keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"
    if hevc:
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": params + ":log-level=error",
        }
    else:
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "x264-params": params}
    ctx.open()

    ramp = bytes(range(256)) * (width // 256 + 3)
    encoded: list[av.Packet[Any]] = []
    for index in range(frame_count):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = frame.planes[0]
        stride = luma.line_size
        shift = (index * 4) % 256
        box_x = (index * 8) % max(1, width - width // 4)
        box = b"\xeb" * (width // 4)
        rows = []
        for y in range(height):
            row = ramp[(y + shift) % 256 : (y + shift) % 256 + stride]
            if height // 3 <= y < height // 3 + height // 4:
                row = row[:box_x] + box + row[box_x + len(box) :]
            rows.append(row)
        luma.update(b"".join(rows))
        frame.planes[1].update(bytes(((96 + index) % 256,)) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes(((160 - index) % 256,)) * frame.planes[2].buffer_size)
        frame.pts = round(index * ticks)
        frame.time_base = Fraction(1, 90000)
        encoded.extend(ctx.encode(frame))
    encoded.extend(ctx.encode(None))

    time_base = Fraction(1, 90000)
    video = tuple(
        MediaPacket(
            data=bytes(p),
            pts=p.pts,
            dts=p.dts,
            time_base=time_base,
            keyframe=p.is_keyframe,
            duration=round(ticks),
        )
        for p in encoded
    )
    extradata = ctx.extradata
    info = StreamInfo(
        codec="hevc" if hevc else "h264",
        width=width,
        height=height,
        fps=float(fps),
        time_base=time_base,
        extradata=extradata,
        profile="main" if hevc else _h264_profile(extradata),
    )
    if not audio:
        return EncodedLoop(info, video)

    audio_packets, audio_config = _encode_tone(seconds)
    info = StreamInfo(
        codec=info.codec,
        width=width,
        height=height,
        fps=info.fps,
        time_base=time_base,
        extradata=extradata,
        profile=info.profile,
        audio_codec="aac",
        audio_sample_rate=48000,
        audio_channels=1,
        audio_time_base=Fraction(1, 48000),
        audio_extradata=audio_config,
    )
    return EncodedLoop(info, video, audio_packets)


def _encode_tone(seconds: float) -> tuple[tuple[MediaPacket, ...], bytes | None]:
    """A 440 Hz mono AAC tone at 48 kHz; pts start at 0 (encoder delay removed)."""
    import av

    rate = 48000
    ctx = av.CodecContext.create("aac", "w")
    ctx.sample_rate = rate
    ctx.layout = "mono"
    ctx.format = "fltp"
    ctx.time_base = Fraction(1, rate)
    ctx.bit_rate = 64000
    ctx.open()
    size = ctx.frame_size or 1024
    total = max(size, round(seconds * rate))
    step = 2 * math.pi * 440 / rate
    encoded: list[av.Packet[Any]] = []
    for start in range(0, total, size):
        samples = array.array("f", (0.2 * math.sin(step * (start + k)) for k in range(size)))
        frame = av.AudioFrame(format="fltp", layout="mono", samples=size)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        frame.planes[0].update(samples.tobytes())
        encoded.extend(ctx.encode(frame))
    encoded.extend(ctx.encode(None))
    first = next((p.pts for p in encoded if p.pts is not None), 0)
    packets = tuple(
        MediaPacket(
            data=bytes(p),
            pts=None if p.pts is None else p.pts - first,
            dts=None if p.dts is None else p.dts - first,
            time_base=Fraction(1, rate),
            keyframe=True,
            kind="audio",
            duration=size,
        )
        for p in encoded
    )
    return packets, ctx.extradata


def _h264_profile(extradata: bytes | None) -> str:
    sps = next((n for n in split_annexb(extradata or b"") if n[0] & 0x1F == 7), None)
    if sps is None or len(sps) < 2:
        return "main"
    return {66: "baseline", 77: "main", 88: "extended", 100: "high"}.get(sps[1], "high")
