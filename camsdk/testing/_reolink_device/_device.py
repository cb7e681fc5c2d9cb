"""`ReolinkDevice`: the simulated camera or NVR (HTTP JSON API, RTSP, ONVIF, discovery)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterable
from typing import Any, Literal, cast

from camsdk.testing._http_device import HttpDevice, Request, Response
from camsdk.testing._lifecycle import Simulator
from camsdk.testing._rtsp_server import RtspServer

from ._commands import WAKING, answer, error, ok
from ._state import AI_TYPES, Account, SimChannel

__all__ = ["ONVIF_TOPICS", "ReolinkDevice"]

_PREVIEW = re.compile(r"/(h264|h265)?Preview_(\d\d)_(main|sub|ext)")
#: ONVIF topics Reolink firmware uses for its states (the state item in brackets).
ONVIF_TOPICS = {
    "md": ("tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion"),
    "people": ("tns1:RuleEngine/MyRuleDetector/PeopleDetect", "State"),
    "vehicle": ("tns1:RuleEngine/MyRuleDetector/VehicleDetect", "State"),
    "dog_cat": ("tns1:RuleEngine/MyRuleDetector/DogCatDetect", "State"),
    "face": ("tns1:RuleEngine/MyRuleDetector/FaceDetect", "State"),
    "package": ("tns1:RuleEngine/MyRuleDetector/Package", "State"),
    "visitor": ("tns1:RuleEngine/MyRuleDetector/Visitor", "State"),
}
_JSON = "text/html"  # what Reolink firmware labels its JSON answers
_SOURCES: dict[str, Any] = {}
_JPEG: list[bytes] = []


def _source(codec: str) -> Any:
    from camsdk.testing._rtsp_server import generate_source

    if codec not in _SOURCES:
        _SOURCES[codec] = generate_source(width=160, height=120, fps=15, gop=15, seconds=1.0,
                                          codec="h265" if codec == "h265" else "h264")
    return _SOURCES[codec]


def _jpeg() -> bytes:
    if not _JPEG:
        from camsdk._pipeline._codec import decode_keyframe, encode_jpeg

        loop = _source("h264")
        _JPEG.append(encode_jpeg(decode_keyframe(loop.info, loop.video[0])))
    return _JPEG[0]


class _PreviewRtsp(RtspServer):
    """An `RtspServer` that also answers Reolink's ``<codec>Preview_<NN>_<profile>`` paths."""

    def __init__(self, device: ReolinkDevice, source: Any, **kwargs: Any) -> None:
        super().__init__(source, path="/stream", **kwargs)
        self._device = device

    def _path_matches(self, path: str) -> bool:
        return super()._path_matches(path) or self._device.accepts_rtsp(path)


