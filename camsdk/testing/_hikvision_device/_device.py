"""`HikvisionDevice`: a simulated Hikvision camera or NVR (ISAPI, alert stream, RTSP, SADP)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Literal

from camsdk.testing._http_device import Request, Response, StreamingResponse
from camsdk.testing._http_device._auth import AuthMode
from camsdk.testing._lifecycle import Simulator

from . import _documents as doc
from ._ptz import PTZHead, answer_ptz
from ._sadp import SadpResponder
from ._talk import IsapiHttpDevice, TalkUpload

__all__ = ["HikvisionDevice", "PTZHead"]

_XML = "application/xml; charset=UTF-8"
_BOUNDARY = "boundary"
_SOURCES: dict[str, Any] = {}


def _cached_source(codec: str) -> Any:
    """A small generated loop per codec, made once per process."""
    from camsdk.testing._rtsp_server import generate_source

    if codec not in _SOURCES:
        _SOURCES[codec] = generate_source(width=160, height=120, fps=15, gop=15, seconds=1.0,
                                          codec="h265" if codec == "h265" else "h264")
    return _SOURCES[codec]


class HikvisionDevice(Simulator):
    """A simulated Hikvision device on 127.0.0.1 (see `camsdk.testing._hikvision_device`).

    The constructor does no I/O; use ``async with`` or `start`/`aclose`.
    """

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "hik-sim-Pw1",
        auth: AuthMode = "digest",
        kind: Literal["camera", "nvr"] = "camera",
        channels: int = 1,
        offline: Iterable[int] = (),
        ptz: bool | Iterable[int] = True,
        talk: str | None = "G.711ulaw",
        lockout_after: int | None = 7,
        lockout_seconds: float = 1800.0,
        max_alert_streams: int | None = None,
        heartbeat: float = 10.0,
        channel_offset: int | None = None,
        report_rtsp_port: bool = True,
        third_stream: bool = False,
        model: str | None = None,
        serial: str | None = None,
        name: str | None = None,
        firmware: str = "V5.7.3",
        host: str = "127.0.0.1",
        source: Any = None,
        codec: Literal["h264", "h265"] = "h264",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if channels < 1:
            raise ValueError("channels must be at least 1")
        nvr = kind == "nvr"
        self.kind = kind
        self.username = username
        self.password = password
        self.host = host
        self.ns = doc.NS_V10 if nvr else doc.NS_V20
        self.model = model or ("DS-7632NI-I2" if nvr else "DS-2DE2A404IW-DE3")
        self.serial = serial or ("DS-7632NI-I21620200101CCRR000000001WCVU" if nvr
                                 else "DS-2DE2A404IW-DE320200101AAWRE00000001")
        self.name = name or ("Network Video Recorder" if nvr else "IP CAMERA")
        self.firmware = firmware
        self.codec = codec
        self._source = source
        offline_ids = set(offline)
        self.channels = [
            doc.SimChannel(id=n, name=f"Camera {n:02d}" if nvr else "Camera 01",
                           online=n not in offline_ids,
                           detect="connect" if n not in offline_ids else "offline",
                           address=f"192.0.2.{10 + n}" if nvr else "")
            for n in range(1, channels + 1)
        ]
        self.ptz_channels = (
            {c.id for c in self.channels} if ptz is True else set() if ptz is False else set(ptz)
        )
        self.heads = {n: PTZHead() for n in self.ptz_channels}
        self.talk_codec = talk
        #: Raw audio bytes received by the speaker, and talk sessions opened/closed.
        self.talk_audio = bytearray()
        self.talk_sessions = 0
        self.talk_closed = 0
        self.max_alert_streams = max_alert_streams
        self.heartbeat = heartbeat
        # NVRs number alert channels from 33 for IP cameras (dynChannelID is the camera).
        self.channel_offset = channel_offset if channel_offset is not None else (
            32 if nvr else 0)
        self.report_rtsp_port = report_rtsp_port
        self.third_stream = third_stream
        #: Answer this many picture requests with an XML error labelled image/jpeg.
        self.snapshot_errors = 0
        #: Paths answered 404 (simulate firmware without an endpoint).
        self.missing: set[str] = set()
        #: Content-Length of every alert part is written this much too long.
        self.alert_length_error = 0
        #: Alert-stream connections ever accepted, and refused for the session cap.
        self.alert_connects = 0
        self.alert_refusals = 0
        #: Heartbeats (``videoloss`` inactive) sent on alert streams.
        self.heartbeats_sent = 0
        self.sadp_probes = 0
        self._silent = asyncio.Event()
        self._streams: set[asyncio.Queue[bytes]] = set()
        self._jpeg: bytes | None = None
        lock_body = doc.user_check(self.ns, locked=True, unlock=int(lockout_seconds), retries=0)
        self.http = IsapiHttpDevice(
            host, auth=auth, username=username, password=password, realm="DS-SIM",
            lockout_after=lockout_after, lockout_seconds=lockout_seconds,
            lockout_response=Response(401, lock_body, content_type=_XML), clock=clock,
        )
        self._share_changes(self.http)  # a request wakes waiters as an alert does
        self.rtsp: Any = None
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_closed: asyncio.Future[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Start the RTSP server, the ISAPI server and the SADP responder."""
        from camsdk.testing._rtsp_server import RtspServer

        self._source = self._source or _cached_source(self.codec)
        self.rtsp = RtspServer(self._source, path="/Streaming/Channels", host=self.host,
                               username=self.username, password=self.password)
        await self.rtsp.start()
        self._routes()
        await self.http.start()
        loop = asyncio.get_running_loop()
        self._udp_closed = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: SadpResponder(self), local_addr=(self.host, 0))
        self._udp = transport

    async def _stop_parts(self) -> None:
        """Stop everything and drop every client."""
        self._silent.clear()
        if self._udp is not None:
            self._udp.close()
            if self._udp_closed is not None:
                with contextlib.suppress(Exception):
                    await self._udp_closed
        await self.http.aclose()
        if self.rtsp is not None:
            await self.rtsp.aclose()

    # -- addresses and state ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``hikvision://127.0.0.1:<port>`` (the hub URL; no credentials)."""
        return f"hikvision://{self.host}:{self.http.port}"

    def camera_url(self, channel: int = 1) -> str:
        """``hikvision://127.0.0.1:<port>/<channel>``."""
        return f"{self.url}/{channel}"

    @property
    def sadp_target(self) -> tuple[str, int]:
        """Loopback ``(host, port)`` of the SADP responder (probe it, not multicast)."""
        if self._udp is None:
            raise RuntimeError("HikvisionDevice is not started")
        host, port = self._udp.get_extra_info("sockname")[:2]
        return str(host), int(port)

    @property
    def alert_streams(self) -> int:
        """Alert-stream connections open now."""
        return len(self._streams)

    @property
    def locked(self) -> bool:
        """Whether the account is locked."""
        return self.http.locked

    @property
    def failed_logins(self) -> int:
        """Wrong credentials received, ever."""
        return self.http.failed_logins

    async def wait_until(self, predicate: Callable[[HikvisionDevice], bool],
                         timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` s) until ``predicate(device)`` holds.

        Re-checked after every request, connection change, alert-stream and
        talk change; `TimeoutError` when it does not come true in time.
        """
        await self._wait_for(lambda: predicate(self), timeout)

    def set_online(self, channel: int, online: bool, detect: str = "offline") -> None:
        """Take a proxied camera off line (or back)."""
        for c in self.channels:
            if c.id == channel:
                c.online = online
                c.detect = "connect" if online else detect

    def __repr__(self) -> str:
        return f"<HikvisionDevice {self.kind} {self.host} {self._state}>"

    # -- events ---------------------------------------------------------------------------

    def emit(self, event_type: str = "VMD", *, active: bool = True, channel: int | None = 1,
             target: str | None = None, region: str | None = None, port: int | None = None,
             count: int = 1) -> int:
        """Send one alert to every open alert stream; returns how many got it."""
        nvr = self.kind == "nvr"
        body = doc.alert(
            self.ns, event_type=event_type, active=active,
            channel=None if channel is None else channel + self.channel_offset,
            dyn_channel=channel if nvr else None, port=port, target=target, region=region,
            count=count,
        ).encode()
        return self._push(self._part(body))

    def emit_raw(self, body: bytes, content_type: str = "application/xml") -> int:
        """Send an arbitrary part (hostile firmware) to every alert stream."""
        return self._push(self._part(body, content_type))

    def _part(self, body: bytes, content_type: str = 'application/xml; charset="UTF-8"') -> bytes:
        length = len(body) + self.alert_length_error
        return (f"--{_BOUNDARY}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {length}\r\n\r\n").encode() + body + b"\r\n"

    def _push(self, part: bytes) -> int:
        for queue in self._streams:
            queue.put_nowait(part)
        return len(self._streams)

    def go_silent(self) -> None:
        """Stop sending anything (heartbeats included) on alert streams; sockets stay open."""
        self._silent.set()

    def resume(self) -> None:
        """End `go_silent`."""
        self._silent.clear()

    async def _alert_stream(self, request: Request) -> Response | StreamingResponse:
        if self.max_alert_streams is not None and len(self._streams) >= self.max_alert_streams:
            self.alert_refusals += 1
            return Response(503, doc.response_status(
                self.ns, request.path, 2, "Device Busy", "deviceBusy"), content_type=_XML)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._streams.add(queue)
        self.alert_connects += 1
        self._notify()
        heartbeat = self._part(doc.alert(self.ns, event_type="videoloss", active=False,
                                         channel=0).encode())

        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    try:
                        async with asyncio.timeout(self.heartbeat):
                            first = await queue.get()
                    except TimeoutError:
                        first = heartbeat
                    if self._silent.is_set():
                        continue  # a device that went quiet: nothing, not even heartbeats
                    if first is heartbeat:
                        self.heartbeats_sent += 1
                        self._notify()
                    parts = [first]
                    while not queue.empty() and len(parts) < 512:
                        parts.append(queue.get_nowait())
                    yield b"".join(parts)
            finally:
                self._streams.discard(queue)
                self._notify()

        return StreamingResponse(200, body(), chunked=False,
                                 content_type=f"multipart/mixed; boundary={_BOUNDARY}")

    # -- routes ---------------------------------------------------------------------------

    def _xml(self, text: str, status: int = 200) -> Response:
        return Response(status, text, content_type=_XML)

    def _status(self, path: str, code: int = 1, text: str = "OK", sub: str = "ok",
                status: int = 200) -> Response:
        return self._xml(doc.response_status(self.ns, path, code, text, sub), status)

    def _not_supported(self, path: str) -> Response:
        return self._status(path, 4, "Invalid Operation", "notSupport", status=403)

    def _routes(self) -> None:
        http = self.http
        nvr = self.kind == "nvr"

        def page(path: str, make: Callable[[], str]) -> None:
            async def handler(request: Request) -> Response:
                if request.path in self.missing:
                    return Response(404, "not found")
                return self._xml(make())
            http.route("GET", path, handler)

        page("/ISAPI/System/deviceInfo", lambda: doc.device_info(
            self.ns, name=self.name, model=self.model, serial=self.serial,
            firmware=self.firmware, firmware_date="build 231110", mac="44:19:b6:00:00:01",
            device_type="NVR" if nvr else "IPDome"))
        media = {"width": 160, "height": 120, "fps": 15,
                 "codec": "H.265" if self.codec == "h265" else "H.264"}
        page("/ISAPI/Streaming/channels", lambda: doc.streaming_channels(
            self.ns, [] if nvr else self.channels, audio="G.711ulaw",
            third=self.third_stream, **media))  # type: ignore[arg-type]
        page("/ISAPI/System/Video/inputs/channels", lambda: doc.input_channels(
            self.ns, [] if nvr else self.channels))
        page("/ISAPI/Security/adminAccesses", lambda: doc.admin_accesses(
            self.ns, http_port=self.http.port,
            rtsp_port=self.rtsp.port if self.report_rtsp_port else 0))
        if nvr:
            page("/ISAPI/ContentMgmt/InputProxy/channels",
                 lambda: doc.proxy_channels(self.ns, self.channels))
            page("/ISAPI/ContentMgmt/InputProxy/channels/status",
                 lambda: doc.proxy_status(self.ns, self.channels))
            page("/ISAPI/ContentMgmt/StreamingProxy/channels", lambda: doc.streaming_channels(
                self.ns, self.channels, audio=None, third=self.third_stream,
                **media))  # type: ignore[arg-type]
        http.route("GET", re.compile(r"/ISAPI/Streaming/channels/(\d+)/picture"), self._picture)
        http.route("GET", re.compile(r"/ISAPI/ContentMgmt/StreamingProxy/channels/(\d+)/picture"),
                   self._picture)
        http.route("GET", "/ISAPI/Event/notification/alertStream", self._alert_stream)
        http.route("*", re.compile(r"/ISAPI/PTZCtrl/channels/(\d+)/(.+)"), self._ptz)
        http.route("GET", "/ISAPI/System/TwoWayAudio/channels", self._talk_list)
        http.route("PUT", re.compile(r"/ISAPI/System/TwoWayAudio/channels/(\d+)/(\w+)"),
                   self._talk)

    # -- snapshots ------------------------------------------------------------------------

    def jpeg(self) -> bytes:
        """The JPEG every picture request answers with (a frame of the stream's loop)."""
        if self._jpeg is None:
            from camsdk._pipeline._codec import decode_keyframe, encode_jpeg

            frame = decode_keyframe(self._source.info, self._source.video[0])
            self._jpeg = encode_jpeg(frame)
        return self._jpeg

    async def _picture(self, request: Request) -> Response:
        if request.path in self.missing:
            return Response(404, "not found")
        assert request.match is not None
        sid = int(request.match.group(1))
        if not any(c.id == sid // 100 for c in self.channels):
            return self._status(request.path, 4, "Invalid Operation", "invalidID", 400)
        if self.snapshot_errors > 0:
            self.snapshot_errors -= 1
            # Firmware under load: an XML error labelled as a picture.
            body = doc.response_status(self.ns, request.path, 2, "Device Busy", "deviceBusy")
            return Response(200, body.encode(), content_type="image/jpeg")
        return Response(200, self.jpeg(), content_type="image/jpeg")

    # -- PTZ ------------------------------------------------------------------------------

    async def _ptz(self, request: Request) -> Response:
        return answer_ptz(self, request)

    # -- two-way audio --------------------------------------------------------------------

    async def _talk_list(self, request: Request) -> Response:
        if self.talk_codec is None:
            return self._not_supported(request.path)
        return self._xml(doc.two_way_audio(self.ns, self.talk_codec))

    async def _talk(self, request: Request) -> Response:
        assert request.match is not None
        if self.talk_codec is None or request.match.group(1) != "1":
            return self._not_supported(request.path)
        action = request.match.group(2)
        if action == "open":
            self.talk_sessions += 1
            self._notify()
            return self._xml(f'<?xml version="1.0" encoding="UTF-8"?><TwoWayAudioSession '
                             f'version="2.0" xmlns="{self.ns}"><sessionId>'
                             f"{secrets.token_hex(8)}</sessionId></TwoWayAudioSession>")
        if action == "close":
            self.talk_closed += 1
            self._notify()
            return self._status(request.path)
        if action == "audioData":
            return TalkUpload(self._received_audio)
        return self._not_supported(request.path)

    def _received_audio(self, data: bytes) -> None:
        self.talk_audio += data
        self._notify()
