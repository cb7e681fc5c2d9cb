"""`DahuaDevice`: a simulated Dahua / Amcrest / Lorex device on 127.0.0.1.

It serves the CGI API camsdk's ``dahua://`` driver uses (on `HttpDevice`,
with Digest or Basic authentication and Dahua's lockout after five wrong
passwords), RPC2 (two-step login, ``eventManager.attach``, the notify
stream), the CGI event stream with heartbeats, snapshots, PTZ, two-way audio
uploads and ``DHDiscover.search`` on a loopback UDP port; its streams are an
`RtspServer` at ``/cam/realmonitor`` on its own port, which the device
reports in its RTSP config::

    async with DahuaDevice(kind="nvr", channels=4) as device:
        async with camsdk.hub(device.url, credentials=device.credentials) as hub:
            ...
        device.emit("VideoMotion", "Start", index=0)

Faults (each a switch on the device): ``lockout_after`` wrong passwords lock
the account (HTTP 401 ``User locked``, RPC2 error 268632081); ``session_cap``
limits concurrent event streams and RPC2 sessions; `error_snapshots` makes
the next snapshots answer an ``Error`` body with HTTP 200; ``cgi_events=False``
is firmware whose attach CGI answers 404 (RPC2 only); `EventBus.silence_streams`
(via `silence_events`) leaves event sockets open and quiet;
``part_length_error`` lies in each event part's Content-Length; route faults of
`HttpDevice` (``device.routes["events"].split_chunks([7])``, trickle,
endless headers, wrong Content-Length) bend any answer on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from camsdk.testing._http_device import HttpDevice, Request, Response, Route, StreamingResponse
from camsdk.testing._lifecycle import Simulator
from camsdk.testing._rtsp_server import MediaLoop, RtspServer, generate_source
from camsdk.testing._waiting import wait_until

from ._discovery import DiscoveryResponder
from ._events import BOUNDARY, EmittedEvent, EventBus
from ._model import DeviceModel, Kind, make_jpeg
from ._rpc2 import Rpc2Service
from ._tables import ERROR, camera_states, config_table, magic_answer, ok

__all__ = ["DahuaDevice"]

_SOURCE: MediaLoop | None = None


def _shared_source() -> MediaLoop:
    """One small encoded loop for every simulated device of the process (encoding costs)."""
    global _SOURCE
    if _SOURCE is None:
        _SOURCE = generate_source(width=320, height=240, fps=15, gop=15, seconds=1.0)
    return _SOURCE


class DahuaDevice(Simulator):
    """A simulated Dahua device (see the module docstring). No I/O until `start`."""

    def __init__(
        self,
        *,
        kind: Kind = "ipc",
        channels: int = 1,
        username: str = "admin",
        password: str = "camsdk-sim",
        auth: Literal["digest", "basic", "digest-or-basic"] = "digest",
        lockout_after: int | None = 5,
        lockout_seconds: float = 1800.0,
        session_cap: int | None = None,
        cgi_events: bool = True,
        ptz: bool = False,
        talk: bool = False,
        rtsp: bool = True,
        offline: Iterable[int] = (),
        disabled: Iterable[int] = (),
        snapshot_errors_on: Iterable[int] = (),
        model: DeviceModel | None = None,
        source: MediaLoop | None = None,
    ) -> None:
        self.model = model or DeviceModel.for_kind(kind, channels)
        for number in offline:
            self.model.channels[number - 1].connected = False
        for number in disabled:
            self.model.channels[number - 1].main_enabled = False
        self.username = username
        self.password = password
        realm = f"Login to {self.model.serial}"
        locked = Response(401, "Error\r\nUser locked!\r\n", headers=[
            ("WWW-Authenticate", f'Digest realm="{realm}", qop="auth", nonce="locked", '
             "algorithm=MD5")])
        self.http = HttpDevice(
            auth=auth, username=username, password=password, realm=realm,
            lockout_after=lockout_after, lockout_seconds=lockout_seconds,
            lockout_response=locked,
        )
        self.rpc2 = Rpc2Service(username=username, password=password, realm=realm,
                                lockout_after=lockout_after, session_cap=session_cap)
        self.bus = EventBus()
        self.session_cap = session_cap
        self.cgi_events = cgi_events
        self.ptz_enabled = ptz
        self.talk_enabled = talk
        self._use_rtsp = rtsp
        self._source = source
        self.rtsp: RtspServer | None = None
        self.discovery = DiscoveryResponder(self._discovery_info)
        #: Channels whose snapshot CGI always answers an Error body (NVR proxy channels).
        self.snapshot_errors_on = set(snapshot_errors_on)
        self._error_snapshots = 0
        #: ``(code, channel, args)`` of every PTZ command received.
        self.ptz_log: list[tuple[str, str, dict[str, str]]] = []
        self.presets: dict[int, str] = {1: "Gate", 2: "Drive"}
        self.position = [0.0, 0.0, 1.0]
        #: ``(content type, body)`` of every finished talk upload.
        self.talk_uploads: list[tuple[str, bytes]] = []
        self.routes: dict[str, Route] = {}
        self._routes()

    def __repr__(self) -> str:
        return f"<DahuaDevice {self.model.kind} {self.http!r}>"

    # -- lifecycle ----------------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Start the HTTP device, the RTSP server and the discovery responder."""
        if self._use_rtsp:
            self.rtsp = RtspServer(self._source or _shared_source(), path="/cam/realmonitor",
                                   username=self.username, password=self.password)
            await self.rtsp.start()
        await self.http.start()
        await self.discovery.start()

    async def _stop_parts(self) -> None:
        """Stop everything."""
        self.discovery.close()
        await self.http.aclose()
        if self.rtsp is not None:
            await self.rtsp.aclose()

    # -- addresses --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``dahua://127.0.0.1:<port>`` (a hub URL; add ``/<channel>`` for a camera)."""
        return f"dahua://127.0.0.1:{self.http.port}"

    def camera_url(self, channel: int = 1) -> str:
        """``dahua://127.0.0.1:<port>/<channel>``."""
        return f"{self.url}/{channel}"

    @property
    def discovery_target(self) -> tuple[str, int]:
        """Where `camsdk.drivers.dahua._discovery.probe` should send its probe."""
        return self.discovery.target

    # -- observing and faults ---------------------------------------------------------------

    @property
    def event_streams(self) -> int:
        """Event streams (CGI and RPC2) open now."""
        return self.bus.streams()

    @property
    def failed_logins(self) -> int:
        """Wrong credentials received, over HTTP and RPC2."""
        return self.http.failed_logins + self.rpc2.failed_logins

    @property
    def locked(self) -> bool:
        """Whether the account is locked (HTTP or RPC2)."""
        return self.http.locked or self.rpc2.locked

    def requests_to(self, path: str) -> int:
        """Requests received for ``path`` (authentication challenges included)."""
        return sum(1 for r in self.http.requests if r.path == path)

    async def wait_until(
        self, predicate: Callable[[DahuaDevice], bool], timeout: float = 5.0
    ) -> None:
        """Wait until ``predicate(device)`` holds; `TimeoutError` after ``timeout`` seconds.

        Some state changes without a request (an event stream starts its body
        after the answer's head), so the predicate is polled briefly too.
        """
        await wait_until(lambda: bool(predicate(self)), timeout=timeout, interval=0.005)

    def emit(self, code: str, action: str = "Start", index: int = 0, data: Any = None) -> None:
        """Send one event on every open event stream."""
        self.bus.emit(EmittedEvent(code, action, index, data))

    def press_doorbell(self) -> None:
        """A VTO call button press (``DoorBell`` pulse)."""
        self.emit("DoorBell", "Pulse", 0, {"UTC": 0})

    def silence_events(self) -> int:
        """Make the event streams open now go quiet for good (sockets kept open)."""
        return self.bus.silence_streams()

    def error_snapshots(self, count: int) -> None:
        """Answer the next ``count`` snapshot requests with an ``Error`` body (HTTP 200)."""
        self._error_snapshots = count

    def _discovery_info(self) -> dict[str, Any]:
        return {
            "DeviceClass": self.model.device_class, "DeviceType": self.model.model,
            "HttpPort": self.http.port, "MachineName": self.model.name,
            "SerialNo": self.model.serial, "Vendor": self.model.vendor,
            "Version": self.model.firmware, "IPv4Address": {"IPAddress": "192.168.1.108"},
            "Mac": self.model.mac,
        }

    # -- routes ------------------------------------------------------------------------------

    def _routes(self) -> None:
        http = self.http
        table = {
            "magic": ("GET", "/cgi-bin/magicBox.cgi", self._magic),
            "config": ("GET", "/cgi-bin/configManager.cgi", self._config),
            "states": ("GET", "/cgi-bin/LogicDeviceManager.cgi", self._states),
            "snapshot": ("GET", "/cgi-bin/snapshot.cgi", self._snapshot),
            "onvif_snapshot": ("GET", "/onvifsnapshot/media_service/snapshot", self._onvif_still),
            "ptz": ("GET", "/cgi-bin/ptz.cgi", self._ptz),
            "audio_outputs": ("GET", "/cgi-bin/devAudioOutput.cgi", self._audio_outputs),
            "talk": ("POST", "/cgi-bin/audio.cgi", self._talk),
            "events": ("GET", "/cgi-bin/eventManager.cgi", self._events),
        }
        for name, (method, path, handler) in table.items():
            self.routes[name] = http.route(method, path, handler)
        self.routes["rpc2_login"] = http.route("POST", "/RPC2_Login", self.rpc2.login,
                                               auth="none")
        self.routes["rpc2"] = http.route("POST", "/RPC2", self.rpc2.call, auth="none")
        self.routes["notify"] = http.route("GET", "/SubscribeNotify.cgi", self._subscribe_notify,
                                           auth="none")

    def _channel(self, request: Request, key: str = "channel") -> int | None:
        text = request.query.get(key, "1")
        number = int(text) if text.isdigit() else 0
        return number if 1 <= number <= len(self.model.channels) else None

    async def _magic(self, request: Request) -> Response:
        answer = magic_answer(self.model, request.query.get("action", ""))
        return Response(200, answer if answer is not None else ERROR)

    async def _config(self, request: Request) -> Response:
        if request.query.get("action") != "getConfig":
            return Response(200, ERROR)
        port = self.rtsp.port if self.rtsp is not None else 554
        answer = config_table(self.model, request.query.get("name", ""), rtsp_port=port)
        return Response(200, answer if answer is not None else ERROR)

    async def _states(self, request: Request) -> Response:
        if self.model.kind != "nvr" or request.query.get("action") != "getCameraState":
            return Response(200, ERROR)
        return Response(200, camera_states(self.model))

    def _jpeg(self) -> Response:
        channel = self.model.channels[0]
        return Response(200, make_jpeg(channel.width, channel.height), content_type="image/jpeg")

    async def _snapshot(self, request: Request) -> Response:
        channel = self._channel(request)
        if self._error_snapshots > 0 or channel is None or channel in self.snapshot_errors_on:
            self._error_snapshots = max(0, self._error_snapshots - 1)
            # Firmware labels the error body as a picture now and then.
            return Response(200, ERROR.encode(), content_type="image/jpeg")
        return self._jpeg()

    async def _onvif_still(self, request: Request) -> Response:
        if self._channel(request) is None:
            return Response(200, ERROR)
        return self._jpeg()

    async def _ptz(self, request: Request) -> Response:
        if not self.ptz_enabled or self._channel(request) is None:
            return Response(200, ERROR)
        query = request.query
        action = query.get("action", "")
        if action == "getCurrentProtocolCaps":
            return Response(200, "caps.Pan=true\r\ncaps.Tile=true\r\ncaps.Zoom=true\r\n"
                            "caps.Preset=true\r\ncaps.PresetMax=255\r\ncaps.Name=DH-SD\r\n")
        if action == "getStatus":
            pan, tilt, zoom = self.position
            return Response(200, f"status.Postion[0]={pan}\r\nstatus.Postion[1]={tilt}\r\n"
                            f"status.Postion[2]={zoom}\r\nstatus.MoveStatus=Idle\r\n")
        if action == "getPresets":
            lines = [f"presets[{i}].Index={n}\r\npresets[{i}].Name={name}\r\n"
                     f"presets[{i}].Type=0\r\n"
                     for i, (n, name) in enumerate(sorted(self.presets.items()))]
            return Response(200, "".join(lines))
        if action not in ("start", "stop"):
            return Response(200, ERROR)
        code = query.get("code", "")
        args = {k: v for k, v in query.multi_items() if k.startswith("arg") or k == "name"}
        self.ptz_log.append((action, code, args))
        if action == "start":
            number = int(args.get("arg2", "0") or 0)
            if code == "GotoPreset" and number in self.presets:
                self.position = [float(number * 10), 0.0, 1.0]
            elif code == "SetPreset":
                self.presets[number] = f"Preset{number}"
            elif code == "SetPresetName":
                self.presets[number] = args.get("name", "")
        return Response(200, ok())

    async def _audio_outputs(self, request: Request) -> Response:
        if request.query.get("action") != "getCollect":
            return Response(200, ERROR)
        return Response(200, f"result={1 if self.talk_enabled else 0}\r\n")

    async def _talk(self, request: Request) -> Response:
        if not self.talk_enabled or request.query.get("action") != "postAudio":
            return Response(200, ERROR)
        self.talk_uploads.append((request.headers.get("content-type", ""), request.body))
        return Response(200, ok())

    def _capped(self) -> bool:
        cap = self.session_cap
        return cap is not None and self.bus.streams() + self.rpc2.live() >= cap

    async def _events(self, request: Request) -> Response | StreamingResponse:
        if not self.cgi_events:
            return Response(404, "Not Found")
        if request.query.get("action") != "attach":
            return Response(200, ERROR)
        if self._capped():
            return Response(503, "Error\r\nToo many connections\r\n")
        heartbeat = request.query.get("heartbeat", "")
        seconds = float(heartbeat) if heartbeat.isdigit() and int(heartbeat) > 0 else 60.0
        return StreamingResponse(
            200, self.bus.cgi_stream(seconds), chunked=False,
            content_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        )

    async def _subscribe_notify(self, request: Request) -> Response | StreamingResponse:
        session_id = request.query.get("sessionId", "")
        session = self.rpc2.session_of(session_id)
        if session is None or not session.attached:
            return Response(200, ERROR)
        return StreamingResponse(200, self.rpc2_body(session_id, session.sid), chunked=False,
                                 content_type="text/html")

    def rpc2_body(self, session_id: str, sid: int) -> Any:
        """The notify stream of one RPC2 session."""
        return self.bus.rpc2_stream(session_id, sid)

    @property
    def credentials(self) -> Any:
        """`camsdk.Credentials` of the device's account."""
        from camsdk import Credentials

        return Credentials(self.username, self.password)

