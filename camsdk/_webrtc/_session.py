"""`WebRtcSession`: one aiortc peer connection, set up the way a camera vendor wants it.

The session makes the offer (complete, or trickled), takes the vendor's
answer through the driver's SDP fixes, and receives media through the
pass-through tap (see `camsdk._webrtc._aiortc`): aiortc's jitter buffer,
NACK and PLI stay, its decoders never run. Received access units and audio
packets wait in a bounded inbox for the one `WebRtcUpstream` that reads
them; an audio send track carries two-way audio (`WebRtcTalkChannel`).

camsdk opens no connection the caller did not ask for: no STUN or TURN
server is used unless ``ice_servers`` names one (aiortc's default is a
public STUN server; camsdk never takes it), and ``host_addresses`` limits
the interfaces ICE gathers on (``("127.0.0.1",)`` for loopback tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import (
    CameraClosedError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    StreamEndedError,
    StreamOpenError,
)
from .._log import get_logger, register_secret
from .._media import MediaPacket
from ._aiortc import ReceiverTap, require_aiortc
from ._inbox import PacketInbox
from ._receive import AudioTap, VideoTap
from ._sdp import (
    AnswerFix,
    AudioCodec,
    Sdp,
    first_audio_codec,
    sprop_parameter_sets,
    without_candidates,
)

__all__ = ["IceCandidate", "IceServer", "WebRtcSession"]

log = get_logger("camsdk.webrtc")

AudioDirection = Literal["recvonly", "sendrecv", "sendonly"]
_AUDIO_DIRECTIONS = ("recvonly", "sendrecv", "sendonly")
_CLOSE_WAIT = 5.0
# Real peers send a handful; a signalling channel that sends more is broken or hostile.
_MAX_REMOTE_CANDIDATES = 256


@dataclass(frozen=True, slots=True)
class IceServer:
    """A STUN or TURN server the caller chose (camsdk uses none by default)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.urls, str):
            object.__setattr__(self, "urls", (self.urls,))
        if self.credential:
            register_secret(self.credential)


