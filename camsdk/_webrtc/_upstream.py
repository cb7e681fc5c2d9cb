"""`WebRtcUpstream`: a `WebRtcSession`'s received media as a `PacketSource`.

```python
session = WebRtcSession(answer_fixes=NEST_FIXES, scheme="nest", url=redacted)
offer = await session.create_offer(data_channel=True, audio="recvonly")
await session.accept_answer(await vendor_api.generate_stream(offer))
upstream = WebRtcUpstream(session)
info = await upstream.start(timeout=config.open_timeout)  # connected + first keyframe
async for packet in upstream: ...        # H.264 access units (Annex-B), Opus/G.711 packets
await upstream.request_keyframe()         # RTCP PLI, when a new consumer needs a keyframe
await upstream.aclose()                   # closes the peer connection too
```

Video packets are the access units aiortc assembled, tapped before any
decoder: Annex-B with four-byte start codes, ``pts``/``dts`` the RTP
timestamp in 1/90000 counted from the first frame, ``keyframe`` from the
NAL types, cached parameter sets in front of keyframes that lack them.
Audio packets are Opus (1/48000) or G.711 (1/8000) as received.
``wallclock`` is set once the peer's first RTCP sender report arrived.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from fractions import Fraction

from .._errors import CameraTimeoutError, StreamError
from .._media import MediaPacket, StreamInfo
from ._session import WebRtcSession

__all__ = ["WebRtcUpstream"]

# The OpusHead a decoder or an MP4/WebM muxer wants (RFC 7845 5.1): version 1,
# two channels, 312 samples pre-skip, 48 kHz, no gain, mapping family 0.
_OPUS_HEAD = b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00"


class WebRtcUpstream:
    """A live packet source over a connected `WebRtcSession` (see the module docstring).

    ``audio`` passes received audio on; ``stall_timeout`` (seconds) ends
    iteration with `StreamStalledError` when no packet comes for that long
    (the shared stream session has its own watchdog, so ``None`` is fine
    there); ``close_session`` closes the peer connection with `aclose` (set
    it false when a talk channel shares the session and closes it later).
    """

    def __init__(
        self,
        session: WebRtcSession,
        *,
        audio: bool = True,
        stall_timeout: float | None = None,
        close_session: bool = True,
    ) -> None:
        self.session = session
        self._audio = audio
        self._stall_timeout = stall_timeout
        self._close_session = close_session
        self._info: StreamInfo | None = None
        self._first: MediaPacket | None = None
        self._closed = False

    @property
    def info(self) -> StreamInfo:
        """Codec parameters (after `start`)."""
        if self._info is None:
            raise StreamError("the WebRTC stream has not started", scheme=self.session.scheme,
                              url=self.session.url)
        return self._info

    @property
    def live(self) -> bool:
        """A camera: packets arrive in real time."""
        return True

    @property
    def finite(self) -> bool:
        """Never: a dropped connection is reconnected by whoever opened it."""
        return False

    async def start(self, timeout: float = 10.0) -> StreamInfo:
        """Wait for the connection and the first keyframe (asks for one at once if needed).

        One deadline covers both: `CameraTimeoutError` after ``timeout`` s, or
        the reason the connection failed.
        """
        session = self.session
        asked = False
        try:
            async with asyncio.timeout(timeout):
                await session.wait_connected()
                while True:
                    packet = await session.next_packet()
                    if packet.kind != "video":
                        continue  # audio before the first picture has nothing to sync to
                    if packet.keyframe:
                        break
                    if not asked:
                        # Joining mid-GOP: ask now rather than wait for the next GOP.
                        asked = await session.request_keyframe()
        except TimeoutError:
            what = "keyframe" if session.connection_state == "connected" else "WebRTC connection"
            raise CameraTimeoutError(
                f"no {what} within {timeout:g} s", scheme=session.scheme, url=session.url,
            ) from None
        self._first = packet
        self._info = self._make_info()
        return self._info

    def _make_info(self) -> StreamInfo:
        video = self.session.video
        sps = video.parameter_sets.sps_info if video is not None else None
        if video is None or sps is None:  # pragma: no cover - start() returns on a keyframe
            raise StreamError("no parameter sets", scheme=self.session.scheme,
                              url=self.session.url)
        audio = self.session.audio if self._audio else None
        codec = self.session.audio_codec if audio is not None else None
        channels = codec.channels if codec is not None else None
        return StreamInfo(
            codec="h264",
            width=sps.width,
            height=sps.height,
            fps=sps.fps,
            time_base=Fraction(1, 90_000),
            extradata=video.parameter_sets.annexb(),
            profile=sps.profile,
            audio_codec=codec.ffmpeg_name if codec is not None else None,
            audio_sample_rate=codec.clock_rate if codec is not None else None,
            audio_channels=channels,
            audio_time_base=Fraction(1, codec.clock_rate) if codec is not None else None,
            audio_extradata=_OPUS_HEAD if codec is not None and codec.ffmpeg_name == "opus"
            else None,
        )

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self

    async def __anext__(self) -> MediaPacket:
        """The next packet; raises the reason the stream ended."""
        self.info  # noqa: B018 - raises before start()
        first, self._first = self._first, None
        if first is not None:
            return first
        while True:
            packet = await self.session.next_packet(self._stall_timeout)
            if packet.kind == "video" or self._audio:
                return packet

    async def request_keyframe(self) -> bool:
        """Ask the camera for a keyframe now (RTCP PLI); False if none was sent.

        For a new consumer that needs a keyframe sooner than the next GOP;
        requests within ``pli_interval`` of each other are merged.
        """
        return await self.session.request_keyframe()

    async def aclose(self) -> None:
        """Stop reading; closes the session unless ``close_session`` was false. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._close_session:
            await self.session.aclose()
