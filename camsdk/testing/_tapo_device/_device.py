"""`TapoDevice`: the simulated camera (HTTPS local API, RTSP, ONVIF events)."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from camsdk.testing._http_device import HttpDevice, Request, Response
from camsdk.testing._lifecycle import Simulator
from camsdk.testing._rtsp_server import RtspFault, RtspServer
from camsdk.testing._tls import self_signed_tls

from ._crypto import DeviceChannel, device_confirm, expected_digest, stored_hash
from ._functions import MotorState, call_function, direct_request

__all__ = ["TAPO_TOPICS", "TapoDevice"]

#: Detection -> (ONVIF topic, data item), as Tapo firmware sends them.
TAPO_TOPICS: dict[str, tuple[str, str]] = {
    "motion": ("tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion"),
    "person": ("tns1:RuleEngine/PeopleDetector/People", "IsPeople"),
    "vehicle": ("tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent", "IsVehicle"),
    "pet": ("tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent", "IsPet"),
    "line_crossing": ("tns1:RuleEngine/LineCrossDetector/LineCross", "IsLineCross"),
    "intrusion": ("tns1:RuleEngine/IntrusionDetector/Intrusion", "IsIntrusion"),
    "tamper": ("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper"),
    "baby_cry": ("tns1:RuleEngine/BabyCryDetector/BabyCry", "IsBabyCry"),
}
_SOURCE = {"VideoSourceConfigurationToken": "vsconf",
           "VideoAnalyticsConfigurationToken": "VideoAnalyticsToken",
           "Rule": "MyMotionDetectorRule"}
_PATHS = ("/stream1", "/stream2")
_SOURCES: dict[tuple[str, int], Any] = {}
_PENDING_NONCES = 64
_STOK = re.compile(r"/stok=([0-9A-Za-z]{1,128})/ds")


def _source(codec: str, fps: int) -> Any:
    from camsdk.testing._rtsp_server import generate_source

    key = (codec, fps)
    if key not in _SOURCES:
        _SOURCES[key] = generate_source(width=160, height=120, fps=fps, gop=fps, seconds=1.0,
                                        codec="h265" if codec == "h265" else "h264")
    return _SOURCES[key]


def _onvif_class() -> Any:
    from camsdk.testing._onvif_device import OnvifDevice

    class _TapoOnvif(OnvifDevice):
        """The camera's ONVIF service: no still while the lens is masked."""

        masked = False

        async def _respond(self, method: str, target: str, headers: dict[str, str],
                           body: bytes) -> tuple[int, list[str], bytes]:
            if self.masked and method == "GET" and target.startswith("/onvif/snapshot/"):
                self.requests.append(f"GET {target.split('?', 1)[0]}")
                return 503, ["Content-Type: text/plain"], b"privacy mode"
            answer: tuple[int, list[str], bytes] = await super()._respond(
                method, target, headers, body)
            return answer

    return _TapoOnvif


@dataclass(slots=True)
class _Session:
    stok: str
    created: float
    channel: DeviceChannel | None = None
    requests: int = 0


@dataclass(slots=True)
class _Lockout:
    failures: int = 0
    until: float = 0.0
    lockouts: int = 0


@dataclass(slots=True)
class _Counters:
    logins: int = 0
    failed_logins: int = 0
    probes: int = 0
    expired: int = 0
    tag_failures: int = 0
    login_params: list[dict[str, Any]] = field(default_factory=list)