class _DiscoveryResponder(asyncio.DatagramProtocol):
    def __init__(self, device: ReolinkDevice) -> None:
        self.device = device
        self.transport: asyncio.DatagramTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data == bytes((0xAA, 0xAA, 0, 0)) and self.transport is not None:
            self.device.probes += 1
            self.transport.sendto(self.device.discovery_reply(data), addr)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class ReolinkDevice(Simulator):
    """A simulated Reolink camera (``channels=1``) or NVR / Home Hub on 127.0.0.1.

    The JSON API runs on an `HttpDevice` (``device.http``: its faults apply,
    e.g. ``device.http.split_chunks([7])`` or ``content_length(10)``), the
    streams on an `RtspServer` with Digest auth (``device.rtsp``), the
    optional ONVIF notifications on an `OnvifDevice` (``onvif=True``) and
    LAN discovery on a loopback UDP responder (``discovery_target``).
    ``legacy=True`` answers like firmware before v3 (``GetEnc`` without
    ``vType``/``width``, ``GetAiState`` as bare numbers, no ``GetRtspUrl``).

    Faults: ``lockout_after`` wrong passwords lock the account;
    ``max_sessions`` caps tokens (rspCode -5); `forget_tokens` is a reboot
    (rspCode -6 on the next command); `snapshot_errors` answers the next N
    snapshots with a JSON error body; `silence_events` makes state polls
    hang without an answer (a half-open device) until `restore_events`.
    """

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "reolink-sim",
        channels: int = 1,
        nvr: bool | None = None,
        model: str | None = None,
        serial: str = "SIM0000REOLINK01",
        firmware: str = "v3.1.0.2347_23061923",
        name: str = "Reolink Sim",
        exact_type: str = "",
        codec: Literal["h264", "h265"] = "h264",
        ptz: bool = False,
        battery: Iterable[int] = (),
        doorbell: bool = False,
        ai_types: tuple[str, ...] = ("people", "vehicle", "dog_cat"),
        offline: Iterable[int] = (),
        refuse_stream: Iterable[int] = (),
        profiles: tuple[str, ...] = ("main", "sub"),
        onvif: bool = False,
        legacy: bool = False,
        lease_time: int = 3600,
        max_sessions: int = 10,
        lockout_after: int | None = None,
        lockout_seconds: float = 30.0,
        advertised_host: str = "192.0.2.10",
        rtsp_enabled: bool = True,
    ) -> None:
        self.nvr = channels > 1 if nvr is None else nvr
        self.model = model or ("RLN16-410" if self.nvr else "RLC-810A")
        self.serial, self.firmware, self.name = serial, firmware, name
        self.exact_type = exact_type
        self.mac = "EC:71:DB:00:00:01"
        self.profiles = profiles
        self.legacy = legacy
        self.rtsp_url_cmd = not legacy
        self.rtsp_enabled = rtsp_enabled
        self.advertised_host = advertised_host
        self.onvif_enabled = onvif
        self.account = Account(username=username, password=password, lease_time=lease_time,
                               max_sessions=max_sessions, lockout_after=lockout_after,
                               lockout_seconds=lockout_seconds)
        self._password = password
        batteries, gone, refused = set(battery), set(offline), set(refuse_stream)
        self.channels: dict[int, SimChannel] = {}
        for number in range(channels):
            self.channels[number] = SimChannel(
                channel=number, name=f"Camera {number + 1}" if self.nvr else name,
                model="Argus 3 Pro" if number in batteries else "RLC-810A",
                uid=f"95270000{number:08d}", online=number not in gone, codec=codec,
                ptz=ptz, battery=number in batteries, sleeping=number in batteries,
                doorbell=doorbell, ai_types=tuple(t for t in ai_types if t in AI_TYPES),
                refuse_stream=number in refused,
            )
        self.http = HttpDevice()
        self.rtsp: RtspServer | None = None
        self.onvif: Any = None
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_closed: asyncio.Future[None] | None = None
        self._silent = asyncio.Event()
        self._silent.set()
        #: Snapshots still to be answered with an error body.
        self.snapshot_errors = 0
        #: RTSP requests on Reolink stream paths (their paths), in order.
        self.rtsp_paths: list[str] = []
        self.probes = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Start the HTTP API, RTSP, ONVIF (if asked) and the discovery responder."""
        codec = next(iter(self.channels.values())).codec
        self.rtsp = _PreviewRtsp(self, _source(codec), username=self.account.username,
                                 password=self._password)
        await self.rtsp.start()
        for path in ("/cgi-bin/api.cgi", "/api.cgi"):
            self.http.route("*", path, self._api)
        await self.http.start()
        if self.onvif_enabled:
            from camsdk.testing._onvif_device import OnvifDevice

            self.onvif = OnvifDevice(username=self.account.username, password=self._password,
                                     channels=len(self.channels), ptz=False, model=self.model,
                                     vendor="Reolink", source=_source(codec))
            await self.onvif.start()
        loop = asyncio.get_running_loop()
        transport, responder = await loop.create_datagram_endpoint(
            lambda: _DiscoveryResponder(self), local_addr=("127.0.0.1", 0))
        self._udp, self._udp_closed = transport, responder.closed

    async def _stop_parts(self) -> None:
        """Stop everything."""
        self._silent.set()
        if self._udp is not None:
            self._udp.close()
            if self._udp_closed is not None:
                with contextlib.suppress(Exception):
                    await self._udp_closed
        await self.http.aclose()
        if self.onvif is not None:
            await self.onvif.aclose()
        if self.rtsp is not None:
            await self.rtsp.aclose()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The HTTP port of the JSON API."""
        return self.http.port

    @property
    def rtsp_port(self) -> int:
        """The RTSP port (reported by GetNetPort)."""
        assert self.rtsp is not None, "start the device first"
        return self.rtsp.port

    @property
    def onvif_port(self) -> int | None:
        """The ONVIF port, when ONVIF runs."""
        return self.onvif.port if self.onvif is not None else None

    @property
    def url(self) -> str:
        """``reolink://127.0.0.1:<port>`` (channel 0), no credentials."""
        return f"reolink://127.0.0.1:{self.port}"

    def channel_url(self, channel: int) -> str:
        """``reolink://127.0.0.1:<port>/<channel>``."""
        return f"{self.url}/{channel}"

    @property
    def discovery_target(self) -> tuple[str, int]:
        """Loopback ``(host, port)`` of the discovery responder (probe it, not the LAN)."""
        assert self._udp is not None, "start the device first"
        host, port = self._udp.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def __repr__(self) -> str:
        kind = "NVR" if self.nvr else "camera"
        return f"<ReolinkDevice {kind} {len(self.channels)} ch {self._state}>"

    # -- what tests do -----------------------------------------------------------------------

    def set_state(self, channel: int, code: str, on: bool) -> None:
        """Turn a state (``md``, ``people``, ``visitor`` ...) on or off, as the camera would.

        With ONVIF running, the notification goes out too (Reolink's topics).
        """
        self.channels[channel].states[code] = on
        if self.onvif is not None and code in ONVIF_TOPICS:
            topic, item = ONVIF_TOPICS[code]
            source = {"VideoSourceConfigurationToken": f"VideoSourceConfig_{channel + 1}"}
            self.onvif.emit(topic, {item: "true" if on else "false"}, source)

    def press_doorbell(self, channel: int = 0) -> None:
        """A visitor pressed the button (``visitor`` on)."""
        self.set_state(channel, "visitor", True)

    def forget_tokens(self) -> None:
        """Drop every session, as a reboot does."""
        self.account.forget_tokens()

    def silence_events(self) -> None:
        """State polls get no answer (the socket stays open) until `restore_events`."""
        self._silent.clear()

    def restore_events(self) -> None:
        """Answer state polls again."""
        self._silent.set()

    def accepts_rtsp(self, path: str) -> bool:
        """Whether a Reolink stream path names an online channel's stream (and wake it)."""
        match = _PREVIEW.fullmatch(path)
        if match is None:
            return False
        channel = self.channels.get(int(match.group(2)) - 1)
        prefix = match.group(1)
        if channel is None or not channel.online or channel.refuse_stream:
            return False
        if prefix is not None and prefix != ("h264" if channel.codec == "h264" else "h265"):
            return False
        if match.group(3) not in self.profiles:
            return False
        self.rtsp_paths.append(path)
        channel.wake()
        return True

    def discovery_reply(self, probe: bytes) -> bytes:
        """The 388-byte answer to a discovery probe."""
        reply = bytearray(388)

        def put(offset: int, text: str, size: int) -> None:
            data = text.encode()[: size - 1]
            reply[offset:offset + len(data)] = data

        put(58, "IPC" if not self.nvr else "NVR", 18)
        reply[80:86] = bytes.fromhex(self.mac.replace(":", ""))
        reply[104:108] = probe
        put(108, "127.0.0.1", 20)
        put(132, self.name, 32)
        put(164, self.mac, 18)
        put(228, "95270000ABCDEF01", 32)
        return bytes(reply)

    # -- the JSON API ------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        cmd = request.query.get("cmd", "")
        token = request.query.get("token")
        if request.method == "GET" and cmd == "Snap":
            return self._snap(request, token)
        try:
            body = json.loads(request.body or b"[]")
        except ValueError:
            return Response.json([error(cmd, -4, "param error")])
        commands = body if isinstance(body, list) else [body]
        if cmd == "Login":
            return Response(200, json.dumps([self._login(commands)]), content_type=_JSON)
        if cmd == "Logout":
            self.account.logout(token)
            return Response(200, json.dumps([ok("Logout", {"rspCode": 200})]), content_type=_JSON)
        if not self.account.valid(token):
            items = [error(str(c.get("cmd", "")), -6, "please login first") for c in commands
                     if isinstance(c, dict)]
            return Response(200, json.dumps(items), content_type=_JSON)
        names = {str(c.get("cmd")) for c in commands if isinstance(c, dict)}
        if names & {"GetMdState", "GetAiState"}:
            await self._silent.wait()  # a silent device: the poll never gets its answer
        items = []
        for command in commands:
            if not isinstance(command, dict):
                items.append(error("", -4, "param error"))
                continue
            name = str(command.get("cmd", ""))
            self.account.commands[name] += 1
            param = command.get("param")
            items.append(answer(self, name, param if isinstance(param, dict) else {}))
        return Response(200, json.dumps(items), content_type=_JSON)

    def _login(self, commands: list[Any]) -> dict[str, Any]:
        self.account.commands["Login"] += 1
        first = commands[0] if commands and isinstance(commands[0], dict) else {}
        user = (first.get("param") or {}).get("User") or {}
        token, code, detail = self.account.login(str(user.get("userName", "")),
                                                 str(user.get("password", "")))
        if token is None:
            return error("Login", code, detail)
        return ok("Login", {"Token": {"leaseTime": self.account.lease_time, "name": token}})

    def _snap(self, request: Request, token: str | None) -> Response:
        self.account.commands["Snap"] += 1
        if not self.account.valid(token):
            return Response(200, json.dumps([error("Snap", -6, "please login first")]),
                            content_type=_JSON)
        channel = self.channels.get(int(request.query.get("channel", "0") or 0))
        if channel is None or not channel.online:
            return Response(200, json.dumps([error("Snap", -17, "rcv failed")]),
                            content_type=_JSON)
        if "Snap" in WAKING:
            channel.wake()
        if self.snapshot_errors > 0:
            self.snapshot_errors -= 1
            # Real firmware labels this error body as a picture now and then.
            return Response(200, json.dumps([error("Snap", -25, "internal error")]),
                            content_type="image/jpeg")
        return Response(200, _jpeg(), content_type="image/jpeg")
