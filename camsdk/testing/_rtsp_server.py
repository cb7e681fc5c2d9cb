"""A small asyncio RTSP server that serves a looped, pre-encoded stream.

For camsdk's own tests and for integrators' tests: start one on a free local
port, point a client at `RtspServer.url`, and inject faults while it runs::

    source = generate_source(codec="h264", audio=True)
    async with RtspServer(source, username="admin", password="secret") as srv:
        ...  # open srv.url with credentials
        srv.inject(RtspFault.STALL)  # media stops, the TCP connection stays up
        srv.clear_faults()

What it speaks (RFC 2326): OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE,
GET_PARAMETER, SET_PARAMETER, TEARDOWN; RTP over TCP interleaved channels, and
over UDP when built with ``udp=True``; Digest (RFC 2617, MD5, with or without
``qop=auth``) and Basic authentication. Media is H.264 (RFC 6184) or H.265
(RFC 7798) video plus optional AAC audio (RFC 3640), with RTCP sender reports
every two seconds so receivers can map RTP time to wallclock.

Clock model: every PLAY session runs its own clock-paced loop over the
source, starting on its first (key)frame. Clients therefore get a picture at
once and never disturb each other, which keeps tests deterministic; the price
is that two clients do not see the same frame at the same instant, which no
test here needs. Send times come from the packets' decode timestamps, and each
sleep is computed from the session's start time, so pacing never drifts. RTP
timestamps start at a random value per track and keep increasing across loop
seams, pauses and stalls (they follow the wall clock, like a camera's).

Beyond the basics it imitates camera quirks (`RtspQuirks`: control URL
styles, missing Content-Base, Digest SHA-256 / MD5-sess, stale nonces, 401 on
PLAY only, RTP sequence and timestamp wrap), redirects (`RtspServer.redirect`),
an ONVIF audio backchannel (``backchannel=``; what arrives is recorded in
`RtspServer.received_audio`), an ONVIF metadata track (``metadata=True``,
`RtspServer.send_metadata`), RTCP BYE (`RtspServer.send_bye`), RTSPS
(``tls=``), and a ``speed`` factor that sends media faster than real time
(RTP timestamps unchanged) so long stretches of media take short tests.

Faults (`RtspFault`) can be set before `RtspServer.start` or at any time
after, and cleared with `RtspServer.clear_faults`. The server must be used
from the event loop it runs on.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import math
import random
import re
import secrets
import ssl
import struct
import time
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from fractions import Fraction
from types import TracebackType
from typing import Any, Literal, Self

from camsdk._log import get_logger
from camsdk._rtsp._packetize import (
    MediaTimeline,
    MediaUnit,
    RtpTrack,
    interleaved_frame,
    rtcp_sender_report,
    rtp_packet,
)
from camsdk._rtsp._server_wire import BODY_LIMIT as _BODY_LIMIT
from camsdk._rtsp._server_wire import BROKEN_SDP as _BROKEN_SDP
from camsdk._rtsp._server_wire import DIGITS as _DIGITS
from camsdk._rtsp._server_wire import HEADER_LIMIT as _HEADER_LIMIT
from camsdk._rtsp._server_wire import BadRequest as _BadRequest
from camsdk._rtsp._server_wire import Request as _Request
from camsdk._rtsp._server_wire import Response as _Response
from camsdk._rtsp._server_wire import parse_head as _parse_head
from camsdk._rtsp._server_wire import port_pair as _port_pair
from camsdk._rtsp._server_wire import render as _render
from camsdk.testing._rtsp_auth import RtspQuirks, ServerAuth
from camsdk.testing._rtsp_source import EncodedLoop, MediaLoop, generate_source

__all__ = [
    "BACKCHANNEL_TAG",
    "EncodedLoop",
    "MediaLoop",
    "RecordedRequest",
    "RtspFault",
    "RtspQuirks",
    "RtspServer",
    "generate_source",
]

logger = get_logger(__name__)

_REPORT_INTERVAL = 2.0
_PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, SET_PARAMETER, TEARDOWN"
#: The ONVIF ``Require`` tag that asks for the audio backchannel.
BACKCHANNEL_TAG = "www.onvif.org/ver20/backchannel"
_SPROP = re.compile(r";?sprop-(?:parameter-sets|vps|sps|pps)=[^;\r\n]*")
_BACKCHANNEL_CODECS = {"pcm_mulaw": (0, "PCMU"), "pcm_alaw": (8, "PCMA")}

class RtspFault(enum.Enum):
    """Faults the server can simulate; see `RtspServer.inject`.

    Persistent faults stay until `RtspServer.clear_faults`; ``RESTART`` is a
    one-off action.
    """

    #: Close each new connection as soon as it is accepted.
    REFUSE = "refuse"
    #: Accept connections and read requests but never answer any.
    BLACK_HOLE = "black_hole"
    #: Stop sending media to every session; RTSP keeps answering and the TCP
    #: connection stays open. Media resumes on a keyframe when cleared.
    STALL = "stall"
    #: Close connections: at once (``drop_after=0``, the default), or once a
    #: session has sent ``drop_after`` media packets.
    DROP = "drop"
    #: Close the listener and every connection, then listen again on the same
    #: port after ``delay`` seconds.
    RESTART = "restart"
    #: Flip bytes in a ``fraction`` of RTP payloads (after the payload headers,
    #: so receivers still reassemble frames and the damage hits the decoder).
    CORRUPT = "corrupt"
    #: Answer DESCRIBE with a syntactically broken SDP body.
    BAD_SDP = "bad_sdp"
    #: Answer DESCRIBE with 401 whatever the credentials.
    UNAUTHORIZED = "unauthorized"
    #: Answer PLAY with 454 Session Not Found.
    SESSION_NOT_FOUND = "session_not_found"
    #: Answer DESCRIBE with 503 Service Unavailable.
    SERVICE_UNAVAILABLE = "service_unavailable"
    #: Do not send a ``fraction`` of RTP packets (sequence numbers still advance).
    LOSE = "lose"
    #: Swap neighbouring RTP packets in a ``fraction`` of access units.
    REORDER = "reorder"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server received it (header names in lower case)."""

    method: str
    uri: str
    headers: dict[str, str]


