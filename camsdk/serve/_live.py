"""Live media for viewers: H.264 (and the camera's audio) from the shared upstream, as fMP4.

A `LiveFeed` is what one viewer receives, read through the viewer's own
`camsdk.Camera.acting_for` door, so the policy decides it for them, the
audit log names them and a revoked grant ends it at the next item:

* without masks, `PassthroughFeed`: the camera's own H.264 packets, not
  decoded, not re-encoded (the cheap path: remuxing only), with the camera's
  audio packets when it has AAC or G.711 audio (`VideoTrack.audio`);
* with masks (the owner's or the grant's), or when the camera is not H.264
  and a browser needs it, `TranscodedFeed`: frames decoded once by the shared
  decoder, masked by the facade, encoded with x264 (ultrafast, zero latency,
  baseline profile) in a worker thread. Video only: the camera's sound is
  raw media, which the facade lets out under masks only with ``raw_media``
  (and a camera that is not H.264 gets no audio in the browser either).

`Fmp4Muxer` turns either into fragmented MP4 for Media Source Extensions:
one init segment (``ftyp`` + ``moov``: the video track, and an AAC track when
the feed has audio: AAC copied, G.711 transcoded), then one ``moof``/``mdat``
fragment per frame or audio packet. RTSP restream reads the same feeds
(`camsdk.serve._rtsp`) and sends the audio as the camera coded it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from .._media import Discontinuity, MediaPacket, StreamInfo, VideoFrame
from ._mux import CodecFreeMp4, carried_audio, mse_audio_codec

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera
    from .._stream import MediaStream

__all__ = [
    "Fmp4Muxer",
    "LiveFeed",
    "PassthroughFeed",
    "TranscodedFeed",
    "VideoTrack",
    "fmp4_chunks",
    "mse_codec",
    "open_feed",
]

_TB = Fraction(1, 90000)
_SPS = 7


@dataclass(frozen=True, slots=True)
class VideoTrack:
    """What a feed carries: enough to describe it in MP4 or SDP."""

    codec: str
    width: int
    height: int
    fps: float | None
    extradata: bytes | None
    #: Whether the packets were re-encoded (masks, or a codec browsers cannot play).
    transcoded: bool
    #: The camera's stream description when the feed carries its audio (AAC or G.711
    #: packets, ``kind="audio"``), else ``None``.
    audio: StreamInfo | None = None

    @property
    def mime(self) -> str:
        """The MSE type string, e.g. ``video/mp4; codecs="avc1.42c01f,mp4a.40.2"``."""
        codecs = mse_codec(self.extradata)
        if self.audio is not None:
            codecs += "," + mse_audio_codec(self.audio)
        return f'video/mp4; codecs="{codecs}"'


def mse_codec(extradata: bytes | None) -> str:
    """``avc1.PPCCLL`` from H.264 extradata (avcC or Annex B SPS); a safe default otherwise."""
    if extradata:
        if extradata[0] == 1 and len(extradata) >= 4:
            return f"avc1.{extradata[1:4].hex()}"
        for nal in _annexb_units(extradata):
            if nal and nal[0] & 0x1F == _SPS and len(nal) >= 4:
                return f"avc1.{nal[1:4].hex()}"
    return "avc1.42e01f"


def _annexb_units(data: bytes) -> list[bytes]:
    units: list[bytes] = []
    for chunk in data.split(b"\x00\x00\x01"):
        chunk = chunk.rstrip(b"\x00")
        if chunk:
            units.append(chunk)
    return units


class LiveFeed:
    """One viewer's live H.264 (an async iterator of `MediaPacket` and `Discontinuity`).

    ``audio`` asks for the camera's audio packets too, where the feed can carry
    them (`PassthroughFeed`); `track` says whether it does.
    """

    track: VideoTrack

    def __init__(self, camera: Camera, *, purpose: str, profile: str | None = None,
                 audio: bool = False) -> None:
        self._camera = camera
        self._purpose = purpose
        self._profile = profile
        self._audio = audio
        self._stream: MediaStream | None = None
        self.items = 0

    async def __aenter__(self) -> Self:
        self._stream = self._camera.stream(self._profile, audio=self._audio,
                                           purpose=self._purpose)
        try:
            await self._stream.open()
            await self._start(self._stream)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _start(self, stream: MediaStream) -> None:
        raise NotImplementedError

    def __aiter__(self) -> LiveFeed:
        return self

    async def __anext__(self) -> MediaPacket | Discontinuity:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Detach from the stream (the audit log gets the egress end). Idempotent."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.aclose()


class PassthroughFeed(LiveFeed):
    """The camera's own packets, untouched: needs a grant that lets ``packets`` out."""

    async def _start(self, stream: MediaStream) -> None:
        info = stream.info
        audio = carried_audio(info) if self._audio else None
        self.track = VideoTrack(info.codec, info.width, info.height, info.fps, info.extradata,
                                transcoded=False, audio=audio)
        self._packets = stream.packets(audio=audio is not None, purpose=self._purpose)

    async def __anext__(self) -> MediaPacket | Discontinuity:
        while True:
            item = await self._packets.__anext__()
            if (isinstance(item, MediaPacket) and item.kind != "video"
                    and self.track.audio is None):
                continue
            self.items += 1
            return item


