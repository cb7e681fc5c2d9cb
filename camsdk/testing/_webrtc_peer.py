"""`WebRtcAnswerer`: a loopback WebRTC peer that answers camsdk's offers like a camera.

It sends H.264 from the virtual camera's encoded loop
(`camsdk.drivers.virtual._scene.encoded_loop`) **without re-encoding**:
its video track returns ``av.Packet``s from ``recv()``, which aiortc's sender
packetises as they are. Optional Opus or PCMU/PCMA audio is a tone encoded
once. Audio it receives (two-way audio) is recorded at the RTP level, before
any jitter buffer: payloads and counts, kept for the test.

A PLI (or FIR) from the receiver makes the next packet sent the next
keyframe of the loop, at once, as a camera would; timestamps keep running.
``parameter_sets="first"`` strips SPS/PPS from every keyframe but the first,
like cameras that announce them once. ``dtls_role="passive"`` makes it wait
for our DTLS ClientHello (aiortc's answers are active otherwise). `freeze`
stops media without closing (a stall); `aclose` closes the connection (RTCP
BYE, DTLS close).

ICE gathers on ``host`` only (127.0.0.1 by default), through the same
context-scoped hook camsdk's sessions use; no STUN server is contacted.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from camsdk._log import get_logger
from camsdk._webrtc._aiortc import (
    close_peer_connection,
    decode_nothing,
    gathering_on,
    require_aiortc,
)
from camsdk._webrtc._h264 import NAL_PPS, NAL_SPS, join_annexb, nal_type, split_annexb
from camsdk._webrtc._sdp import Sdp, without_candidates
from camsdk.drivers.virtual._scene import EncodedLoop, LoopParams, encoded_loop

__all__ = ["SentVideo", "WebRtcAnswerer"]

log = get_logger(__name__)

_VIDEO_CLOCK = 90_000
_AUDIO = {
    # name: (FFmpeg encoder, sample rate of the encoder, RTP clock, samples per packet)
    "opus": ("libopus", 48_000, 48_000, 960),
    "pcmu": ("pcm_mulaw", 8_000, 8_000, 160),
    "pcma": ("pcm_alaw", 8_000, 8_000, 160),
}
_SENT_KEPT = 2048


@dataclass(frozen=True, slots=True)
class SentVideo:
    """One access unit as the answerer handed it to aiortc."""

    pts: int
    data: bytes
    keyframe: bool


def _tone_packets(name: str) -> list[bytes]:
    """One second of a 500 Hz tone, encoded (a whole number of cycles: it loops cleanly)."""
    import av
    import numpy as np

    encoder, rate, _clock, frame = _AUDIO[name]
    ctx: Any = av.CodecContext.create(encoder, "w")
    ctx.sample_rate = rate
    ctx.layout = "mono"
    ctx.format = "s16"
    ctx.open()
    t = np.arange(rate) / rate
    pcm = (np.sin(2 * math.pi * 500 * t) * 3000).astype("<i2")
    packets: list[bytes] = []
    for start in range(0, rate, frame):
        chunk = av.AudioFrame.from_ndarray(
            pcm[start:start + frame].reshape(1, -1), format="s16", layout="mono"
        )
        chunk.sample_rate = rate
        chunk.pts = start
        packets.extend(bytes(p) for p in ctx.encode(chunk))
    packets.extend(bytes(p) for p in ctx.encode(None))
    return packets


class _Paced:
    """Real-time pacing from a start instant; a keyframe request; a freeze switch."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.frozen = asyncio.Event()
        self.thawed = asyncio.Event()
        self.thawed.set()

    async def wait_until(self, seconds: float) -> None:
        if self.start is None:
            self.start = time.monotonic()
        await self.thawed.wait()
        delay = self.start + seconds - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing a simulated camera, not synchronising a test