class _UdpSink(asyncio.DatagramProtocol):
    """Server end of a UDP RTP/RTCP pair; counts what clients send (RTCP RR,
    NAT-punching packets)."""

    def __init__(self, on_datagram: Any = None) -> None:
        self._on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self._on_datagram is not None:
            self._on_datagram(data)


@dataclass(slots=True, eq=False)
class _TrackSender:
    """Per-session RTP state of one track."""

    track: RtpTrack
    ssrc: int
    seq: int
    rtp_base: int
    transport: str
    rtp_channel: int | None = None
    rtcp_channel: int | None = None
    udp_rtp: asyncio.DatagramTransport | None = None
    udp_rtcp: asyncio.DatagramTransport | None = None
    rtp_addr: tuple[str, int] | None = None
    rtcp_addr: tuple[str, int] | None = None
    packets: int = 0
    octets: int = 0
    last_report: float = -math.inf

    def rtptime(self, media_time: Fraction) -> int:
        return (self.rtp_base + round(media_time * self.track.clock_rate)) & 0xFFFFFFFF

    def close(self) -> None:
        for transport in (self.udp_rtp, self.udp_rtcp):
            if transport is not None:
                transport.close()


@dataclass(slots=True, eq=False)
class _Session:
    id: str
    conn: _Connection
    senders: dict[int, _TrackSender] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    #: Media time (seconds) and loop time at which the current run started;
    #: later runs continue from the wall clock so RTP time never jumps back.
    run_media: Fraction = Fraction(0)
    run_wall: float = 0.0
    last_media: Fraction | None = None
    pending_start: Fraction | None = None
    #: Media packets sent since PLAY or since DROP was injected.
    sent_since_drop: int = 0
    #: Interleaved channel on which the client sends backchannel RTP, if set up.
    back_channel: int | None = None
    #: UNIX time of media time 0 (RTCP wall clock when the server runs fast).
    unix_origin: float = 0.0
    speed: float = 1.0

    @property
    def playing(self) -> bool:
        return self.task is not None and not self.task.done()

    def next_media_start(self, now: float) -> Fraction:
        if self.last_media is None:
            return Fraction(0)
        elapsed = Fraction(round((now - self.run_wall) * self.speed * 90000), 90000)
        return max(self.run_media + elapsed, self.last_media + Fraction(1, 90000))


