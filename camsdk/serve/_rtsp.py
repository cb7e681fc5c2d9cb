"""RTSP restream for NVR software: ``rtsp://gateway:8554/<grant id>/<camera>``.

A small RTSP/1.0 server (OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN; RTP over
the TCP connection, interleaved; no UDP) serving each grant's camera from the
shared upstream. Each grant has its own Digest login (MD5, ``qop=auth``),
derived from the gateway's secret (`Gateway.rtsp_credentials`), so an NVR's
stored password opens that grant's cameras only, and stops working when the
grant ends. What is sent is a `LiveFeed` read through the grant principal's
`Camera.acting_for`: passthrough without masks, masked and re-encoded with
them; a revoked or expired grant ends the connection at the next frame.

Reused from ``camsdk.testing`` (pure functions on bytes, no test behaviour):
the request parser and response renderer (`camsdk.testing._rtsp_wire`), the
RTP, RTCP, interleaving and H.264/H.265 fragmenting helpers and the SDP
track builder (`camsdk.testing._rtp`), and the Digest parameter parser
(`camsdk.testing._rtsp_auth.auth_params`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import random
import secrets
import time
from typing import TYPE_CHECKING

from .._errors import AccessDeniedError, CamError
from .._log import get_logger
from .._media import MediaPacket, StreamInfo
from ..testing._rtp import (
    MediaTimeline,
    _nal_format,
    fragment_h264,
    fragment_h265,
    interleaved_frame,
    rtcp_sender_report,
    rtp_packet,
)
from ..testing._rtsp_auth import auth_params
from ..testing._rtsp_wire import BadRequest, Request, Response, parse_head, render
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
_TEST_SERVER, _SERVER = b"Server: camsdk-testing\r\n", b"Server: camsdk-gateway\r\n"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


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
        self.channel = 0
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
                    render(response, request.cseq).replace(_TEST_SERVER, _SERVER, 1))
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
            transport = request.headers.get("transport", "")
            if "RTP/AVP/TCP" not in transport.upper():
                return Response(461)
            reply = f"RTP/AVP/TCP;unicast;interleaved={viewer.channel}-{viewer.channel + 1}"
            return Response(200, [("Transport", reply), ("Session", viewer.session_id)])
        if request.method == "PLAY":
            return Response(200, [("Session", viewer.session_id), ("Range", "npt=0.000-")])
        if request.method == "TEARDOWN":
            return Response(200, [("Session", viewer.session_id)])
        return Response(501)

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
        except (AccessDeniedError, SharingError) as exc:
            log.info("restream of %s refused: %s", camera, exc)
            return Response(403)
        except (CamError, ValueError) as exc:
            log.warning("restream of %s failed: %s", camera, exc)
            return Response(503)
        viewer.path = request.uri.rstrip("/")
        sdp = ("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=camsdk gateway\r\nt=0 0\r\n"
               "a=control:*\r\n" + tracks[0].sdp_media + "a=control:trackID=0\r\n")
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
        ssrc = random.getrandbits(32)
        base = random.getrandbits(31)
        seq = random.getrandbits(15)
        origin = first.time or 0.0
        sent = octets = 0
        last_sr = 0.0
        writer = viewer.writer
        pending: list[MediaPacket] = [first]
        try:
            while True:
                pkt = pending.pop() if pending else await anext(feed)
                if not isinstance(pkt, MediaPacket) or pkt.time is None:
                    continue
                stamp = base + round((pkt.time - origin) * 90000)
                payloads = [p for nal in split(pkt.data) for p in fragment(nal)]
                for i, payload in enumerate(payloads):
                    data = rtp_packet(96, seq, stamp, ssrc, i == len(payloads) - 1, payload)
                    seq += 1
                    sent += 1
                    octets += len(payload)
                    writer.write(interleaved_frame(viewer.channel, data))
                now = time.monotonic()
                if now - last_sr >= _SR_EVERY:
                    last_sr = now
                    report = rtcp_sender_report(ssrc, time.time(), stamp, sent, octets)
                    writer.write(interleaved_frame(viewer.channel + 1, report))
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