def _make_tracks() -> tuple[type, type]:
    import av
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class LoopVideoTrack(MediaStreamTrack):
        """Sends the encoded loop's packets in real time, as they are."""

        kind = "video"

        def __init__(self, peer: WebRtcAnswerer, loop: EncodedLoop, fps: int) -> None:
            super().__init__()
            self._peer = peer
            self._media = loop  # not ``_loop``: the event emitter base uses that name
            self._fps = fps
            self._index = 0
            self._count = 0
            self._pace = _Paced()
            self.want_keyframe = False

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            pts = self._count * _VIDEO_CLOCK // self._fps
            await self._pace.wait_until(pts / _VIDEO_CLOCK)
            video = self._media.video
            if self.want_keyframe:
                self.want_keyframe = False
                while not video[self._index % len(video)].keyframe:
                    self._index += 1
                self._peer.forced_keyframes += 1
            source = video[self._index % len(video)]
            self._index += 1
            data = source.data
            if source.keyframe and self._count > 0 and self._peer.parameter_sets == "first":
                data = join_annexb(
                    u for u in split_annexb(data) if nal_type(u) not in (NAL_SPS, NAL_PPS)
                )
            self._count += 1
            self._peer._record_sent(SentVideo(pts, data, source.keyframe))
            packet = av.Packet(data)
            packet.pts = pts
            packet.time_base = Fraction(1, _VIDEO_CLOCK)
            return packet

    class ToneTrack(MediaStreamTrack):
        """Sends an encoded tone in real time, as it is."""

        kind = "audio"

        def __init__(self, name: str) -> None:
            super().__init__()
            _encoder, _rate, clock, frame = _AUDIO[name]
            self._packets = _tone_packets(name)
            self._clock = clock
            self._frame = frame
            self._count = 0
            self._pace = _Paced()

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            pts = self._count * self._frame
            await self._pace.wait_until(pts / self._clock)
            packet = av.Packet(self._packets[self._count % len(self._packets)])
            packet.pts = pts
            packet.time_base = Fraction(1, self._clock)
            self._count += 1
            return packet

    return LoopVideoTrack, ToneTrack