class TapoDevice(Simulator):
    """A simulated Tapo camera on 127.0.0.1 (see `camsdk.testing._tapo_device`)."""

    def __init__(
        self,
        *,
        username: str = "admin",
        password: str = "tapo-cloud-sim",
        stream_user: str = "camera-user",
        stream_password: str = "tapo-stream-sim",
        secure: bool = True,
        password_hash: Literal["md5", "sha256"] = "sha256",
        tpap: bool = False,
        user_group: str = "root",
        model: str = "C210",
        hardware: str = "2.0",
        firmware: str = "1.4.3 Build 241010 Rel.33858n",
        name: str = "Tapo Sim",
        mac: str = "40-AE-30-00-00-01",
        device_id: str = "8022A1B2C3D4E5F60718293A4B5C6D7E8F901234",
        legacy_format: bool = False,
        ptz: bool = True,
        lens_mask: bool = True,
        baby_cry: bool = True,
        motor_stop: bool = True,
        motor_form: Literal["direct", "batched", "both"] = "both",
        privacy_mode: bool = False,
        privacy_stream: Literal["stop", "placeholder"] = "stop",
        session_ttl: float | None = None,
        session_requests: int | None = None,
        lockout_after: int | None = None,
        lockout_seconds: int = 1800,
        report_rtsp_port: bool = False,
        codec: Literal["h264", "h265"] = "h264",
        fps: int = 15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username, self.password = username, password
        self.stream_user, self.stream_password = stream_user, stream_password
        self.secure, self.password_hash, self.tpap = secure, password_hash, tpap
        self.user_group = user_group
        self.model, self.hardware, self.firmware, self.name = model, hardware, firmware, name
        self.mac, self.device_id = mac, device_id
        self.legacy_format = legacy_format
        self.ptz, self.lens_mask, self.baby_cry, self.motor_stop = ptz, lens_mask, baby_cry, \
            motor_stop
        self.motor_form = motor_form
        self.privacy_mode = privacy_mode
        self.privacy_stream = privacy_stream
        self.session_ttl, self.session_requests = session_ttl, session_requests
        self.lockout_after, self.lockout_seconds = lockout_after, lockout_seconds
        self.report_rtsp_port = report_rtsp_port
        self.codec, self.fps = codec, fps
        self.resolution = (160, 120)
        self.clock = clock
        self.http = HttpDevice(log_size=200)
        self.certificate = b""
        self.rtsp: RtspServer | None = None
        self.onvif: Any = None
        self.motor = MotorState()
        self.sessions: dict[str, _Session] = {}
        self.counters = _Counters()
        self.lock = _Lockout()
        #: Functions called, in order (``multipleRequest`` members and direct requests).
        self.functions: list[str] = []
        self._nonces: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Start the HTTPS API, RTSP and ONVIF."""
        context, self.certificate = self_signed_tls("tapo.local")
        self.http.tls = context
        self.http.route("POST", "/", self._login)
        self.http.route("POST", _STOK, self._api)
        await self.http.start()
        source = _source(self.codec, self.fps)
        # One stream on both of Tapo's paths (main and sub).
        self.rtsp = RtspServer(source, path="/stream1", accept_path=_PATHS.__contains__,
                               username=self.stream_user, password=self.stream_password,
                               realm="TP-LINK IP-Camera")
        await self.rtsp.start()
        self.onvif = _onvif_class()(username=self.stream_user, password=self.stream_password,
                                 ptz=False, model=self.model, vendor="tp-link",
                                 name=self.name, serial=self.device_id[:16], source=source)
        await self.onvif.start()
        if self.privacy_mode:
            self.set_privacy(True)

    async def _stop_parts(self) -> None:
        """Stop everything."""
        await self.http.aclose()
        if self.onvif is not None:
            await self.onvif.aclose()
        if self.rtsp is not None:
            await self.rtsp.aclose()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The HTTPS port of the local API."""
        return self.http.port

    @property
    def rtsp_port(self) -> int:
        """The RTSP port."""
        assert self.rtsp is not None, "start the device first"
        return self.rtsp.port

    @property
    def onvif_port(self) -> int:
        """The ONVIF port (2020 on a real camera)."""
        assert self.onvif is not None, "start the device first"
        port: int = self.onvif.port
        return port

    @property
    def url(self) -> str:
        """``tapo://127.0.0.1:<port>?rtsp_port=..&onvif_port=..`` (no credentials)."""
        return (f"tapo://127.0.0.1:{self.port}?rtsp_port={self.rtsp_port}"
                f"&onvif_port={self.onvif_port}")

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the device certificate (hex)."""
        import hashlib

        return hashlib.sha256(self.certificate).hexdigest()

    def __repr__(self) -> str:
        variant = "secure" if self.secure else "legacy"
        return f"<TapoDevice {self.model} {variant} {self._state}>"

    # -- what tests do -----------------------------------------------------------------------

    def set_privacy(self, on: bool) -> None:
        """Switch the lens mask as the app would; with ``privacy_stream="stop"`` RTSP stops."""
        self.privacy_mode = on
        if self.rtsp is not None and self.privacy_stream == "stop":
            if on:
                self.rtsp.inject(RtspFault.DROP)
            else:
                self.rtsp.clear_faults(RtspFault.DROP)
        if self.onvif is not None:
            # No still while the lens is covered: neither its URI nor the picture.
            self.onvif.masked = on
            if on:
                self.onvif.unsupported.add("GetSnapshotUri")
            else:
                self.onvif.unsupported.discard("GetSnapshotUri")

    def detect(self, what: str, on: bool = True) -> int:
        """Send a detection start (or end) as Tapo's ONVIF notification; subscribers reached."""
        topic, item = TAPO_TOPICS[what]
        count: int = self.onvif.emit(topic, {item: "true" if on else "false"}, dict(_SOURCE))
        return count

    def expire_sessions(self) -> None:
        """Forget every session token (the next request gets -40401)."""
        self.sessions.clear()

    def unlock(self) -> None:
        """End a lockout and forget the failures counted so far."""
        self.lock.failures, self.lock.until = 0, 0.0

    @property
    def locked(self) -> bool:
        """Whether logins are locked now."""
        return self.clock() < self.lock.until

    def clock_seconds(self) -> int:
        """The device clock, seconds since 1970."""
        return int(time.time())

    # -- login -------------------------------------------------------------------------------

    def _failed(self) -> Response:
        self.counters.failed_logins += 1
        self.lock.failures += 1
        if self.lockout_after is not None and self.lock.failures >= self.lockout_after:
            self.lock.until = self.clock() + self.lockout_seconds
            self.lock.lockouts += 1
            self.lock.failures = 0
        return Response.json({"error_code": -40411, "result": {"data": {"code": -40411}}},
                             status=401)

    def _locked_answer(self) -> Response:
        left = max(1, round(self.lock.until - self.clock()))
        return Response.json({"error_code": -40404, "result": {"data": {
            "code": -40404, "sec_left": left, "time": self.lockout_seconds // 60,
            "max_time": self.lockout_seconds // 60}}})

    async def _login(self, request: Request) -> Response:
        try:
            body = json.loads(request.body)
        except ValueError:
            return Response.json({"error_code": -40210})
        params = body.get("params") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("method") != "login" or \
                not isinstance(params, dict):
            return Response.json({"error_code": -40210})
        self.counters.login_params.append({k: "***" if k in ("password", "digest_passwd")
                                           else v for k, v in params.items()})
        if self.locked:
            return self._locked_answer()
        if self.tpap:
            return Response.json({"error_code": -40211})
        if params.get("encrypt_type") == "3":
            if not self.secure:
                return Response.json({"error_code": -40210})
            return self._secure_login(params)
        if self.secure:
            return Response.json({"error_code": -40413, "result": {"data": {
                "code": -40413, "encrypt_type": ["3"]}}})
        if params.get("username") != self.username or params.get("hashed") is not True:
            return self._failed()
        if params.get("password") != stored_hash(self.password, "md5"):
            return self._failed()
        return self._new_session(None)

    def _secure_login(self, params: dict[str, Any]) -> Response:
        cnonce = params.get("cnonce")
        if not isinstance(cnonce, str) or not 8 <= len(cnonce) <= 64:
            return Response.json({"error_code": -40210})
        if params.get("username") != self.username:
            return self._failed()
        stored = stored_hash(self.password, self.password_hash)
        digest = params.get("digest_passwd")
        if digest is None:
            self.counters.probes += 1
            fresh = secrets.token_hex(8).upper()
            if len(self._nonces) >= _PENDING_NONCES:
                self._nonces.pop(next(iter(self._nonces)))
            self._nonces[cnonce] = fresh
            return Response.json({"error_code": -40413, "result": {"data": {
                "code": -40413, "encrypt_type": ["3"], "key": "",
                "nonce": fresh, "device_confirm": device_confirm(stored, cnonce, fresh)}}})
        nonce = self._nonces.pop(cnonce, "")
        if not nonce:
            return Response.json({"error_code": -40413, "result": {"data": {"code": -40413}}})
        if not isinstance(digest, str) or not secrets.compare_digest(
                digest, expected_digest(stored, cnonce, nonce)):
            return self._failed()
        return self._new_session(DeviceChannel(stored, cnonce, nonce))

    def _new_session(self, channel: DeviceChannel | None) -> Response:
        self.lock.failures = 0
        self.counters.logins += 1
        stok = secrets.token_hex(16)
        self.sessions[stok] = _Session(stok, self.clock(), channel)
        result: dict[str, Any] = {"stok": stok, "user_group": self.user_group}
        if channel is not None:
            result["start_seq"] = channel.start_seq
        return Response.json({"error_code": 0, "result": result})

    # -- the API -----------------------------------------------------------------------------

    def _session_for(self, stok: str) -> _Session | None:
        session = self.sessions.get(stok)
        if session is None:
            return None
        session.requests += 1
        aged = self.session_ttl is not None and self.clock() - session.created > self.session_ttl
        worn = self.session_requests is not None and session.requests > self.session_requests
        if aged or worn:
            del self.sessions[stok]
            return None
        return session

    async def _api(self, request: Request) -> Response:
        assert request.match is not None
        session = self._session_for(request.match.group(1))
        if session is None:
            self.counters.expired += 1
            return Response.json({"error_code": -40401}, status=500 if self.secure else 200)
        try:
            body = json.loads(request.body)
        except ValueError:
            return Response.json({"error_code": -40210})
        if not isinstance(body, dict):
            return Response.json({"error_code": -40210})
        channel = session.channel
        if channel is None:
            return Response.json(self._dispatch(body))
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        assert isinstance(params, dict)
        if body.get("method") != "securePassthrough" or not isinstance(
                params.get("request"), str):
            return Response.json({"error_code": -40210})
        if not channel.tag_ok(request.body, request.headers.get("seq", ""),
                              request.headers.get("tapo_tag", "")):
            self.counters.tag_failures += 1
            return Response.json({"error_code": -1})
        try:
            inner = json.loads(channel.open(params["request"]))
        except ValueError:
            return Response.json({"error_code": -40210})
        answer = self._dispatch(inner if isinstance(inner, dict) else {})
        return Response.json({"error_code": 0, "result": {
            "response": channel.seal(json.dumps(answer).encode())}})

    def _dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        method = request.get("method")
        if method == "multipleRequest":
            params = request.get("params")
            calls = params.get("requests") if isinstance(params, dict) else None
            if not isinstance(calls, list):
                return {"error_code": -40210}
            responses = []
            for call in calls[:32]:
                name = str(call.get("method", "")) if isinstance(call, dict) else ""
                code, result = call_function(self, name, call.get("params") if isinstance(
                    call, dict) else None)
                item: dict[str, Any] = {"method": name, "error_code": code}
                if code == 0:
                    item["result"] = result
                responses.append(item)
            return {"error_code": 0, "result": {"responses": responses}}
        if method in ("do", "get", "set"):
            return direct_request(self, request)
        code, result = call_function(self, str(method), request.get("params"))
        return {"error_code": code, "result": result} if code == 0 else {"error_code": code}