class _Connection:
    """One client TCP connection and its write-side limits."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        max_buffer: int,
        write_timeout: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.transport = writer.transport
        self.max_buffer = max_buffer
        self.write_timeout = write_timeout
        self.sessions: dict[str, _Session] = {}
        self.task: asyncio.Task[None] | None = None
        self._abort_timer: asyncio.TimerHandle | None = None
        peer = writer.get_extra_info("peername")
        self.peer_host: str = peer[0] if isinstance(peer, tuple) else "127.0.0.1"

    @property
    def closing(self) -> bool:
        return self.transport.is_closing()

    def write(self, data: bytes) -> bool:
        """Queue ``data``; drop the client instead of buffering without bound."""
        if self.closing:
            return False
        self.writer.write(data)
        if self.transport.get_write_buffer_size() > self.max_buffer:
            logger.info("rtsp client %s cannot keep up; dropping it", self.peer_host)
            self.abort()
            return False
        return True

    async def drain(self) -> bool:
        """Wait for the buffer to fall below the high-water mark, within the timeout."""
        try:
            async with asyncio.timeout(self.write_timeout):
                await self.writer.drain()
        except (TimeoutError, ConnectionError):
            self.abort()
            return False
        return True

    def close(self) -> None:
        """Close after flushing; abort if the flush stalls (the peer stopped reading)."""
        if not self.closing:
            self.writer.close()
            loop = asyncio.get_running_loop()
            self._abort_timer = loop.call_later(self.write_timeout, self.abort)

    def abort(self) -> None:
        """Close at once, discarding anything unsent."""
        self.transport.abort()

    def cancel_timer(self) -> None:
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None


class RtspServer:
    """An RTSP server on a local port serving a `MediaLoop` forever.

    Use as an async context manager, or call `start` and `aclose`. The
    constructor does no I/O. A closed server cannot be started again.

    ``udp=True`` also offers RTP over UDP (``client_port``); otherwise SETUP
    requests for UDP get 461 and clients fall back to TCP interleaving. With
    ``username`` and ``password`` every request but OPTIONS needs Digest or
    Basic credentials. ``max_write_buffer`` bytes queued for a client, or a
    write blocked for ``write_timeout`` seconds, drops that client. ``seed``
    makes `RtspFault.CORRUPT` and RTP initial values reproducible.

    ``host`` should be an IP literal: with port 0 a name that resolves to
    several addresses would get several ports. A session ends with the RTSP
    connection that set it up, also for UDP; the ``timeout`` advertised in
    the Session header only tells clients how often to send keepalives.

    ``quirks`` imitates real cameras (`RtspQuirks`). ``speed`` > 1 sends
    media that many times faster than real time. ``backchannel``
    (``"pcm_mulaw"`` or ``"pcm_alaw"``) offers an ONVIF audio backchannel to
    clients that ``Require`` it (without it such clients get 551, as from
    devices); ``metadata=True`` adds an ONVIF metadata track. ``tls`` serves
    RTSPS.

    ``path`` is the stream's path (the one `url` names). ``accept_path``
    serves the same stream on every path it accepts, for vendors whose paths
    carry parameters (``/Streaming/Channels/102``, ``/h264Preview_01_sub``,
    a camera alias): it is called with the request's path (no query; the
    query is in `request_log`) and tracks are addressed below the accepted
    path (``<path>/trackID=0``), which the DESCRIBE answer names as its
    Content-Base.
    """

    def __init__(
        self,
        source: MediaLoop,
        *,
        path: str = "/stream",
        username: str | None = None,
        password: str | None = None,
        realm: str = "camsdk",
        udp: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        session_timeout: int = 60,
        max_write_buffer: int = 2 * 1024 * 1024,
        write_timeout: float = 5.0,
        seed: int | None = None,
        quirks: RtspQuirks | None = None,
        speed: float = 1.0,
        backchannel: Literal["pcm_mulaw", "pcm_alaw"] | None = None,
        metadata: bool = False,
        tls: ssl.SSLContext | None = None,
        accept_path: Callable[[str], bool] | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if '"' in realm or "\\" in realm:
            raise ValueError("realm must not contain quotes or backslashes")
        if not 0 < speed <= 1000:
            raise ValueError("speed must be in (0, 1000]")
        if backchannel is not None and backchannel not in _BACKCHANNEL_CODECS:
            raise ValueError("backchannel must be 'pcm_mulaw', 'pcm_alaw' or None")
        audio = getattr(source, "audio", None)
        self._timeline = MediaTimeline.from_source(source.info, source.video, audio)
        self._quirks = quirks or RtspQuirks()
        self._speed = speed
        self._tls = tls
        extra = len(self._timeline.tracks)
        self._metadata_track: RtpTrack | None = None
        if metadata:
            self._metadata_track = RtpTrack(
                extra, "application", "onvif_metadata", 107, 90000,
                "m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n"
                "a=recvonly\r\n")
            extra += 1
        self._backchannel_track: RtpTrack | None = None
        if backchannel is not None:
            pt, name = _BACKCHANNEL_CODECS[backchannel]
            self._backchannel_track = RtpTrack(
                extra, "audio", backchannel, pt, 8000,
                f"m=audio 0 RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/8000\r\na=sendonly\r\n")
        self._auth = (ServerAuth(username, password, realm, self._quirks)
                      if username is not None and password is not None else None)
        self._redirects: dict[str, tuple[int, str]] = {}
        self._received_audio = bytearray()
        self._path = path
        self._base = path.rstrip("/")
        self._accept_path = accept_path
        self._username = username
        self._password = password
        self._realm = realm
        self._udp = udp
        self._host = host
        self._requested_port = port
        self._session_timeout = session_timeout
        self._max_write_buffer = max_write_buffer
        self._write_timeout = write_timeout
        self._rng = random.Random(seed)

        self._state: Literal["new", "running", "restarting", "closed"] = "new"
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._listening = asyncio.Event()
        self._session_change = asyncio.Event()

        self._faults: set[RtspFault] = set()
        self._unstalled = asyncio.Event()
        self._unstalled.set()
        self._drop_after: int | None = None
        self._corrupt_fraction = 0.0
        self._lose_fraction = 0.0
        self._reorder_fraction = 0.0
        self._redirect_methods: frozenset[str] = frozenset()

        #: Every parsed request as ``(method, path)``, in arrival order.
        self.requests: list[tuple[str, str]] = []
        #: Every parsed request with its headers, in arrival order.
        self.request_log: list[RecordedRequest] = []
        #: RTP packets received on the backchannel.
        self.received_audio_packets = 0
        #: RTCP packets (receiver reports) received from clients, over TCP or UDP.
        self.rtcp_received = 0

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Bind and start listening. Raises `RuntimeError` if already started or closed."""
        if self._state != "new":
            raise RuntimeError(f"cannot start an RtspServer that is {self._state}")
        self._state = "running"
        try:
            self._server = await self._listen(self._requested_port)
        except BaseException:
            self._state = "closed"
            raise
        self._listening.set()

    async def aclose(self) -> None:
        """Stop listening, drop every client and end every task the server made.

        Idempotent. Returns once every client socket is closed.
        """
        if self._state == "closed":
            return
        self._state = "closed"
        self._listening.set()  # wake wait_ready() so it can raise
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._close_connections()
        if server is not None:
            await server.wait_closed()
        self._unstalled.set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def restart(self, delay: float = 0.5) -> None:
        """Close the listener and all connections, wait ``delay`` seconds and
        listen again on the same port. Returns once listening again."""
        if self._state != "running" or self._server is None:
            raise RuntimeError(f"cannot restart an RtspServer that is {self._state}")
        self._state = "restarting"
        self._listening.clear()
        server = self._server
        server.close()
        await self._close_connections()
        await server.wait_closed()
        await asyncio.sleep(delay)
        if self._state != "restarting":  # closed meanwhile
            return
        try:
            new_server = await self._listen(self._port or 0)
        except BaseException:
            # Port taken meanwhile, or cancelled by aclose(): nothing is left
            # open, so the server is simply closed.
            self._state = "closed"
            self._listening.set()  # wake wait_ready() so it can raise
            raise
        if self._state != "restarting":
            new_server.close()
            await new_server.wait_closed()
            return
        self._server = new_server
        self._state = "running"
        self._listening.set()

    async def wait_ready(self) -> None:
        """Wait until the server is listening (after `start` or a restart).

        Raises `RuntimeError` if it is not started or gets closed meanwhile.
        """
        if self._state != "new":
            await self._listening.wait()
        if self._state not in ("running", "restarting"):
            raise RuntimeError(f"RtspServer is {self._state}")

    async def wait_sessions(self, count: int) -> None:
        """Wait until exactly ``count`` sessions are playing.

        Bound it with a timeout: it waits for as long as it takes.
        """
        while self.sessions != count:
            await self._session_change.wait()

    # -- properties --------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("RtspServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """``rtsp://host:port/path`` (``rtsps`` with TLS); never carries credentials."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "rtsps" if self._tls is not None else "rtsp"
        return f"{scheme}://{host}:{self.port}{self._path}"

    @property
    def received_audio(self) -> bytes:
        """Every backchannel RTP payload received, concatenated in arrival order."""
        return bytes(self._received_audio)

    @property
    def auth_counts(self) -> dict[str, int]:
        """Digest/Basic answers accepted, stale nonces answered, and refusals."""
        if self._auth is None:
            return {"accepted": 0, "stale": 0, "denied": 0}
        return {"accepted": self._auth.accepted, "stale": self._auth.stale,
                "denied": self._auth.denied}

    def redirect(self, path: str, location: str, *, status: int = 302,
                 methods: frozenset[str] = frozenset({"OPTIONS", "DESCRIBE"})) -> None:
        """Answer requests for ``path`` (methods in ``methods``) with ``status`` and
        ``Location: location``. ``path`` need not be the served one."""
        if not 300 <= status < 400:
            raise ValueError("a redirect status is 3xx")
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        self._redirects[path] = (status, location)
        self._redirect_methods = methods

    def send_metadata(self, document: bytes) -> int:
        """Send one metadata document to every playing session that set up the
        metadata track; returns how many got it. Needs ``metadata=True``."""
        track = self._metadata_track
        if track is None:
            raise RuntimeError("RtspServer(metadata=True) is needed for send_metadata")
        chunks = [document[i : i + 1400] for i in range(0, len(document), 1400)] or [b""]
        now = asyncio.get_running_loop().time()
        sent = 0
        for conn in list(self._connections):
            for session in conn.sessions.values():
                sender = session.senders.get(track.index)
                if sender is None or not session.playing:
                    continue
                timestamp = sender.rtptime(session.next_media_start(now))
                packets = []
                for i, chunk in enumerate(chunks):
                    packets.append(rtp_packet(track.payload_type, sender.seq, timestamp,
                                              sender.ssrc, i == len(chunks) - 1, chunk))
                    sender.seq = (sender.seq + 1) & 0xFFFF
                self._write_packets(conn, sender, [], packets)
                sent += 1
        return sent

    def send_bye(self) -> int:
        """Send an RTCP BYE for every track of every playing session (the camera ends
        the stream; connections stay open). Returns how many sessions got one."""
        count = 0
        for conn in list(self._connections):
            for session in conn.sessions.values():
                if not session.playing:
                    continue
                for sender in session.senders.values():
                    bye = struct.pack("!BBHI", 0x81, 203, 1, sender.ssrc)
                    self._write_packets(conn, sender, [bye], [])
                count += 1
        return count

    def _write_packets(self, conn: _Connection, sender: _TrackSender, rtcp: list[bytes],
                       rtp: list[bytes]) -> bool:
        if sender.transport == "udp":
            assert sender.udp_rtp is not None and sender.udp_rtcp is not None
            if self._quirks.udp_silent:
                return not conn.closing
            for packet in rtcp:
                sender.udp_rtcp.sendto(packet, sender.rtcp_addr)
            for packet in rtp:
                sender.udp_rtp.sendto(packet, sender.rtp_addr)
            return not conn.closing
        assert sender.rtp_channel is not None and sender.rtcp_channel is not None
        frames = [interleaved_frame(sender.rtcp_channel, p) for p in rtcp]
        frames += [interleaved_frame(sender.rtp_channel, p) for p in rtp]
        return conn.write(b"".join(frames))

    @property
    def sessions(self) -> int:
        """Number of sessions currently playing."""
        return sum(s.playing for c in self._connections for s in c.sessions.values())

    @property
    def faults(self) -> frozenset[RtspFault]:
        """The persistent faults now active."""
        return frozenset(self._faults)

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "unbound"
        auth = "auth" if self._username is not None else "no auth"
        return f"<RtspServer {where} {self._state}, {auth}, sessions={self.sessions}>"

    # -- faults ------------------------------------------------------------

    def inject(
        self,
        fault: RtspFault,
        *,
        drop_after: int | None = None,
        fraction: float | None = None,
        delay: float | None = None,
    ) -> None:
        """Turn a fault on now, for live sessions and new ones.

        ``drop_after`` goes with `RtspFault.DROP`: each session is closed once
        it has sent that many media packets (video access units and audio
        frames), counted from its PLAY or from this call. With 0, the default,
        every connection is closed now and every later PLAY is closed before
        its first packet.

        ``fraction`` goes with `RtspFault.CORRUPT`, `RtspFault.LOSE` and
        `RtspFault.REORDER` (default 0.1), ``delay`` with `RtspFault.RESTART`
        (default 0.5 s; needs a running server).
        """
        fractional = (RtspFault.CORRUPT, RtspFault.LOSE, RtspFault.REORDER)
        if drop_after is not None and fault is not RtspFault.DROP:
            raise ValueError("drop_after only applies to RtspFault.DROP")
        if fraction is not None and fault not in fractional:
            raise ValueError("fraction only applies to RtspFault.CORRUPT, LOSE and REORDER")
        if delay is not None and fault is not RtspFault.RESTART:
            raise ValueError("delay only applies to RtspFault.RESTART")
        if drop_after is not None and drop_after < 0:
            raise ValueError("drop_after must be >= 0")
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0")

        if fault is RtspFault.RESTART:
            if self._state != "running":
                raise RuntimeError("RtspFault.RESTART needs a running server")
            self._spawn(self.restart(0.5 if delay is None else delay))
            return
        self._faults.add(fault)
        if fault is RtspFault.STALL:
            self._unstalled.clear()
        elif fault is RtspFault.CORRUPT:
            self._corrupt_fraction = 0.1 if fraction is None else fraction
        elif fault is RtspFault.LOSE:
            self._lose_fraction = 0.1 if fraction is None else fraction
        elif fault is RtspFault.REORDER:
            self._reorder_fraction = 0.1 if fraction is None else fraction
        elif fault is RtspFault.DROP:
            self._drop_after = drop_after or 0
            for conn in list(self._connections):
                for session in conn.sessions.values():
                    session.sent_since_drop = 0
                if self._drop_after == 0:
                    conn.abort()

    def clear_faults(self, *faults: RtspFault) -> None:
        """Turn off the given faults, or all of them when none are given."""
        for fault in faults or tuple(self._faults):
            self._faults.discard(fault)
            if fault is RtspFault.STALL:
                self._unstalled.set()
            elif fault is RtspFault.DROP:
                self._drop_after = None
            elif fault is RtspFault.CORRUPT:
                self._corrupt_fraction = 0.0
            elif fault is RtspFault.LOSE:
                self._lose_fraction = 0.0
            elif fault is RtspFault.REORDER:
                self._reorder_fraction = 0.0

    # -- connections ---------------------------------------------------------

    async def _listen(self, port: int) -> asyncio.Server:
        server = await asyncio.start_server(
            self._on_connect, self._host, port, limit=_HEADER_LIMIT, ssl=self._tls
        )
        self._port = server.sockets[0].getsockname()[1]
        return server

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("RtspServer task failed", exc_info=task.exception())

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback, not a coroutine: the handler task is created and
        # registered right here, so aclose() can never miss one in flight.
        if self._state != "running" or RtspFault.REFUSE in self._faults:
            writer.transport.abort()
            return
        conn = _Connection(reader, writer, self._max_write_buffer, self._write_timeout)
        self._connections.add(conn)
        conn.task = asyncio.get_running_loop().create_task(self._serve(conn))

    async def _close_connections(self) -> None:
        conns = list(self._connections)
        for conn in conns:
            conn.abort()
        tasks = [c.task for c in conns if c.task is not None]
        if not tasks:
            return
        # Aborting the transport ends every handler's read promptly; cancel
        # only as a backstop so aclose() cannot hang on a bug.
        _, pending = await asyncio.wait(tasks, timeout=2.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, conn: _Connection) -> None:
        try:
            while True:
                try:
                    request = await self._read_request(conn)
                except _BadRequest as exc:
                    logger.debug("bad RTSP request from %s: %s", conn.peer_host, exc)
                    if RtspFault.BLACK_HOLE not in self._faults:
                        conn.write(_render(_Response(400), exc.cseq))
                    if exc.fatal:
                        break
                    continue
                if request is None:
                    break
                if RtspFault.BLACK_HOLE in self._faults:
                    continue
                self.requests.append((request.method, request.path))
                self.request_log.append(
                    RecordedRequest(request.method, request.uri, dict(request.headers))
                )
                try:
                    response = await self._dispatch(conn, request)
                except Exception:
                    # A bug here must cost one request, not the connection.
                    logger.exception("RtspServer failed to handle %s", request.method)
                    response = _Response(500)
                if not conn.write(_render(response, request.cseq)):
                    break
                if response.play is not None:
                    self._start_playing(response.play)
                if not await conn.drain():
                    break
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client went away; the finally clause is all that is left
        finally:
            for session in list(conn.sessions.values()):
                await self._end_session(session)
            conn.close()
            with suppress(OSError):
                await conn.writer.wait_closed()
            conn.cancel_timer()
            self._connections.discard(conn)

    async def _read_request(self, conn: _Connection) -> _Request | None:
        """Next request, or ``None`` at end of stream. Interleaved frames from the
        client (RTCP receiver reports, backchannel RTP) are recorded on the way."""
        reader = conn.reader
        while True:
            first = await reader.read(1)
            if not first:
                return None
            if first == b"$":
                header = await reader.readexactly(3)
                data = await reader.readexactly(int.from_bytes(header[1:3], "big"))
                self._client_frame(conn, header[0], data)
                continue
            if first in b"\r\n":
                continue
            try:
                head = first + await reader.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                raise _BadRequest("header block too large", fatal=True) from None
            except asyncio.IncompleteReadError:
                return None
            request = _parse_head(head)
            length_text = request.headers.get("content-length", "0")
            if not _DIGITS.fullmatch(length_text) or int(length_text) > _BODY_LIMIT:
                raise _BadRequest("bad Content-Length", cseq=request.cseq, fatal=True)
            if length := int(length_text):
                request.body = await reader.readexactly(length)
            return request

    def _client_frame(self, conn: _Connection, channel: int, data: bytes) -> None:
        if any(s.back_channel == channel for s in conn.sessions.values()):
            if len(data) < 12 or data[0] >> 6 != 2:
                return
            start = 12 + 4 * (data[0] & 0x0F)
            if data[0] & 0x10 and len(data) >= start + 4:
                start += 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
            self._received_audio += data[start:]
            self.received_audio_packets += 1
        else:
            self.rtcp_received += 1

    # -- request handling ------------------------------------------------------

    async def _dispatch(self, conn: _Connection, req: _Request) -> _Response:
        handlers = {
            "OPTIONS": self._options,
            "DESCRIBE": self._describe,
            "SETUP": self._setup,
            "PLAY": self._play,
            "PAUSE": self._pause,
            "GET_PARAMETER": self._parameter,
            "SET_PARAMETER": self._parameter,
            "TEARDOWN": self._teardown,
        }
        handler = handlers.get(req.method)
        if handler is None:
            return _Response(501, [("Public", self._public)])
        redirect = self._redirects.get(req.path)
        if redirect is not None and req.method in self._redirect_methods:
            return _Response(redirect[0], [("Location", redirect[1])])
        if req.path != "*" and not self._path_matches(req.path):
            return _Response(404)
        require = req.headers.get("require")
        if require is not None and (
            require.strip() != BACKCHANNEL_TAG or self._backchannel_track is None
        ):
            return _Response(551, [("Unsupported", require.strip())])
        if req.method == "DESCRIBE" and RtspFault.SERVICE_UNAVAILABLE in self._faults:
            return _Response(503, [("Retry-After", "1")])
        protected = self._quirks.protected
        if (req.method != "OPTIONS" if protected is None else req.method in protected):
            verdict = self._authorized(req)
            if verdict != "ok":
                return self._challenge(stale=verdict == "stale")
        return await handler(conn, req)

    @property
    def _public(self) -> str:
        return self._quirks.public if self._quirks.public is not None else _PUBLIC

    @property
    def _all_tracks(self) -> tuple[RtpTrack, ...]:
        extra = (self._metadata_track, self._backchannel_track)
        return self._timeline.tracks + tuple(t for t in extra if t is not None)

    def _control(self, track: RtpTrack, base: str | None = None) -> str:
        base = self._base if base is None else base
        style = self._quirks.control
        if style == "absolute":
            return f"{self._url_of(base)}/{track.control}"
        if style == "path":
            return f"{base}/{track.control}"
        if style == "other_host":
            return f"rtsp://10.255.255.1:554{base}/{track.control}"
        return track.control

    def _url_of(self, base: str) -> str:
        """The URL of the stream served at path ``base``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "rtsps" if self._tls is not None else "rtsp"
        return f"{scheme}://{host}:{self.port}{base}"

    def _accepted(self, path: str) -> bool:
        accept = self._accept_path
        if accept is None or path == "*":
            return False
        # The aggregate URL of a Content-Base ends in "/": the same stream.
        return bool(accept(path)) or (len(path) > 1 and path.endswith("/")
                                      and bool(accept(path.rstrip("/"))))

    def _base_for(self, path: str) -> str:
        """The stream path a request is about: ``path`` itself, or the path its track is under."""
        if self._path_matches_own(path) or self._accept_path is None:
            return self._base
        if self._accepted(path):
            return path.rstrip("/")
        parent = path.rstrip("/").rpartition("/")[0]
        return parent if self._accepted(parent) else self._base

    def _path_matches_own(self, path: str) -> bool:
        return path == self._path or path == self._base or path.startswith(self._base + "/")

    def _path_matches(self, path: str) -> bool:
        if self._path_matches_own(path) or self._accepted(path):
            return True
        parent, _, control = path.rstrip("/").rpartition("/")
        return self._accepted(parent) and any(
            control == t.control for t in self._all_tracks)

    async def _options(self, conn: _Connection, req: _Request) -> _Response:
        return _Response(200, [("Public", self._public)])

    async def _describe(self, conn: _Connection, req: _Request) -> _Response:
        if RtspFault.UNAUTHORIZED in self._faults:
            return self._challenge()
        backchannel = req.headers.get("require") is not None
        body = (
            _BROKEN_SDP
            if RtspFault.BAD_SDP in self._faults
            else self._sdp(backchannel=backchannel, base=self._base_for(req.path)).encode()
        )
        headers = [("Content-Type", "application/sdp")]
        base = self._url_of(self._base_for(req.path)) + (
            "/" if self._quirks.base_trailing_slash else "")
        if self._quirks.content_base == "header":
            headers.append(("Content-Base", base))
        elif self._quirks.content_base == "location":
            headers.append(("Content-Location", base))
        return _Response(200, headers, body)

    def _sdp(self, *, backchannel: bool = False, base: str | None = None) -> str:
        session_id = self._rng.getrandbits(32)
        tracks = [
            t for t in self._all_tracks if backchannel or t is not self._backchannel_track
        ]
        media = "".join(f"{t.sdp_media}a=control:{self._control(t, base)}\r\n" for t in tracks)
        if not self._quirks.sprop:
            media = _SPROP.sub("", media)
        return (
            "v=0\r\n"
            f"o=- {session_id} 1 IN IP4 {self._host}\r\n"
            "s=camsdk test stream\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "a=control:*\r\n"
            "a=range:npt=0-\r\n" + media
        )

    async def _setup(self, conn: _Connection, req: _Request) -> _Response:
        track = self._track_for(req.path)
        if track is None:
            return _Response(404)
        sid = req.session_id
        if sid is not None:
            session = conn.sessions.get(sid)
            if session is None:
                return _Response(454)
            if session.playing:
                return _Response(455)
        else:
            session = _Session(secrets.token_hex(8), conn)
            session.speed = self._speed
        try:
            sender = await self._make_sender(conn, track, req.headers.get("transport", ""))
        except _BadRequest:
            return _Response(400)
        if sender is None:
            return _Response(461)
        if track is self._backchannel_track:
            if sender.transport != "tcp":
                sender.close()
                return _Response(461)
            session.back_channel = sender.rtp_channel
        old = session.senders.pop(track.index, None)
        if old is not None:
            old.close()
        session.senders[track.index] = sender
        conn.sessions[session.id] = session
        return _Response(
            200, [("Transport", _transport_reply(sender)), self._session_header(session)]
        )

    def _track_for(self, path: str) -> RtpTrack | None:
        base = self._base_for(path)
        rest = path[len(base) :].strip("/") if self._path_matches(path) else None
        tracks = self._all_tracks
        if rest == "" and len(tracks) == 1:
            return tracks[0]
        for track in tracks:
            if rest == track.control:
                return track
        return None

    async def _make_sender(
        self, conn: _Connection, track: RtpTrack, header: str
    ) -> _TrackSender | None:
        """A sender for the first transport alternative we support, else ``None``."""
        for alternative in header.split(","):
            parts = [p.strip() for p in alternative.split(";")]
            proto = parts[0].upper()
            params = {k.lower(): v for k, _, v in (p.partition("=") for p in parts[1:])}
            if "multicast" in params:
                continue
            ssrc = self._rng.getrandbits(32)
            seq = self._rng.getrandbits(16)
            base = self._rng.getrandbits(32)
            if self._quirks.initial_seq is not None:
                seq = self._quirks.initial_seq & 0xFFFF
            if self._quirks.initial_rtptime is not None:
                base = self._quirks.initial_rtptime & 0xFFFFFFFF
            if proto == "RTP/AVP/TCP":
                rtp_ch, rtcp_ch = _port_pair(params.get("interleaved"), 2 * track.index, limit=255)
                return _TrackSender(
                    track, ssrc, seq, base, "tcp", rtp_channel=rtp_ch, rtcp_channel=rtcp_ch
                )
            if proto in ("RTP/AVP", "RTP/AVP/UDP") and self._udp and "client_port" in params:
                rtp_port, rtcp_port = _port_pair(params["client_port"], None, limit=65535)
                loop = asyncio.get_running_loop()
                rtp_t, _ = await loop.create_datagram_endpoint(_UdpSink, local_addr=(self._host, 0))
                try:
                    rtcp_t, _ = await loop.create_datagram_endpoint(
                        lambda: _UdpSink(self._count_rtcp), local_addr=(self._host, 0)
                    )
                except BaseException:
                    rtp_t.close()
                    raise
                return _TrackSender(
                    track,
                    ssrc,
                    seq,
                    base,
                    "udp",
                    udp_rtp=rtp_t,
                    udp_rtcp=rtcp_t,
                    rtp_addr=(conn.peer_host, rtp_port),
                    rtcp_addr=(conn.peer_host, rtcp_port),
                )
        return None

    def _count_rtcp(self, data: bytes) -> None:
        self.rtcp_received += 1

    async def _play(self, conn: _Connection, req: _Request) -> _Response:
        session = self._session_for(conn, req)
        if session is None or RtspFault.SESSION_NOT_FOUND in self._faults:
            return _Response(454)
        if not session.senders:
            return _Response(455)
        headers = [self._session_header(session), ("Range", "npt=0.000-")]
        if session.playing:
            return _Response(200, headers)
        start = session.next_media_start(asyncio.get_running_loop().time())
        session.pending_start = start
        info = ",".join(
            f"url={self._url_of(self._base_for(req.path))}/{s.track.control};seq={s.seq};"
            f"rtptime={s.rtptime(start)}"
            for s in session.senders.values()
        )
        headers.append(("RTP-Info", info))
        return _Response(200, headers, play=session)

    async def _pause(self, conn: _Connection, req: _Request) -> _Response:
        session = self._session_for(conn, req)
        if session is None:
            return _Response(454)
        await self._stop_pacing(session)
        return _Response(200, [self._session_header(session)])

    async def _parameter(self, conn: _Connection, req: _Request) -> _Response:
        if req.session_id is None:
            return _Response(200)
        session = self._session_for(conn, req)
        if session is None:
            return _Response(454)
        return _Response(200, [self._session_header(session)])

    async def _teardown(self, conn: _Connection, req: _Request) -> _Response:
        session = self._session_for(conn, req)
        if session is None:
            return _Response(454)
        await self._end_session(session)
        return _Response(200)

    def _session_for(self, conn: _Connection, req: _Request) -> _Session | None:
        sid = req.session_id
        return conn.sessions.get(sid) if sid is not None else None

    def _session_header(self, session: _Session) -> tuple[str, str]:
        return ("Session", f"{session.id};timeout={self._session_timeout}")

    async def _end_session(self, session: _Session) -> None:
        await self._stop_pacing(session)
        for sender in session.senders.values():
            sender.close()
        session.conn.sessions.pop(session.id, None)

    # -- authentication ----------------------------------------------------

    def _challenge(self, *, stale: bool = False) -> _Response:
        if self._auth is None:  # UNAUTHORIZED fault on a server without credentials
            return _Response(401, [("WWW-Authenticate", f'Basic realm="{self._realm}"')])
        return _Response(401, self._auth.challenge(stale=stale))

    def _authorized(self, req: _Request) -> str:
        if self._auth is None:
            return "ok"
        return self._auth.check(req.method, req.headers.get("authorization", ""))

    # -- media pacing ----------------------------------------------------------

    def _start_playing(self, session: _Session) -> None:
        if session.playing or session.conn.closing:
            return
        session.sent_since_drop = 0
        session.task = asyncio.get_running_loop().create_task(self._pace(session))
        session.task.add_done_callback(self._pacer_done)
        self._sessions_changed()

    def _pacer_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("RtspServer media pacer failed", exc_info=task.exception())
        self._sessions_changed()

    async def _stop_pacing(self, session: _Session) -> None:
        task, session.task = session.task, None
        if task is not None and not task.done():
            task.cancel()
            # wait() rather than await: a pacer that died of a bug was already
            # logged by _pacer_done and must not break the caller's cleanup.
            await asyncio.wait({task})
            self._sessions_changed()

    def _sessions_changed(self) -> None:
        event, self._session_change = self._session_change, asyncio.Event()
        event.set()

    async def _pace(self, session: _Session) -> None:
        """Send the loop to one session until it ends; restart runs after stalls."""
        loop = asyncio.get_running_loop()
        while True:
            if not any(t.index in session.senders for t in self._timeline.tracks):
                # Only the backchannel or metadata: nothing to pace, live until ended.
                await loop.create_future()
            await self._unstalled.wait()
            now = loop.time()
            start = session.pending_start
            session.pending_start = None
            session.run_media = start if start is not None else session.next_media_start(now)
            session.run_wall = now
            if not session.unix_origin:
                session.unix_origin = time.time() - float(session.run_media)
            if not await self._run(session):
                return

    async def _run(self, session: _Session) -> bool:
        """One run from the loop's start. ``True`` means stalled, ``False`` ended."""
        loop = asyncio.get_running_loop()
        conn = session.conn
        timeline = self._timeline
        for lap in itertools.count():
            offset = lap * timeline.duration
            for unit in timeline.units:
                sender = session.senders.get(unit.track)
                if sender is None:
                    continue
                delay = (
                    session.run_wall + float(offset + unit.send_at) / self._speed - loop.time()
                )
                if delay > 0:
                    await asyncio.sleep(delay)
                if RtspFault.STALL in self._faults:
                    return True
                if conn.closing:
                    return False
                if self._drop_after is not None and session.sent_since_drop >= self._drop_after:
                    logger.debug("dropping %s after %d packets", conn.peer_host, self._drop_after)
                    conn.close()
                    return False
                media_time = session.run_media + offset + unit.rtp_at
                if not await self._send(session, sender, unit, media_time):
                    return False
                session.last_media = media_time
                session.sent_since_drop += 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        session: _Session,
        sender: _TrackSender,
        unit: MediaUnit,
        media_time: Fraction,
    ) -> bool:
        conn = session.conn
        timestamp = sender.rtptime(media_time)
        rtcp: list[bytes] = []
        mono = time.monotonic()
        if mono - sender.last_report >= _REPORT_INTERVAL:
            sender.last_report = mono
            # Running fast, the camera's clock is media time: the SR must agree with it.
            wall = time.time() if self._speed == 1 else session.unix_origin + float(media_time)
            rtcp.append(
                rtcp_sender_report(sender.ssrc, wall, timestamp, sender.packets, sender.octets)
            )
        rtp: list[bytes] = []
        last = len(unit.payloads) - 1
        for i, payload in enumerate(unit.payloads):
            if self._corrupt_fraction and self._rng.random() < self._corrupt_fraction:
                payload = self._corrupt(sender.track, payload)
            rtp.append(
                rtp_packet(
                    sender.track.payload_type,
                    sender.seq,
                    timestamp,
                    sender.ssrc,
                    i == last,
                    payload,
                )
            )
            sender.seq = (sender.seq + 1) & 0xFFFF
            sender.packets += 1
            sender.octets += len(payload)
        if self._lose_fraction:
            rtp = [p for p in rtp if self._rng.random() >= self._lose_fraction]
        if self._reorder_fraction and len(rtp) > 1 and self._rng.random() < self._reorder_fraction:
            i = self._rng.randrange(len(rtp) - 1)
            rtp[i], rtp[i + 1] = rtp[i + 1], rtp[i]
        if not self._write_packets(conn, sender, rtcp, rtp):
            return False
        return sender.transport == "udp" or await conn.drain()

    def _corrupt(self, track: RtpTrack, payload: bytes) -> bytes:
        skip = track.payload_header_length(payload)
        if len(payload) <= skip:
            return payload
        damaged = bytearray(payload)
        # Distinct positions: a byte flipped twice would be undamaged again.
        for index in self._rng.sample(range(skip, len(payload)),
                                      max(1, (len(payload) - skip) // 64)):
            damaged[index] ^= 0xFF
        return bytes(damaged)


def _transport_reply(sender: _TrackSender) -> str:
    if sender.transport == "tcp":
        return (
            f"RTP/AVP/TCP;unicast;interleaved={sender.rtp_channel}-{sender.rtcp_channel};"
            f"ssrc={sender.ssrc:08X}"
        )
    assert sender.udp_rtp is not None and sender.udp_rtcp is not None
    assert sender.rtp_addr is not None and sender.rtcp_addr is not None
    server_rtp = sender.udp_rtp.get_extra_info("sockname")[1]
    server_rtcp = sender.udp_rtcp.get_extra_info("sockname")[1]
    return (
        f"RTP/AVP;unicast;client_port={sender.rtp_addr[1]}-{sender.rtcp_addr[1]};"
        f"server_port={server_rtp}-{server_rtcp};ssrc={sender.ssrc:08X}"
    )
