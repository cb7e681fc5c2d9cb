"""RTSP restream for NVR software: ``rtsp://gateway:8554/<grant id>/<camera>``.

A small RTSP/1.0 server (OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN; RTP over
the TCP connection, interleaved; no UDP) serving each grant's camera from the
shared upstream. Each grant has its own Digest login (MD5, ``qop=auth``),
derived from the gateway's secret (`Gateway.rtsp_credentials`), so an NVR's
stored password opens that grant's cameras only, and stops working when the
grant ends. What is sent is a `LiveFeed` read through the grant principal's
`Camera.acting_for`: passthrough without masks, masked and re-encoded with
them; a revoked or expired grant ends the connection at the next frame.

A passthrough feed announces the camera's audio as a second track, as the
camera coded it: AAC as ``MPEG4-GENERIC`` (RFC 3640, ``AAC-hbr``), G.711 as
``PCMU``/``PCMA`` (static payload types 0 and 8). A client that sets up only
the video gets only the video; masked restreams are video only.

Shared with `camsdk.testing.RtspServer` (pure functions on bytes): the
request parser, response renderer and Digest parameter parser
(`camsdk._rtsp._server_wire`), and the RTP, RTCP, interleaving and
H.264/H.265 fragmenting helpers and SDP track builder
(`camsdk._rtsp._packetize`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._errors import AccessDeniedError, CamError
from .._log import get_logger
from .._media import MediaPacket, StreamInfo
from .._rtsp._packetize import (
    MAX_PAYLOAD,
    MediaTimeline,
    _aac_track,
    _nal_format,
    aac_payload,
    fragment_h264,
    fragment_h265,
    interleaved_frame,
    rtcp_sender_report,
    rtp_packet,
)
from .._rtsp._server_wire import BadRequest, Request, Response, auth_params, parse_head, render
from ._live import LiveFeed, open_feed
from ._sharing import SharingError

if TYPE_CHECKING:  # pragma: no cover
    from .._camera import Camera
    from ._gateway import Gateway, LiveSession

__all__ = ["RestreamServer"]

log = get_logger("camsdk.serve.rtsp")
_REALM = "camsdk gateway"
_HEAD_LIMIT = 16 * 1024
_BODY_LIMIT = 16 * 1024
_IDLE = 60.0
_SR_EVERY = 2.0
# The shared renderer names the test server; this one is the gateway.
#: G.711 goes out as it comes, under its static RTP payload type.
_G711 = {"pcm_mulaw": (0, "PCMU"), "pcm_alaw": (8, "PCMA")}
_TRACK = re.compile(r"trackID=(\d+)")
_INTERLEAVED = re.compile(r"interleaved=(\d{1,3})(?:-(\d{1,3}))?")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _audio_sdp(info: StreamInfo) -> tuple[str, int, int]:
    """The audio ``m=`` section, its payload type and its RTP clock rate."""
    rate = info.audio_sample_rate or 8000
    if info.audio_codec in _G711:
        pt, name = _G711[info.audio_codec]
        channels = info.audio_channels or 1
        suffix = f"/{channels}" if channels > 1 else ""
        return f"m=audio 0 RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/{rate}{suffix}\r\n", pt, rate
    track = _aac_track(info)
    return track.sdp_media, track.payload_type, track.clock_rate


@dataclass(slots=True)
class _RtpOut:
    """One track's RTP sender state: its channel, SSRC, sequence and timestamp origin."""

    channel: int
    payload_type: int
    clock_rate: int
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    base: int = field(default_factory=lambda: random.getrandbits(31))
    seq: int = field(default_factory=lambda: random.getrandbits(15))
    sent: int = 0
    octets: int = 0
    last_sr: float = 0.0

    def packets(self, stamp: int, payloads: list[bytes], *, marker_last: bool) -> bytes:
        """The interleaved RTP packets of one media unit, and an RTCP report when due."""
        out = bytearray()
        for i, payload in enumerate(payloads):
            marker = marker_last and i == len(payloads) - 1
            data = rtp_packet(self.payload_type, self.seq, stamp, self.ssrc, marker, payload)
            self.seq += 1
            self.sent += 1
            self.octets += len(payload)
            out += interleaved_frame(self.channel, data)
        now = time.monotonic()
        if now - self.last_sr >= _SR_EVERY:
            self.last_sr = now
            report = rtcp_sender_report(self.ssrc, time.time(), stamp, self.sent, self.octets)
            out += interleaved_frame(self.channel + 1, report)
        return bytes(out)


