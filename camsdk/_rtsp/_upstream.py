"""`RtspUpstream`: camsdk's RTSP client as a packet source, and `describe`.

``start()`` runs OPTIONS, DESCRIBE, SETUP per track and PLAY (following only
allowed redirects, answering auth challenges); iteration yields
`MediaPacket`s; ``aclose()`` sends TEARDOWN (best effort, ~0.5 s) and closes
everything. There is no task and no thread per stream: packets are framed
and depacketised in the protocol's ``data_received`` callback and queued for
the iterator; keepalives and receiver reports run on loop timers.

The queue is bounded (``settings.max_queue``). Over TCP a full queue pauses
reading (the camera's send buffer fills, nothing is lost here); over UDP the
queue is dropped and the video waits for the next keyframe (counted in
`RtspUpstream.gaps`).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from typing import Literal, Self

from camsdk._errors import (
    CameraClosedError,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    StreamEndedError,
    StreamOpenError,
    UnsupportedCapabilityError,
)
from camsdk._log import get_logger
from camsdk._media import MediaPacket, StreamInfo
from camsdk._url import redact_url

from .._lifecycle import AsyncResource
from ._info import VIDEO_CODECS, decoded_size, stream_info, video_parameters
from ._message import parse_transport
from ._rtp import receiver_report
from ._sdp import MediaDescription, SessionDescription
from ._session import Redirected, RtspSession
from ._settings import RtspSettings
from ._tracks import AudioCodec, Track, audio_codec_of
from ._udp import UdpPair, open_udp_pair

__all__ = ["RtspUpstream", "describe"]

log = get_logger("camsdk.rtsp")
_State = Literal["new", "starting", "playing", "closed"]


class _UdpFailed(Exception):
    """UDP does not work with this camera (461, or no datagram arrived)."""


async def describe(settings: RtspSettings) -> SessionDescription:
    """OPTIONS and DESCRIBE ``settings.url`` (following only allowed redirects).

    ``base_url`` of the result is the URL finally described. No session is
    set up; the connection is closed before returning.
    """
    session = RtspSession(settings)
    try:
        return await session.describe()
    except CamError as exc:
        raise session.annotate(exc) from exc.__cause__
    finally:
        session.abort()


class RtspUpstream(AsyncResource):
    """A live RTSP stream read by camsdk's own client (see the module docstring).

    Loss handling: a lost RTP packet drops the access unit it belonged to and
    every video unit up to the next keyframe; `gaps` counts these events, so
    a consumer that sees ``gaps`` grow knows the next video packet is a
    keyframe after a hole. Video starts at the first keyframe. ``pts`` count
    from each track's first delivered packet (``dts == pts``: cameras send no
    B-frames; DTS are kept strictly increasing); ``wallclock`` is set once the
    track's first RTCP sender report arrived.
    """

    live = True
    finite = False

    def __init__(self, settings: RtspSettings, *, _media: Literal["av", "metadata"] = "av"
                 ) -> None:
        """No I/O; `start` connects."""
        self.settings = settings
        self._media = _media
        self._state: _State = "new"
        self._session: RtspSession | None = None
        self._tracks: list[Track] = []
        self._udp: list[UdpPair] = []
        self._queue: deque[MediaPacket] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._keyframe: asyncio.Future[MediaPacket] | None = None
        self._error: CamError | None = None
        self._paused = False
        self._info: StreamInfo | None = None
        self._description: SessionDescription | None = None
        self._reports: asyncio.TimerHandle | None = None
        self._ssrc = secrets.randbits(32)
        self._transport: str | None = None
        #: Losses after which video waits for a keyframe (see the class docstring).
        self.gaps = 0
        #: Packets dropped because the reader fell behind (UDP only).
        self.overflows = 0

    # -- properties --------------------------------------------------------------------

    @property
    def info(self) -> StreamInfo:
        """Codec parameters; valid once `start` returned."""
        if self._info is None:
            raise RuntimeError("RtspUpstream.info is known once start() returned")
        return self._info

    @property
    def description(self) -> SessionDescription:
        """The camera's SDP, parsed; valid once `start` returned."""
        if self._description is None:
            raise RuntimeError("RtspUpstream.description is known once start() returned")
        return self._description

    @property
    def transport(self) -> str | None:
        """``tcp``, ``udp`` or ``http`` once playing (``auto`` resolves to one of them)."""
        return self._transport

    @property
    def tracks(self) -> tuple[Track, ...]:
        """The tracks set up (video first), for diagnostics."""
        return tuple(self._tracks)

    def __repr__(self) -> str:
        return f"<RtspUpstream {self.settings.url} {self._state} transport={self._transport}>"

    # -- lifecycle ---------------------------------------------------------------------

    async def _on_enter(self) -> None:
        await self.start()

    async def start(self) -> StreamInfo:
        """Connect, DESCRIBE, SETUP and PLAY; return what the stream carries."""
        await self._open()
        assert self._info is not None
        return self._info

    async def _open(self) -> None:
        if self._state != "new":
            if self._state == "closed":
                raise CameraClosedError("the RTSP upstream was closed")
            raise RuntimeError("RtspUpstream.start() may be called once")
        self._state = "starting"
        try:
            await self._connect_any()
        except CamError as exc:
            self._abort()
            if self._session is not None:
                self._session.annotate(exc)
            raise
        except BaseException:
            self._abort()
            raise
        if self._closed_meanwhile():
            self._abort()
            raise CameraClosedError("the RTSP upstream was closed")
        self._state = "playing"

    def _closed_meanwhile(self) -> bool:
        """Whether `aclose` ran in another task while this one was starting."""
        return self._state == "closed"

    async def _connect_any(self) -> None:
        mode = self.settings.transport
        if mode == "auto":
            try:
                await self._attempt("udp", probe=True)
                return
            except _UdpFailed as why:
                log.info("UDP does not work with %s (%s); using TCP", self.settings.url, why)
                await self._reset()
            mode = "tcp"
        await self._attempt(mode)

    async def _reset(self) -> None:
        self._stop_reports()
        session, self._session = self._session, None
        if session is not None:
            await session.close(linger=0.5)
        self._close_udp()
        self._tracks = []
        self._queue.clear()
        if self._state == "closed":
            raise CameraClosedError("the RTSP upstream was closed")

    async def _attempt(self, mode: str, *, probe: bool = False) -> None:
        session = RtspSession(self.settings)
        self._session = session
        session.on_closed = self._on_closed
        for _ in range(self.settings.max_redirects + 1):
            desc = await session.describe()
            try:
                await self._setup_tracks(session, desc, mode)
                await session.play()
                break
            except Redirected as redirect:
                self._close_udp()
                self._tracks = []
                session.follow(redirect.url)
        else:  # pragma: no cover - the redirect policy refuses first
            raise CameraProtocolError("too many redirects")
        self._description = desc
        self._transport = "http" if self.settings.transport == "http" else mode
        session.start_keepalive()
        self._start_reports()
        if probe:
            await self._probe_udp(session)
        if self._media == "av":
            self._info = await self._make_info(desc)

    async def _probe_udp(self, session: RtspSession) -> None:
        firsts = {pair.first_datagram for pair in self._udp}
        waits: set[asyncio.Future[None]] = {*firsts, session.closing}
        await asyncio.wait(waits, timeout=self.settings.udp_timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        if session.closed:
            raise CameraClosedError("the RTSP upstream was closed")
        if not any(f.done() for f in firsts):
            raise _UdpFailed(f"no UDP packet within {self.settings.udp_timeout:g} s")

    # -- SETUP -------------------------------------------------------------------------

    def _choose(self, desc: SessionDescription) -> list[tuple[MediaDescription, str]]:
        if self._media == "metadata":
            metadata = desc.metadata
            if metadata is None:
                raise UnsupportedCapabilityError("the camera offers no ONVIF metadata track")
            return [(metadata, "metadata")]
        video = desc.video
        if video is None or video.encoding not in VIDEO_CODECS:
            what = f"({video.encoding})" if video is not None else ""
            raise StreamOpenError(f"no video track camsdk can read {what}".strip())
        chosen = [(video, "video")]
        audio = desc.audio
        if self.settings.audio and audio is not None and audio_codec_of(audio) is not None:
            chosen.append((audio, "audio"))
        return chosen

    async def _setup_tracks(self, session: RtspSession, desc: SessionDescription,
                            mode: str) -> None:
        for index, (media, kind) in enumerate(self._choose(desc)):
            track = Track(media, kind, self._put, on_gap=self._on_gap, on_bye=self._on_bye,
                          fps=media.framerate)
            conn = session.connection
            assert conn is not None
            if mode == "udp":
                pair = await open_udp_pair(conn.local_host, conn.peer_host)
                self._udp.append(pair)
                response = await session.setup(
                    media.control_url, f"RTP/AVP;unicast;client_port={pair.port}-{pair.port + 1}")
                if response.status == 461 and self.settings.transport == "auto":
                    raise _UdpFailed("the camera refused RTP over UDP (461)")
                session.check(response, "SETUP")
                spec = parse_transport(response.header("transport") or "")
                if spec.protocol.endswith("/TCP"):
                    raise StreamOpenError("the camera answered a UDP SETUP with TCP")
                if spec.server_port is not None:
                    pair.server_rtcp = (conn.peer_host, spec.server_port[1])
                pair.attach(track.on_rtp, track.on_rtcp, window=self.settings.reorder_window,
                            delay=self.settings.reorder_delay, on_lost=_ignore_loss)
                track.udp = pair
            else:
                rtp, rtcp = 2 * index, 2 * index + 1
                response = await session.setup(
                    media.control_url, f"RTP/AVP/TCP;unicast;interleaved={rtp}-{rtcp}")
                session.check(response, "SETUP")
                spec = parse_transport(response.header("transport") or "")
                if spec.interleaved is not None:
                    rtp, rtcp = spec.interleaved
                elif spec.protocol and not spec.protocol.endswith("/TCP"):
                    raise StreamOpenError("the camera answered a TCP SETUP with UDP")
                conn.protocol.channels[rtp] = track.on_rtp
                conn.protocol.channels[rtcp] = track.on_rtcp
                track.rtp_channel, track.rtcp_channel = rtp, rtcp
            self._tracks.append(track)

    # -- StreamInfo --------------------------------------------------------------------

    async def _make_info(self, desc: SessionDescription) -> StreamInfo:
        video = self._tracks[0]
        media = video.media
        audio: tuple[MediaDescription, AudioCodec] | None = None
        for track in self._tracks[1:]:
            codec = audio_codec_of(track.media)
            if track.kind == "audio" and codec is not None:
                audio = (track.media, codec)
        depacketizer = video.depacketizer
        sets = getattr(getattr(depacketizer, "au", None), "parameter_sets", {})
        sps, extradata = video_parameters(media.encoding, sets)
        size: tuple[int, int] | None = None
        if sps is None:
            keyframe = await self._first_keyframe()
            sps, extradata = video_parameters(media.encoding, sets)
            if sps is None:
                size = getattr(depacketizer, "size", None) or decoded_size(
                    VIDEO_CODECS[media.encoding], extradata, keyframe.data)
        info = stream_info(media, sps, size, extradata, audio)
        if info.fps and not video.fps_ticks:
            video.fps_ticks = round(video.clock_rate / info.fps)  # durations from the SPS rate
        return info

    async def _first_keyframe(self) -> MediaPacket:
        for pkt in self._queue:
            if pkt.kind == "video" and pkt.keyframe:
                return pkt
        self._keyframe = asyncio.get_running_loop().create_future()
        limit = self.settings.request_timeout
        try:
            async with asyncio.timeout(limit):
                return await self._keyframe
        except TimeoutError:
            raise CameraTimeoutError(
                f"the SDP has no parameter sets and no keyframe came within {limit:g} s"
            ) from None
        finally:
            self._keyframe = None

    # -- packets -----------------------------------------------------------------------

    def _put(self, pkt: MediaPacket) -> None:
        if self._error is not None:
            return
        queue = self._queue
        queue.append(pkt)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if self._keyframe is not None and pkt.keyframe and pkt.kind == "video" and (
                not self._keyframe.done()):
            self._keyframe.set_result(pkt)
        if len(queue) >= self.settings.max_queue:
            self._overflow()

    def _overflow(self) -> None:
        if self._udp:
            # Datagrams cannot wait: drop what is queued and restart at a keyframe.
            self.overflows += len(self._queue)
            self._queue.clear()
            for track in self._tracks:
                if track.kind == "video" and not track.waiting_keyframe:
                    track.waiting_keyframe = True
                    self._on_gap()
            return
        if not self._paused and self._session is not None and self._session.connection:
            self._paused = True
            self._session.connection.pause_reading()

    def _on_gap(self) -> None:
        self.gaps += 1

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self, err: CamError) -> None:
        if self._error is None:
            if self._session is not None:
                self._session.annotate(err)
            self._error = err
        self._stop_reports()
        self._wake()

    def _on_closed(self, exc: BaseException | None) -> None:
        if self._state == "closed":
            return
        if isinstance(exc, CamError):
            err: CamError = exc
        elif exc is None:
            err = StreamEndedError("the camera closed the RTSP connection")
        else:
            err = CameraUnreachableError(f"the RTSP connection broke: {exc}")
            err.__cause__ = exc
        self._end(err)

    def _on_bye(self) -> None:
        self._end(StreamEndedError("the camera ended the stream (RTCP BYE)"))

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> MediaPacket:
        queue = self._queue
        while True:
            if queue:
                pkt = queue.popleft()
                if self._paused and len(queue) <= self.settings.max_queue // 4:
                    self._paused = False
                    session = self._session
                    if session is not None and session.connection is not None:
                        session.connection.resume_reading()
                return pkt
            if self._error is not None:
                raise self._error
            if self._state == "closed":
                raise CameraClosedError("the RTSP upstream was closed", scheme=self.settings.scheme,
                                        url=redact_url(self.settings.url))
            if self._state != "playing":
                raise RuntimeError("iterate an RtspUpstream after start()")
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None

    # -- receiver reports ----------------------------------------------------------------

    def _start_reports(self) -> None:
        self._stop_reports()
        loop = asyncio.get_running_loop()
        interval = self.settings.report_interval

        def tick() -> None:
            self._send_reports()
            self._reports = loop.call_later(interval, tick)

        for pair in self._udp:
            # An empty report at once opens NAT/firewall state towards our RTCP port.
            pair.send_rtcp(receiver_report(self._ssrc, []))
        self._reports = loop.call_later(interval, tick)

    def _send_reports(self) -> None:
        session = self._session
        conn = session.connection if session is not None else None
        for track in self._tracks:
            block = track.report_block()
            if block is None:
                continue
            report = receiver_report(self._ssrc, [block])
            if track.udp is not None:
                track.udp.send_rtcp(report)
            elif conn is not None and track.rtcp_channel is not None:
                conn.write(b"$" + bytes((track.rtcp_channel,)) + len(report).to_bytes(2, "big")
                           + report)

    def _stop_reports(self) -> None:
        if self._reports is not None:
            self._reports.cancel()
            self._reports = None

    # -- closing -----------------------------------------------------------------------

    def _close_udp(self) -> None:
        pairs, self._udp = self._udp, []
        for pair in pairs:
            pair.close()

    def _abort(self) -> None:
        self._stop_reports()
        if self._session is not None:
            self._session.abort()
        self._close_udp()

    async def aclose(self) -> None:
        """TEARDOWN (best effort, about half a second at most) and close. Idempotent;
        safe while `start` or iteration runs in another task."""
        if self._state == "closed":
            return
        starting = self._state == "starting"
        self._state = "closed"
        self._stop_reports()
        self._wake()
        if self._keyframe is not None and not self._keyframe.done():
            self._keyframe.set_exception(CameraClosedError("the RTSP upstream was closed"))
            self._keyframe.exception()
        session = self._session
        try:
            if session is not None and not starting:
                with contextlib.suppress(CamError, OSError):
                    await session.close(linger=0.5)
        finally:
            self._abort()


def _ignore_loss(count: int) -> None:
    """The track sees the sequence gap itself; nothing to do here."""