@dataclass(frozen=True, slots=True)
class IceCandidate:
    """One ICE candidate as signalling carries it (``candidate:...``, no ``a=``)."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


class WebRtcSession:
    """A peer connection configured for one vendor (see the module docstring).

    ``answer_fixes`` repair the vendor's SDP answer (`camsdk._webrtc._sdp`);
    ``audio_codecs`` are offered in this order (SDP names: ``opus``,
    ``PCMU``, ``PCMA``); ``inbox_size`` bounds the packets waiting for the
    reader (past it the oldest go, and video resumes at a keyframe after a
    PLI); ``pli_interval`` is the least time between two keyframe requests.
    ``scheme`` and ``url`` (redacted) name the camera in errors.

    The constructor does no I/O; it raises `DriverUnavailableError` when
    aiortc is not installed.
    """

    def __init__(
        self,
        *,
        ice_servers: Sequence[IceServer] = (),
        host_addresses: Sequence[str] | None = None,
        answer_fixes: Sequence[AnswerFix] = (),
        audio_codecs: Sequence[str] = ("opus", "PCMU", "PCMA"),
        inbox_size: int = 512,
        pli_interval: float = 0.5,
        scheme: str | None = "webrtc",
        url: str | None = None,
    ) -> None:
        require_aiortc(scheme=scheme, url=url)
        if inbox_size < 16:
            raise ConfigurationError("inbox_size must be at least 16", scheme=scheme, url=url)
        self.scheme = scheme
        self.url = url
        self._ice_servers = tuple(ice_servers)
        self._host_addresses = None if host_addresses is None else tuple(host_addresses)
        self._fixes = tuple(answer_fixes)
        self._audio_codecs = tuple(audio_codecs)
        self._pli_interval = pli_interval
        self._pc: Any = None
        self._state: Literal["new", "offered", "answered", "closed"] = "new"
        self._offer = ""
        self._pending_candidates: list[IceCandidate | None] = []
        self._remote_candidates = 0
        self._video_tap: ReceiverTap | None = None
        self._audio_tap: ReceiverTap | None = None
        self._video_receiver: VideoTap | None = None
        self._audio_receiver: AudioTap | None = None
        self._talk_track: Any = None
        self._transceivers: dict[str, Any] = {}
        self._readers: list[asyncio.Task[None]] = []
        self._inbox = PacketInbox(inbox_size, scheme=scheme, url=url)
        self._connected = asyncio.Event()
        # Set on every connection state change and at the end: wakes wait_connected.
        self._changed = asyncio.Event()
        self._pli_tasks: set[asyncio.Task[Any]] = set()
        #: The answer as accepted (after the fixes).
        self.answer: str | None = None
        #: The negotiated audio codec (what the peer sends and we send), if any.
        self.audio_codec: AudioCodec | None = None
        #: The data channel, when the offer asked for one (an aiortc ``RTCDataChannel``).
        self.data_channel: Any = None

    def __repr__(self) -> str:
        state = self._pc.connectionState if self._pc is not None else "new"
        return f"<WebRtcSession {self.url or ''} {self._state} connection={state}>"

    # -- errors ---------------------------------------------------------------------------------

    def _error(self, cls: type[CamError], message: str) -> CamError:
        return cls(message, scheme=self.scheme, url=self.url)

    # -- offer ----------------------------------------------------------------------------------

    async def create_offer(
        self,
        *,
        trickle: bool = False,
        data_channel: bool | str = False,
        audio: AudioDirection | None = "recvonly",
        video: Literal["recvonly"] | None = "recvonly",
    ) -> str:
        """Make the offer: media sections in the order audio, video, data channel.

        With ``trickle=False`` the SDP is complete (every candidate gathered,
        as Nest wants). With ``trickle=True`` it carries no candidates; read
        them from `local_candidates` and send them as the vendor expects.
        ``data_channel`` adds a data channel (``True`` or its label).
        """
        if self._state != "new":
            raise self._error(ConfigurationError, f"an offer was already made ({self._state})")
        if audio is not None and audio not in _AUDIO_DIRECTIONS:
            raise self._error(ConfigurationError, f"audio must be one of {_AUDIO_DIRECTIONS}")
        if video not in (None, "recvonly"):
            raise self._error(ConfigurationError, "video can only be received ('recvonly')")
        if audio is None and video is None:
            raise self._error(ConfigurationError, "an offer needs audio or video")
        from aiortc import (
            RTCConfiguration,
            RTCIceServer,
            RTCPeerConnection,
            RTCRtpReceiver,
            RTCRtpSender,
        )

        from ._aiortc import PacketTrack, gathering_on, tap_receiver

        servers = [RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
                   for s in self._ice_servers]
        # An explicit (possibly empty) list: aiortc would otherwise add a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self._pc = pc
        self._state = "offered"
        pc.on("connectionstatechange", self._on_connection_state)
        try:
            if audio is not None:
                if audio in ("sendrecv", "sendonly"):
                    self._talk_track = PacketTrack("audio")
                    transceiver = pc.addTransceiver(self._talk_track, direction=audio)
                else:
                    transceiver = pc.addTransceiver("audio", direction=audio)
                wanted = [f"audio/{name.lower()}" for name in self._audio_codecs]
                caps = RTCRtpSender.getCapabilities("audio").codecs
                prefs = [c for name in wanted for c in caps if c.mimeType.lower() == name]
                if not prefs:
                    raise self._error(ConfigurationError, "none of audio_codecs is supported")
                transceiver.setCodecPreferences(prefs)
                self._transceivers["audio"] = transceiver
                if audio != "sendonly":
                    self._audio_tap = tap_receiver(transceiver.receiver)
            if video is not None:
                transceiver = pc.addTransceiver("video", direction="recvonly")
                video_caps = RTCRtpReceiver.getCapabilities("video")
                caps = video_caps.codecs if video_caps is not None else []
                # H.264 only: the tap passes H.264 through; VP8 would need decoding.
                transceiver.setCodecPreferences(
                    [c for c in caps if c.mimeType.lower() in ("video/h264", "video/rtx")]
                )
                self._transceivers["video"] = transceiver
                self._video_tap = tap_receiver(transceiver.receiver)
            if data_channel:
                label = data_channel if isinstance(data_channel, str) else "dataSendChannel"
                self.data_channel = pc.createDataChannel(label)
            offer = await pc.createOffer()
            with gathering_on(self._host_addresses):
                await pc.setLocalDescription(offer)
        except CamError:
            raise
        except Exception as exc:
            raise self._error(StreamOpenError, f"could not make a WebRTC offer: {exc}") from exc
        sdp = pc.localDescription.sdp
        if "a=candidate:" not in sdp:
            raise self._error(
                StreamOpenError, "no ICE candidate could be gathered (check host_addresses)"
            )
        self._offer = sdp
        return without_candidates(sdp) if trickle else sdp

    async def local_candidates(self) -> AsyncIterator[IceCandidate]:
        """Our ICE candidates, for a trickle exchange; ends after the last one.

        aiortc gathers every candidate while the offer is made, so they are
        all known at once; the iterator still lets a driver send them the
        way its vendor expects, one message per candidate.
        """
        if not self._offer:
            raise self._error(ConfigurationError, "make the offer first")
        sdp = Sdp.parse(self._offer)
        for index, section in enumerate(sdp.media):
            mid = Sdp.mid(section)
            for line in section:
                if line.startswith("a=candidate:"):
                    yield IceCandidate(line[2:], mid, index)

    # -- answer ---------------------------------------------------------------------------------

    async def accept_answer(self, sdp: str) -> None:
        """Apply the vendor fixes to ``sdp`` and set it as the remote answer.

        Raises `CameraProtocolError` when the answer is malformed or refused.
        Media starts flowing once ICE and DTLS connect (`wait_connected`).
        """
        if self._state == "closed":
            raise self._error(CameraClosedError, "the WebRTC session is closed")
        if self._state != "offered":
            raise self._error(ConfigurationError, f"no offer waits for an answer ({self._state})")
        from aiortc import RTCSessionDescription

        try:
            Sdp.parse(sdp)
            for fix in self._fixes:
                sdp = fix(sdp, self._offer)
        except ValueError as exc:
            raise self._error(CameraProtocolError, f"unusable SDP answer: {exc}") from exc
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            # aiortc's parser asserts and raises ValueError/KeyError on what it dislikes.
            raise self._error(
                CameraProtocolError,
                f"the peer's SDP answer was refused: {type(exc).__name__}: {exc}",
            ) from exc
        self._state = "answered"
        self.answer = sdp
        self.audio_codec = first_audio_codec(sdp) if "audio" in self._transceivers else None
        self._start_readers(sdp)
        pending, self._pending_candidates = self._pending_candidates, []
        for candidate in pending:
            await self._add_candidate(candidate)

    async def add_remote_candidate(
        self, candidate: str | None, *, sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
    ) -> None:
        """Add a candidate the peer trickled (``candidate:...``); ``None`` ends the list.

        Candidates that arrive before the answer are kept until it is accepted.
        """
        if self._state == "closed":
            raise self._error(CameraClosedError, "the WebRTC session is closed")
        item = None
        if candidate is not None and candidate.strip():
            text = candidate.strip()
            text = text[2:] if text.startswith("a=") else text
            item = IceCandidate(text, sdp_mid, sdp_mline_index)
        self._remote_candidates += 1
        if self._remote_candidates > _MAX_REMOTE_CANDIDATES:
            raise self._error(CameraProtocolError, "the peer sent too many ICE candidates")
        if self._state != "answered":
            self._pending_candidates.append(item)
            return
        await self._add_candidate(item)

    async def _add_candidate(self, item: IceCandidate | None) -> None:
        from aiortc.sdp import candidate_from_sdp

        if item is None:
            with contextlib.suppress(ValueError):  # a second end-of-candidates
                await self._pc.addIceCandidate(None)
            return
        text = item.candidate
        text = text[len("candidate:"):] if text.startswith("candidate:") else text
        try:
            parsed = candidate_from_sdp(text)
        except (AssertionError, ValueError, IndexError) as exc:
            raise self._error(CameraProtocolError, f"malformed ICE candidate: {exc}") from exc
        parsed.sdpMid = item.sdp_mid
        parsed.sdpMLineIndex = (
            item.sdp_mline_index if item.sdp_mline_index is not None or item.sdp_mid else 0
        )
        try:
            await self._pc.addIceCandidate(parsed)
        except ValueError as exc:  # after end-of-candidates
            log.debug("ICE candidate ignored: %s", exc)

    # -- connection -----------------------------------------------------------------------------

    @property
    def connection_state(self) -> str:
        """aiortc's connection state (``new``, ``connecting``, ``connected``, ``failed`` ...)."""
        return "new" if self._pc is None else str(self._pc.connectionState)

    def _on_connection_state(self) -> None:
        state = self._pc.connectionState if self._pc is not None else "closed"
        log.debug("WebRTC %s: connection %s", self.url or "", state)
        self._changed.set()
        if state == "connected":
            self._connected.set()
        elif state == "failed":
            self._finish(self._error(CameraUnreachableError, "the WebRTC connection failed"))
        elif state == "closed" and self._state != "closed":
            self._finish(self._error(CameraUnreachableError, "the peer closed the connection"))

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until ICE and DTLS are connected; typed errors on failure or deadline."""
        try:
            async with asyncio.timeout(timeout):
                while not self._connected.is_set():
                    self._inbox.raise_if_ended()
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise self._error(
                CameraTimeoutError, f"no WebRTC connection within {timeout:g} s"
            ) from None

    def raise_if_ended(self) -> None:
        """Raise why the connection ended (failed, closed by the peer), if it did."""
        self._inbox.raise_if_ended()

    def _finish(self, err: CamError) -> None:
        self._inbox.finish(err)
        self._changed.set()

    # -- receiving ------------------------------------------------------------------------------

    def _start_readers(self, answer: str) -> None:
        video = self._transceivers.get("video")
        tap = self._video_tap
        if video is not None and tap is not None and video.receiver.track is not None:
            self._video_receiver = VideoTap(tap.wallclock)
            self._video_receiver.seed(sprop_parameter_sets(answer))
            self._readers.append(asyncio.create_task(
                self._read(video.receiver.track, self._video_receiver),
                name="camsdk-webrtc-video",
            ))
        audio = self._transceivers.get("audio")
        atap = self._audio_tap
        codec = self.audio_codec
        if audio is not None and atap is not None and codec is not None and (
            audio.receiver.track is not None
        ):
            self._audio_receiver = AudioTap(codec.ffmpeg_name, codec.clock_rate, atap.wallclock)
            self._readers.append(asyncio.create_task(
                self._read(audio.receiver.track, self._audio_receiver),
                name="camsdk-webrtc-audio",
            ))

    async def _read(self, track: Any, tap: VideoTap | AudioTap) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                self._finish(self._error(StreamEndedError, "the peer ended the stream"))
                return
            data = getattr(frame, "data", None)
            timestamp = getattr(frame, "timestamp", None)
            if not isinstance(data, bytes) or not isinstance(timestamp, int):
                continue  # not a pass-through frame (cannot happen unless aiortc changed)
            packet = tap.process(data, timestamp)
            if packet is not None:
                self._inbox.put(packet)

    def _request_keyframe_soon(self) -> None:
        task = asyncio.create_task(self.request_keyframe(), name="camsdk-webrtc-pli")
        self._pli_tasks.add(task)
        task.add_done_callback(self._pli_tasks.discard)

    async def next_packet(self, stall_timeout: float | None = None) -> MediaPacket:
        """The next received packet, in arrival order.

        Raises the reason the stream ended (`StreamEndedError`,
        `CameraUnreachableError`, `CameraClosedError`) once the inbox is
        empty, and `StreamStalledError` after ``stall_timeout`` s without one.
        """
        if self._inbox.needs_keyframe:
            self._inbox.needs_keyframe = False
            self._request_keyframe_soon()
        return await self._inbox.get(stall_timeout)

    @property
    def dropped(self) -> int:
        """Packets dropped because nobody read them fast enough."""
        return self._inbox.dropped

    @property
    def video(self) -> VideoTap | None:
        """The video tap (parameter sets, counters), once the answer was accepted."""
        return self._video_receiver

    @property
    def audio(self) -> AudioTap | None:
        """The audio tap, once the answer was accepted with audio to receive."""
        return self._audio_receiver

    @property
    def plis(self) -> int:
        """Keyframe requests (RTCP PLI) camsdk sent on this session."""
        return self._video_tap.plis if self._video_tap is not None else 0

    async def request_keyframe(self) -> bool:
        """Ask the peer for a keyframe (RTCP PLI); False if none was sent.

        Requests closer together than ``pli_interval`` are merged into one,
        so many consumers joining at once cost the camera one keyframe.
        """
        tap = self._video_tap
        if tap is None or self._state != "answered" or not self._connected.is_set():
            return False
        try:
            return await tap.send_pli(self._pli_interval)
        except ConnectionError:
            return False

    # -- sending --------------------------------------------------------------------------------

    @property
    def talk_track(self) -> Any:
        """The outgoing audio track (``audio="sendrecv"`` or ``"sendonly"``), else ``None``."""
        return self._talk_track

    # -- closing --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called."""
        return self._state == "closed"

    async def aclose(self) -> None:
        """Close the peer connection, its sockets and tasks. Idempotent."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._finish(self._error(CameraClosedError, "the WebRTC session was closed"))
        tasks = [*self._readers, *self._pli_tasks]
        for task in tasks:
            task.cancel()
        if self._talk_track is not None:
            self._talk_track.stop()
        pc, self._pc = self._pc, None
        if pc is not None:
            from ._aiortc import close_peer_connection

            try:
                await close_peer_connection(pc, _CLOSE_WAIT)
            except Exception as exc:  # a failed close must not hide the caller's own error
                log.debug("closing the peer connection failed: %s", exc)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._readers.clear()
        self._inbox.clear()