class _Viewer:
    """One RTSP client connection and what it watches."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.nonce = secrets.token_hex(16)
        self.session_id = secrets.token_hex(8)
        self.feed: LiveFeed | None = None
        self.first: MediaPacket | None = None
        self.live: LiveSession | None = None
        self.view: Camera | None = None
        #: RTP channel of each track set up (0 video, 1 audio).
        self.channels: dict[int, int] = {}
        #: The audio track's payload type and clock rate, when the feed has audio.
        self.audio: tuple[int, int] | None = None
        self.path = ""


class RestreamServer:
    """The RTSP restream (see the module docstring)."""

    def __init__(self, gateway: Gateway, host: str, port: int) -> None:
        self._gateway = gateway
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The port it listens on (after `start`)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen."""
        self._server = await asyncio.start_server(self._accept, self._host, self._port)

    async def aclose(self) -> None:
        """Stop listening and end every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(_Viewer(reader, writer)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, viewer: _Viewer) -> None:
        try:
            while True:
                request = await self._read(viewer)
                if request is None:
                    return
                response = await self._dispatch(viewer, request)
                viewer.writer.write(
                    render(response, request.cseq, server="camsdk-gateway"))
                await viewer.writer.drain()
                if request.method == "PLAY" and response.status == 200:
                    await self._send(viewer)
                    return
                if request.method == "TEARDOWN":
                    return
        except (BadRequest, ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            return
        finally:
            await self._release(viewer)
            with contextlib.suppress(Exception):
                viewer.writer.close()

    async def _read(self, viewer: _Viewer) -> Request | None:
        reader = viewer.reader
        async with asyncio.timeout(_IDLE):
            while True:
                first = await reader.read(1)
                if not first:
                    return None
                if first == b"$":  # an interleaved RTCP report from the client: skip it
                    header = await reader.readexactly(3)
                    await reader.readexactly(int.from_bytes(header[1:3], "big"))
                    continue
                try:
                    head = first + await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    raise BadRequest("request too large", fatal=True) from None
                if len(head) > _HEAD_LIMIT:
                    raise BadRequest("request too large", fatal=True)
                request = parse_head(head[:-4])
                length = int(request.headers.get("content-length", "0") or "0")
                if not 0 <= length <= _BODY_LIMIT:
                    raise BadRequest("body too large", fatal=True)
                if length:
                    request.body = await reader.readexactly(length)
                return request

    def _authorized(self, viewer: _Viewer, request: Request, grant_id: str) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "digest":
            return False
        params = auth_params(rest)
        user, password = self._gateway.rtsp_credentials(grant_id)
        if not hmac.compare_digest(params.get("username", ""), user):
            return False
        if params.get("nonce") != viewer.nonce or params.get("realm") != _REALM:
            return False
        ha1 = _md5(f"{user}:{_REALM}:{password}")
        ha2 = _md5(f"{request.method}:{params.get('uri', '')}")
        if params.get("qop") == "auth":
            expected = _md5(f"{ha1}:{viewer.nonce}:{params.get('nc', '')}:"
                            f"{params.get('cnonce', '')}:auth:{ha2}")
        else:
            expected = _md5(f"{ha1}:{viewer.nonce}:{ha2}")
        return hmac.compare_digest(expected, params.get("response", "").lower())

    def _challenge(self, viewer: _Viewer) -> Response:
        value = f'Digest realm="{_REALM}", nonce="{viewer.nonce}", algorithm=MD5, qop="auth"'
        return Response(401, [("WWW-Authenticate", value)])

    async def _dispatch(self, viewer: _Viewer, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(200, [("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN")])
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or not parts[0]:
            return Response(404)
        grant_id, camera = parts[0], parts[1]
        if not self._authorized(viewer, request, grant_id):
            return self._challenge(viewer)
        if request.method == "DESCRIBE":
            return await self._describe(viewer, request, grant_id, camera)
        if viewer.feed is None:
            return Response(455)
        if request.method == "SETUP":
            return self._setup(viewer, request, parts[2:])
        if request.method == "PLAY":
            return Response(200, [("Session", viewer.session_id), ("Range", "npt=0.000-")])
        if request.method == "TEARDOWN":
            return Response(200, [("Session", viewer.session_id)])
        return Response(501)

    def _setup(self, viewer: _Viewer, request: Request, rest: list[str]) -> Response:
        transport = request.headers.get("transport", "")
        if "RTP/AVP/TCP" not in transport.upper():
            return Response(461)
        match = _TRACK.fullmatch(rest[-1]) if rest else None
        track = int(match.group(1)) if match else 0
        if track > (1 if viewer.audio is not None else 0) or (rest and match is None):
            return Response(404)
        # The client's own channel pair when it asked for one it may have; else 0-1, 2-3.
        asked = _INTERLEAVED.search(transport)
        channel = int(asked.group(1)) if asked else 2 * track
        taken = {c for t, c in viewer.channels.items() if t != track}
        if channel > 254 or channel in taken or channel + 1 in taken or channel - 1 in taken:
            channel = 2 * track
        viewer.channels[track] = channel
        reply = f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}"
        return Response(200, [("Transport", reply), ("Session", viewer.session_id)])

    async def _describe(self, viewer: _Viewer, request: Request, grant_id: str, camera: str
                        ) -> Response:
        gateway = self._gateway
        grant = gateway.sharing.grant(grant_id)
        if grant is None:
            return Response(404)
        if viewer.feed is not None:
            await self._release(viewer)
        try:
            grant, cam = gateway.grant_for(grant.principal, grant_id, camera)
            viewer.live = gateway.live_session(grant.principal, grant_id, camera, "rtsp")
            view = cam.acting_for(grant.principal)
            feed = open_feed(view, purpose=grant.purpose, masked=gateway.masked(grant, camera),
                             browser=False)
            viewer.feed, viewer.view = feed, view
            await feed.__aenter__()
            viewer.live.transcoded = feed.track.transcoded
            viewer.first = await self._first_keyframe(feed)
            info = StreamInfo(feed.track.codec, feed.track.width, feed.track.height,
                              feed.track.fps, viewer.first.time_base,
                              extradata=feed.track.extradata)
            tracks = MediaTimeline.from_source(info, [viewer.first]).tracks
            audio = _audio_sdp(feed.track.audio) if feed.track.audio is not None else None
        except (AccessDeniedError, SharingError) as exc:
            log.info("restream of %s refused: %s", camera, exc)
            return Response(403)
        except (CamError, ValueError) as exc:
            log.warning("restream of %s failed: %s", camera, exc)
            return Response(503)
        viewer.path = request.uri.rstrip("/")
        viewer.channels = {}
        sdp = ("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=camsdk gateway\r\nt=0 0\r\n"
               "a=control:*\r\n" + tracks[0].sdp_media + "a=control:trackID=0\r\n")
        viewer.audio = None
        if audio is not None:
            media, payload_type, rate = audio
            viewer.audio = payload_type, rate
            sdp += media + "a=control:trackID=1\r\n"
        return Response(200, [("Content-Type", "application/sdp"),
                              ("Content-Base", viewer.path + "/")], sdp.encode())

    async def _first_keyframe(self, feed: LiveFeed) -> MediaPacket:
        async with asyncio.timeout(15.0):
            async for item in feed:
                if isinstance(item, MediaPacket) and item.keyframe:
                    return item
        raise ValueError("the stream ended before a keyframe")

    async def _send(self, viewer: _Viewer) -> None:
        feed, first = viewer.feed, viewer.first
        assert feed is not None and first is not None
        track = feed.track
        split, _ = _nal_format("h264" if track.codec == "h264" else "hevc", track.extradata)
        fragment = fragment_h264 if track.codec == "h264" else fragment_h265
        video = _RtpOut(viewer.channels.get(0, 0), 96, 90000)
        sound: _RtpOut | None = None
        if viewer.audio is not None and 1 in viewer.channels:
            sound = _RtpOut(viewer.channels[1], *viewer.audio)
        g711 = track.audio is not None and track.audio.audio_codec in _G711
        send_video = 0 in viewer.channels or not viewer.channels
        origin = first.time or 0.0
        writer = viewer.writer
        pending: list[MediaPacket] = [first]
        try:
            while True:
                pkt = pending.pop() if pending else await anext(feed)
                if not isinstance(pkt, MediaPacket) or pkt.time is None:
                    continue
                if pkt.kind == "audio":
                    if sound is None:
                        continue
                    out = sound
                    stamp = out.base + round((pkt.time - origin) * out.clock_rate)
                    if g711:  # one byte a sample: cut long packets at the payload limit
                        payloads = [pkt.data[i:i + MAX_PAYLOAD]
                                    for i in range(0, len(pkt.data), MAX_PAYLOAD)]
                        for i, payload in enumerate(payloads):
                            writer.write(out.packets(stamp + i * MAX_PAYLOAD, [payload],
                                                     marker_last=False))
                    else:
                        writer.write(out.packets(stamp, [aac_payload(pkt.data)],
                                                 marker_last=True))
                elif send_video:
                    stamp = video.base + round((pkt.time - origin) * 90000)
                    payloads = [p for nal in split(pkt.data) for p in fragment(nal)]
                    writer.write(video.packets(stamp, payloads, marker_last=True))
                if viewer.live is not None:
                    viewer.live.items += 1
                    viewer.live.bytes += pkt.size
                async with asyncio.timeout(10.0):
                    await writer.drain()
        except (StopAsyncIteration, AccessDeniedError, CamError, ValueError):
            return

    async def _release(self, viewer: _Viewer) -> None:
        feed, viewer.feed = viewer.feed, None
        if feed is not None:
            with contextlib.suppress(Exception):
                await feed.aclose()
        view, viewer.view = viewer.view, None
        if view is not None:
            await view.aclose()
        if viewer.live is not None:
            self._gateway.end_live(viewer.live)
            viewer.live = None