class TranscodedFeed(LiveFeed):
    """Masked frames from the facade, re-encoded to H.264 in a worker thread."""

    async def _start(self, stream: MediaStream) -> None:
        info = stream.info
        self._frames = stream.frames(purpose=self._purpose, format="yuv420p", queue_size=8)
        self._pending: list[MediaPacket] = []
        self._encoder = await asyncio.to_thread(_LiveEncoder, info.width, info.height, info.fps)
        self.track = VideoTrack("h264", info.width, info.height, info.fps,
                                self._encoder.extradata, transcoded=True)

    async def __anext__(self) -> MediaPacket | Discontinuity:
        while not self._pending:
            item = await self._frames.__anext__()
            if isinstance(item, Discontinuity):
                return item
            if isinstance(item, VideoFrame):
                self._pending.extend(await asyncio.to_thread(self._encoder.encode, item))
        self.items += 1
        return self._pending.pop(0)


class _LiveEncoder:
    """x264 tuned for live viewing: no B-frames, no lookahead, a keyframe every two seconds."""

    def __init__(self, width: int, height: int, fps: float | None) -> None:
        import av

        rate = max(1, round(fps or 15))
        ctx: Any = av.CodecContext.create("libx264", "w")
        ctx.width, ctx.height = width, height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = _TB
        ctx.framerate = Fraction(rate)
        ctx.gop_size = 2 * rate
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline",
                       "x264-params": "log-level=none"}
        # Parameter sets in the extradata: MP4 init segments and SDP need them up front.
        ctx.flags |= av.codec.context.Flags.global_header
        ctx.open()
        self._ctx = ctx
        self.extradata: bytes | None = bytes(ctx.extradata) if ctx.extradata else None
        self._origin: float | None = None
        self._last = -1

    def encode(self, frame: VideoFrame) -> list[MediaPacket]:
        t = frame.time
        if t is None:
            return []
        if self._origin is None:
            self._origin = t
        pts = round((t - self._origin) * 90000)
        if pts <= self._last:
            return []
        self._last = pts
        src = frame.to_av()
        if src.format.name != "yuv420p":
            src = src.reformat(format="yuv420p")
        src.pts = pts
        src.time_base = _TB
        return [
            MediaPacket(bytes(p), p.pts, p.dts, _TB, bool(p.is_keyframe),
                        received_at=frame.received_at)
            for p in self._ctx.encode(src)
        ]


def open_feed(camera: Camera, *, purpose: str, masked: bool, browser: bool,
              codec: str | None = None, profile: str | None = None,
              audio: bool = True) -> LiveFeed:
    """The feed for one viewer: passthrough unless masks apply or a browser needs H.264.

    A passthrough feed carries the camera's audio too (with ``audio``, when the
    camera has AAC or G.711 audio); a transcoded feed is video only.
    """
    if masked or (browser and codec not in (None, "h264")):
        return TranscodedFeed(camera, purpose=purpose, profile=profile)
    return PassthroughFeed(camera, purpose=purpose, profile=profile, audio=audio)


class _Chunks:
    """The file object PyAV writes into: it keeps what was written until taken."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class Fmp4Muxer:
    """H.264 (and audio) packets in, fragmented MP4 out: an init segment, then fragments.

    Remuxing only (tens of microseconds a packet), with `CodecFreeMp4`, so the
    init segment describes the camera's own parameter sets.
    """

    def __init__(self, track: VideoTrack) -> None:
        self._sink = _Chunks()
        self._mp4 = CodecFreeMp4(self._sink, track.codec, track.extradata, track.width,
                                 track.height, fragmented=True, audio=track.audio)
        self.fragments = 0
        self.bytes = 0
        self._closed = False

    def write(self, pkt: MediaPacket) -> bytes:
        """Mux one packet; return the MP4 bytes ready to send (may be empty)."""
        if self._closed:
            return b""
        self._mp4.write(pkt)
        data = self._sink.take()
        if data:
            self.fragments += 1
            self.bytes += len(data)
        return data

    def close(self) -> bytes:
        """Finish the file; return its last bytes."""
        if self._closed:
            return b""
        self._closed = True
        with contextlib.suppress(Exception):
            self._mp4.close()
        return self._sink.take()


async def fmp4_chunks(feed: LiveFeed) -> AsyncIterator[bytes]:
    """The feed as MP4 byte chunks: the init segment comes with the first fragment.

    A `Discontinuity` needs nothing here: the next packet is a keyframe and
    camsdk's timestamps keep increasing across gaps and reconnects, so the
    viewer's buffer shows a short gap and plays on.
    """
    muxer = Fmp4Muxer(feed.track)
    try:
        async for item in feed:
            if isinstance(item, Discontinuity):
                continue
            data = muxer.write(item)
            if data:
                yield data
    finally:
        muxer.close()