class WebRtcAnswerer:
    """A simulated WebRTC camera on loopback (see the module docstring).

    ``params`` choose the video loop (encoded once and cached); ``loop``
    gives one directly. ``audio`` adds a tone track (``"opus"``, ``"pcmu"``
    or ``"pcma"``); the answer then prefers that codec.
    """

    def __init__(
        self,
        *,
        params: LoopParams | None = None,
        loop: EncodedLoop | None = None,
        audio: Literal["opus", "pcmu", "pcma"] | None = None,
        parameter_sets: Literal["every", "first"] = "every",
        host: str = "127.0.0.1",
        trickle: bool = False,
        dtls_role: Literal["active", "passive"] = "active",
    ) -> None:
        require_aiortc(scheme="webrtc")
        self.params = params or LoopParams(width=320, height=240, fps=15, gop=15, seconds=2)
        self._loop = loop
        self.audio = audio
        self.parameter_sets = parameter_sets
        self.host = host
        self.trickle = trickle
        self.dtls_role = dtls_role
        self._pc: Any = None
        self._video: Any = None
        self._tone: Any = None
        self._answer = ""
        self._tasks: set[asyncio.Task[None]] = set()
        #: Access units sent, newest last (the last 2048).
        self.sent: collections.deque[SentVideo] = collections.deque(maxlen=_SENT_KEPT)
        self.video_sent = 0
        self.keyframes_sent = 0
        #: PLI/FIR messages received from the peer.
        self.keyframe_requests = 0
        #: Keyframes sent early because of a request.
        self.forced_keyframes = 0
        #: Audio received, as RTP payloads in arrival order.
        self.received_audio: list[bytes] = []
        self.received_audio_bytes = 0
        self.received_audio_timestamps: list[int] = []
        self._received = asyncio.Event()

    @property
    def loop(self) -> EncodedLoop:
        """The encoded video loop (encoded on first use; blocking)."""
        if self._loop is None:
            self._loop = encoded_loop(self.params)
        return self._loop

    def _record_sent(self, sent: SentVideo) -> None:
        self.sent.append(sent)
        self.video_sent += 1
        self.keyframes_sent += sent.keyframe

    async def answer(self, offer: str) -> str:
        """Answer ``offer`` (complete or trickle); returns the answer SDP."""
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        if self._pc is not None:
            raise RuntimeError("this answerer already answered an offer")
        if self._loop is None:
            self._loop = await asyncio.to_thread(encoded_loop, self.params)
        video_class, tone_class = _make_tracks()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pc = pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                self._video = video_class(self, self._loop, self.params.fps)
                transceiver.sender.replaceTrack(self._video)
                transceiver.direction = "sendonly"
                # aiortc ignores PLIs for pre-encoded packets: the track reacts instead.
                transceiver.sender._send_keyframe = (  # type: ignore[method-assign]
                    self._on_keyframe_request
                )
            elif transceiver.kind == "audio":
                self._setup_audio(transceiver, tone_class)
        answer = await pc.createAnswer()
        if self.dtls_role == "passive":
            # aiortc takes its DTLS role from the description it is given.
            answer = RTCSessionDescription(
                sdp=answer.sdp.replace("a=setup:active", "a=setup:passive"), type="answer"
            )
        with gathering_on((self.host,)):
            await pc.setLocalDescription(answer)
        self._answer = pc.localDescription.sdp
        return without_candidates(self._answer) if self.trickle else self._answer

    def _setup_audio(self, transceiver: Any, tone_class: type) -> None:
        if self.audio is not None:
            wanted = f"audio/{self.audio}"
            # Preferences set now would come too late (aiortc applied them when the
            # offer created this transceiver): reorder the negotiated list instead.
            codecs = transceiver._codecs
            transceiver._codecs = sorted(codecs, key=lambda c: c.mimeType.lower() != wanted)
            self._tone = tone_class(self.audio)
            transceiver.sender.replaceTrack(self._tone)
        # aiortc's view of the offer, from the answerer's side ("sendonly": it may send).
        offered = transceiver._offerDirection or "inactive"
        sends = self.audio is not None and offered in ("sendrecv", "sendonly")
        receives = offered in ("sendrecv", "recvonly")
        transceiver.direction = {
            (True, True): "sendrecv", (True, False): "sendonly",
            (False, True): "recvonly", (False, False): "inactive",
        }[(sends, receives)]
        receiver = transceiver.receiver
        decode_nothing(receiver)
        real_rtp = receiver._handle_rtp_packet

        async def record(packet: Any, arrival_time_ms: int) -> None:
            if packet.payload:
                self.received_audio.append(bytes(packet.payload))
                self.received_audio_bytes += len(packet.payload)
                self.received_audio_timestamps.append(packet.timestamp)
                self._received.set()
            await real_rtp(packet, arrival_time_ms)

        receiver._handle_rtp_packet = record
        if receives and receiver.track is not None:
            task = asyncio.create_task(self._drain(receiver.track), name="camsdk-answerer-drain")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        # The remote track's queue has no bound: it must be read.
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return

    def _on_keyframe_request(self) -> None:
        self.keyframe_requests += 1
        if self._video is not None:
            self._video.want_keyframe = True

    async def local_candidates(self) -> AsyncIterator[tuple[str, str | None, int]]:
        """The answer's candidates as ``(candidate, mid, mline index)``, for trickle tests."""
        sdp = Sdp.parse(self._answer)
        for index, section in enumerate(sdp.media):
            for line in section:
                if line.startswith("a=candidate:"):
                    yield line[2:], Sdp.mid(section), index

    async def add_remote_candidate(self, candidate: str | None, mid: str | None,
                                   index: int | None) -> None:
        """A candidate camsdk trickled (``None``: end of candidates)."""
        from aiortc.sdp import candidate_from_sdp

        if candidate is None:
            await self._pc.addIceCandidate(None)
            return
        parsed = candidate_from_sdp(candidate.removeprefix("candidate:"))
        parsed.sdpMid = mid
        parsed.sdpMLineIndex = index
        await self._pc.addIceCandidate(parsed)

    async def wait_audio(self, packets: int, timeout: float = 10.0) -> None:
        """Wait until ``packets`` audio packets were received (bounded)."""
        async with asyncio.timeout(timeout):
            while len(self.received_audio) < packets:
                self._received.clear()
                await self._received.wait()

    def freeze(self) -> None:
        """Stop sending media, keep the connection (a stalled camera)."""
        for track in (self._video, self._tone):
            if track is not None:
                track._pace.thawed.clear()

    def thaw(self) -> None:
        """Resume media after `freeze` (timestamps follow real time)."""
        for track in (self._video, self._tone):
            if track is not None:
                track._pace.thawed.set()

    @property
    def connection_state(self) -> str:
        """aiortc's connection state of the answering side."""
        return "new" if self._pc is None else str(self._pc.connectionState)

    async def aclose(self) -> None:
        """Close the connection (sends RTCP BYE); idempotent."""
        pc, self._pc = self._pc, None
        self.thaw()
        for task in list(self._tasks):
            task.cancel()
        if pc is not None:
            await close_peer_connection(pc, 5.0)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> WebRtcAnswerer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
