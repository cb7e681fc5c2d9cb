"""`OnvifDevice`: a simulated ONVIF camera (or NVR) on 127.0.0.1 for tests and benchmarks.

It serves SOAP 1.2 over HTTP/1.1 (a small asyncio server, no web framework)
and answers WS-Discovery probes on a loopback UDP socket; its stream URIs
point at a `camsdk.testing.RtspServer` it runs itself, so a test can go from
discovery to a decoded frame::

    async with OnvifDevice(username="admin", password="pw") as device:
        async with camsdk.open(device.url, credentials=camsdk.Credentials("admin", "pw")) as cam:
            ...
        device.emit("tns1:RuleEngine/CellMotionDetector/Motion", {"IsMotion": "true"})

What it implements: device (``GetSystemDateAndTime``, ``GetDeviceInformation``,
``GetServices``, ``GetCapabilities``, ``GetScopes``), Media1 and Media2
(``GetProfiles``, ``GetStreamUri``, ``GetSnapshotUri``) with a JPEG snapshot
URL, PTZ (``GetNodes``, ``GetNode``, ``AbsoluteMove``, ``RelativeMove``,
``ContinuousMove`` with ``Timeout``, ``Stop``, ``GetStatus``, presets, home)
on generic spaces, and PullPoint events (``CreatePullPointSubscription``,
``PullMessages`` long polls, ``Renew``, ``Unsubscribe``; subscriptions expire).
PTZ moves raise cell-motion events, as a moving camera sees motion.

Quirks to simulate real firmware: ``auth="digest"`` demands HTTP Digest and
answers 401 to WS-Security alone; ``clock_offset`` puts the device clock
hours off (WS-Security tokens are checked against it, +-5 minutes);
``media="2"`` is a Media2-only device; ``channels=N`` an NVR;
``advertised_host`` reports another host in every URL (NAT);
``embed_credentials`` puts the user and password into stream URIs;
``unsupported`` makes operations answer ``ter:ActionNotSupported``;
``max_subscription`` caps subscription lifetimes (to exercise ``Renew``);
``pre_auth`` lists what may be asked without credentials (default: ONVIF's
pre-authentication class, `PRE_AUTH`); ``rtsp_options`` go to its `RtspServer`
(``backchannel="pcm_mulaw"`` for two-way audio, ``metadata=True`` for in-band
events sent with ``device.rtsp.send_metadata(...)``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as safe_et

from camsdk.testing._lifecycle import Simulator

__all__ = ["PRE_AUTH", "OnvifDevice", "OnvifEventMessage"]

_HEADER_LIMIT = 16 * 1024
_BODY_LIMIT = 1024 * 1024
_TOKEN_WINDOW = timedelta(minutes=5)
_MOTION_TOPIC = "tns1:RuleEngine/CellMotionDetector/Motion"

_NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "ter": "http://www.onvif.org/ver10/error",
    "tns1": "http://www.onvif.org/ver10/topics",
}
_DECLS = " ".join(f'xmlns:{k}="{v}"' for k, v in _NS.items())
_GENERIC_PT = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
_GENERIC_ZOOM = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"
_TRANSLATION_PT = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace"
_TRANSLATION_ZOOM = "http://www.onvif.org/ver10/tptz/ZoomSpaces/TranslationGenericSpace"
_VELOCITY_PT = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace"
_VELOCITY_ZOOM = "http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace"
# Which service answers which operation (the rest belong to the device service).
_OPERATION_SERVICE = {
    **dict.fromkeys(("GetProfiles", "GetStreamUri", "GetSnapshotUri"), "media"),
    **dict.fromkeys(
        (
            "GetNodes",
            "GetNode",
            "AbsoluteMove",
            "RelativeMove",
            "ContinuousMove",
            "Stop",
            "GetStatus",
            "GetPresets",
            "SetPreset",
            "GotoPreset",
            "GotoHomePosition",
        ),
        "tptz",
    ),
    "CreatePullPointSubscription": "tev",
}
#: Operations ONVIF puts in the pre-authentication access class.
PRE_AUTH = frozenset(
    {
        "GetSystemDateAndTime",
        "GetServices",
        "GetCapabilities",
        "GetServiceCapabilities",
        "GetWsdlUrl",
        "GetEndpointReference",
    }
)
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element | None, *path: str) -> Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _text(element: Element | None, *path: str) -> str:
    node = _child(element, *path)
    return (node.text or "").strip() if node is not None else ""


def _float(value: str | None, default: float = 0.0) -> float:
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def _duration(value: str, default: float) -> float:
    """A small xs:duration reader (``PT10S``, ``PT1M``, ``PT0.5S``)."""
    text = value.strip().upper()
    if not text.startswith("PT"):
        return default
    total, number = 0.0, ""
    for char in text[2:]:
        if char.isdigit() or char == ".":
            number += char
            continue
        scale = {"H": 3600, "M": 60, "S": 1}.get(char)
        if scale is None or not number:
            return default
        total += float(number) * scale
        number = ""
    return total


def _stamp(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


@dataclass(slots=True)
class OnvifEventMessage:
    """One notification as the device queues it."""

    topic: str
    data: Mapping[str, str]
    source: Mapping[str, str]
    operation: str
    utc_time: datetime
    #: ``time.perf_counter()`` when `OnvifDevice.emit` was called (benchmarks).
    emitted: float = 0.0


@dataclass(slots=True)
class _Subscription:
    id: int
    expires: float  # time.monotonic()
    queue: deque[OnvifEventMessage] = field(default_factory=lambda: deque(maxlen=1000))
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class _PTZHead:
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    since: float = 0.0
    until: float | None = None
    presets: dict[str, tuple[str, tuple[float, float, float]]] = field(default_factory=dict)

    def settle(self, now: float) -> None:
        """Integrate a continuous move up to ``now`` (or its timeout)."""
        if self.velocity == (0.0, 0.0, 0.0):
            return
        end = now if self.until is None else min(now, self.until)
        span = max(0.0, end - self.since)
        self.pan = _clamp(self.pan + self.velocity[0] * span, -1, 1)
        self.tilt = _clamp(self.tilt + self.velocity[1] * span, -1, 1)
        self.zoom = _clamp(self.zoom + self.velocity[2] * span, 0, 1)
        self.since = end
        if self.until is not None and now >= self.until:
            self.velocity, self.until = (0.0, 0.0, 0.0), None

    @property
    def moving(self) -> bool:
        return self.velocity != (0.0, 0.0, 0.0)


class _SoapFault(Exception):
    def __init__(self, code: str, subcode: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.status = code, subcode, reason, status


class OnvifDevice(Simulator):
    """A simulated ONVIF device on a local port (see the module docstring).

    The constructor does no I/O; use ``async with`` or `start`/`aclose`.
    ``source`` is the media loop its RTSP server serves (default: a small
    generated H.264 loop, or H.265 with ``codec="h265"``).
    """

    def __init__(
        self,
        *,
        username: str | None = "admin",
        password: str | None = "onvif-sim",
        auth: Literal["wsse", "digest", "any", "none"] = "any",
        clock_offset: float = 0.0,
        media: Literal["1", "2", "both"] = "both",
        codec: Literal["h264", "h265"] = "h264",
        channels: int = 1,
        ptz: bool = True,
        events: bool = True,
        advertised_host: str | None = None,
        embed_credentials: bool = False,
        unsupported: Iterable[str] = (),
        max_subscription: float | None = None,
        pre_auth: Iterable[str] = PRE_AUTH,
        source: Any = None,
        host: str = "127.0.0.1",
        name: str = "Simulated Camera",
        location: str = "lab",
        vendor: str = "camsdk",
        model: str = "OnvifSim",
        serial: str = "SIM-0001",
        rtsp_options: Mapping[str, Any] | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if channels < 1:
            raise ValueError("channels must be at least 1")
        self.username, self.password = username, password
        self.auth = auth if username is not None else "none"
        self.clock_offset = clock_offset
        self.media = media
        self.codec = codec
        self.channels = channels
        self.ptz = ptz
        self.events = events
        self.host = host
        self.advertised_host = advertised_host or host
        self.embed_credentials = embed_credentials
        self.unsupported = set(unsupported)
        self.max_subscription = max_subscription
        self.pre_auth = frozenset(pre_auth)
        #: Extra `RtspServer` arguments (``backchannel="pcm_mulaw"``, ``metadata=True`` ...).
        self.rtsp_options = dict(rtsp_options or {})
        self.identity = {
            "name": name,
            "location": location,
            "vendor": vendor,
            "model": model,
            "serial": serial,
        }
        self._source = source
        self._realm = "onvif-sim"
        self._nonce = secrets.token_hex(16)
        self._seen_nonces: deque[str] = deque(maxlen=4096)
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._udp_closed: asyncio.Future[None] | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._subscriptions: dict[int, _Subscription] = {}
        self._sub_ids = itertools.count(1)
        self._heads = {channel: _PTZHead() for channel in range(1, channels + 1)}
        self._preset_ids = itertools.count(1)
        self._jpeg: bytes | None = None
        self.rtsp: Any = None
        #: Every SOAP operation (or ``GET <path>``) received, in order.
        self.requests: list[str] = []
        #: Operations answered with a fault, and Renew calls that succeeded.
        self.faults_sent: list[str] = []
        self.renewals = 0
        #: PullMessages requests now held open waiting for a notification.
        self.waiting_pulls = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Start the RTSP server, the SOAP server and the discovery responder."""
        from camsdk.testing._rtsp_server import RtspServer

        source = self._source or _cached_source(self.codec)
        self._source = source
        plain = self.auth == "none"
        self.rtsp = RtspServer(
            source,
            path="/stream",
            host=self.host,
            username=None if plain else self.username,
            password=None if plain else self.password,
            **self.rtsp_options,
        )
        await self.rtsp.start()
        self._server = await asyncio.start_server(self._on_connect, self.host, 0)
        loop = asyncio.get_running_loop()
        self._udp_closed = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _DiscoveryResponder(self), local_addr=(self.host, 0)
        )
        self._udp = transport

    async def _stop_parts(self) -> None:
        """Stop everything and drop every client."""
        for sub in self._subscriptions.values():
            sub.wakeup.set()
        self._subscriptions.clear()
        if self._udp is not None:
            self._udp.close()
            if self._udp_closed is not None:
                with contextlib.suppress(Exception):
                    await self._udp_closed
        server, self._server = self._server, None
        if server is not None:
            server.close()
        # Closing the sockets ends each handler's read; only a stuck one is cancelled.
        for writer in list(self._writers):
            writer.transport.abort()
        handlers = list(self._handlers)
        if handlers:
            _, stuck = await asyncio.wait(handlers, timeout=2.0)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        if self.rtsp is not None:
            await self.rtsp.aclose()

    # -- addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The HTTP port of the SOAP services."""
        if self._server is None:
            raise RuntimeError("OnvifDevice is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``onvif://127.0.0.1:<port>`` (no credentials)."""
        return f"onvif://{self.host}:{self.port}"

    @property
    def device_url(self) -> str:
        """The device service XAddr as the device reports it."""
        return self._http("/onvif/device_service")

    @property
    def discovery_target(self) -> tuple[str, int]:
        """Loopback ``(host, port)`` of the WS-Discovery responder (probe it, not multicast)."""
        if self._udp is None:
            raise RuntimeError("OnvifDevice is not started")
        host, port = self._udp.get_extra_info("sockname")[:2]
        return str(host), int(port)

    @property
    def subscriptions(self) -> int:
        """Live PullPoint subscriptions."""
        self._expire()
        return len(self._subscriptions)

    async def wait_until(self, predicate: Callable[[OnvifDevice], bool]) -> None:
        """Wait until ``predicate(device)`` holds; re-checked after every request.

        Bound it with a timeout: it waits for as long as it takes.
        """
        await self._wait_for(lambda: predicate(self), None)

    def _http(self, path: str) -> str:
        return f"http://{self.advertised_host}:{self.port}{path}"

    def device_now(self) -> datetime:
        """The device clock (ours plus ``clock_offset``)."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "unbound"
        return f"<OnvifDevice {where} {self._state} auth={self.auth} media={self.media}>"

    # -- events ------------------------------------------------------------------------

    def emit(
        self,
        topic: str,
        data: Mapping[str, str],
        source: Mapping[str, str] | None = None,
        operation: str = "Changed",
    ) -> int:
        """Queue a notification for every live subscription; returns how many got it."""
        self._expire()
        message = OnvifEventMessage(
            topic=topic,
            data=dict(data),
            source=dict(source) if source is not None else self._channel_source(1),
            operation=operation,
            utc_time=self.device_now(),
            emitted=time.perf_counter(),
        )
        for sub in self._subscriptions.values():
            sub.queue.append(message)
            sub.wakeup.set()
        return len(self._subscriptions)

    def _channel_source(self, channel: int) -> dict[str, str]:
        return {
            "VideoSourceConfigurationToken": f"VideoSourceConfig_{channel}",
            "VideoAnalyticsConfigurationToken": f"Analytics_{channel}",
            "Rule": "MyMotionDetectorRule",
        }

    def _motion(self, channel: int, active: bool) -> None:
        self.emit(
            _MOTION_TOPIC,
            {"IsMotion": "true" if active else "false"},
            self._channel_source(channel),
        )

    def _expire(self) -> None:
        now = time.monotonic()
        for sub_id in [i for i, s in self._subscriptions.items() if s.expires <= now]:
            self._subscriptions.pop(sub_id).wakeup.set()

    # -- HTTP --------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while self._state == "running":
                request = await self._read_request(reader)
                if request is None:
                    break
                status, headers, body = await self._respond(*request)
                head = [
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                    f"Content-Length: {len(body)}",
                    *headers,
                    "",
                    "",
                ]
                writer.write("\r\n".join(head).encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # The top of a server-owned task: asyncio's done callback would report it.
            pass
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, dict[str, str], bytes] | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        if len(head) > _HEADER_LIMIT:
            return None
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length > _BODY_LIMIT:
            return None
        body = await reader.readexactly(length) if length else b""
        return parts[0], parts[1], headers, body

    async def _respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[str], bytes]:
        path = target.split("?", 1)[0]
        if method == "GET" and path.startswith("/onvif/snapshot/"):
            self.requests.append(f"GET {path}")
            self._notify()
            if self.auth != "none" and not self._digest_ok(method, target, headers):
                return self._challenge()
            return 200, ["Content-Type: image/jpeg"], self._snapshot_jpeg()
        if method != "POST":
            return 404, ["Content-Type: text/plain"], b"not found"
        try:
            envelope = safe_et.fromstring(body, forbid_dtd=True)
        except Exception:
            return self._fault_response(_SoapFault("s:Sender", "ter:WellFormed", "bad XML"))
        body_element = _child(envelope, "Body")
        payload = next(iter(body_element), None) if body_element is not None else None
        if payload is None:
            return self._fault_response(_SoapFault("s:Sender", "ter:WellFormed", "no body"))
        operation = _local(payload.tag)
        self.requests.append(operation)
        self._notify()
        if operation not in self.pre_auth and self.auth != "none":
            wsse_ok = self._wsse_ok(_child(envelope, "Header", "Security"))
            digest_ok = self._digest_ok(method, target, headers)
            if self.auth == "digest" and not digest_ok:
                return self._challenge()
            if self.auth == "wsse" and not wsse_ok:
                return self._fault_response(self._not_authorized(operation))
            if self.auth == "any" and not (wsse_ok or digest_ok):
                return self._fault_response(self._not_authorized(operation))
        try:
            if operation in self.unsupported:
                raise _SoapFault(
                    "s:Receiver", "ter:ActionNotSupported", f"{operation} is not supported", 500
                )
            answer = await self._dispatch(path, operation, payload)
        except _SoapFault as fault:
            return self._fault_response(fault, operation)
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {_DECLS}><s:Body>'
            f"{answer}</s:Body></s:Envelope>"
        )
        return 200, ["Content-Type: application/soap+xml; charset=utf-8"], text.encode()

    def _not_authorized(self, operation: str) -> _SoapFault:
        self.faults_sent.append(operation)
        return _SoapFault("s:Sender", "ter:NotAuthorized", "Sender not Authorized")

    def _fault_response(
        self, fault: _SoapFault, operation: str | None = None
    ) -> tuple[int, list[str], bytes]:
        if operation is not None:
            self.faults_sent.append(operation)
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope {_DECLS}><s:Body><s:Fault>'
            f"<s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{fault.subcode}"
            f'</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">'
            f"{escape(fault.reason)}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
        )
        return fault.status, ["Content-Type: application/soap+xml; charset=utf-8"], text.encode()

    def _challenge(self) -> tuple[int, list[str], bytes]:
        header = (
            f'WWW-Authenticate: Digest realm="{self._realm}", qop="auth", '
            f'nonce="{self._nonce}", algorithm=MD5'
        )
        return 401, [header, "Content-Type: text/plain"], b"Unauthorized"

    # -- authentication ----------------------------------------------------------------

    def _wsse_ok(self, security: Element | None) -> bool:
        token = _child(security, "UsernameToken")
        if token is None or self.password is None:
            return False
        created_text = _text(token, "Created")
        nonce_text = _text(token, "Nonce")
        try:
            created = datetime.fromisoformat(created_text.replace("Z", "+00:00"))
            nonce = base64.b64decode(nonce_text, validate=True)
        except ValueError:
            return False
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if abs(created - self.device_now()) > _TOKEN_WINDOW or nonce_text in self._seen_nonces:
            return False
        expected = base64.b64encode(
            hashlib.sha1(nonce + created_text.encode() + self.password.encode()).digest()
        ).decode()
        ok = _text(token, "Username") == self.username and hmac.compare_digest(
            expected, _text(token, "Password")
        )
        if ok:
            self._seen_nonces.append(nonce_text)
        return ok

    def _digest_ok(self, method: str, target: str, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        if not value.lower().startswith("digest ") or self.password is None:
            return False
        params = {}
        for part in _split_params(value[7:]):
            key, _, raw = part.partition("=")
            params[key.strip().lower()] = raw.strip().strip('"')
        if params.get("username") != self.username or params.get("nonce") != self._nonce:
            return False
        ha1 = _md5(f"{self.username}:{self._realm}:{self.password}")
        ha2 = _md5(f"{method}:{params.get('uri', target)}")
        if params.get("qop"):
            expected = _md5(
                f"{ha1}:{self._nonce}:{params.get('nc', '')}:"
                f"{params.get('cnonce', '')}:{params['qop']}:{ha2}"
            )
        else:
            expected = _md5(f"{ha1}:{self._nonce}:{ha2}")
        return hmac.compare_digest(expected, params.get("response", ""))

    # -- operations --------------------------------------------------------------------

    async def _dispatch(self, path: str, operation: str, payload: Element) -> str:
        handler = getattr(self, f"_op_{operation}", None)
        if path.startswith("/onvif/subscription/"):
            return await self._subscription_op(path, operation, payload)
        service = path.rsplit("/", 1)[-1]
        allowed = {
            "device_service": "tds",
            "media_service": "trt",
            "media2_service": "tr2",
            "ptz_service": "tptz",
            "events_service": "tev",
        }.get(service)
        if handler is None or allowed is None or not self._offers(allowed):
            raise _SoapFault(
                "s:Receiver", "ter:ActionNotSupported", f"{operation} is not supported here", 500
            )
        prefix = _OPERATION_SERVICE.get(operation, "tds")
        if prefix != allowed and not (prefix == "media" and allowed in ("trt", "tr2")):
            raise _SoapFault(
                "s:Receiver", "ter:ActionNotSupported", f"{operation} is not supported here", 500
            )
        result: str = await handler(payload, allowed)
        return result

    def _offers(self, ns: str) -> bool:
        return {
            "tds": True,
            "trt": self.media in ("1", "both"),
            "tr2": self.media in ("2", "both"),
            "tptz": self.ptz,
            "tev": self.events,
        }[ns]

    async def _op_GetSystemDateAndTime(self, payload: Element, ns: str) -> str:
        now = self.device_now()
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>"
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year>"
            f"<tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date>"
            "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    async def _op_GetDeviceInformation(self, payload: Element, ns: str) -> str:
        ident = self.identity
        return (
            "<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{escape(ident['vendor'])}</tds:Manufacturer>"
            f"<tds:Model>{escape(ident['model'])}</tds:Model>"
            "<tds:FirmwareVersion>1.0.0</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(ident['serial'])}</tds:SerialNumber>"
            "<tds:HardwareId>SIM-HW-1</tds:HardwareId></tds:GetDeviceInformationResponse>"
        )

    def scopes(self) -> list[str]:
        """The device's scope URIs (discovery and GetScopes)."""
        from urllib.parse import quote

        ident = self.identity
        return [
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/Profile/Streaming",
            f"onvif://www.onvif.org/name/{quote(ident['name'])}",
            f"onvif://www.onvif.org/location/{quote(ident['location'])}",
            f"onvif://www.onvif.org/hardware/{quote(ident['model'])}",
            f"onvif://www.onvif.org/mfr/{quote(ident['vendor'])}",
        ]

    async def _op_GetScopes(self, payload: Element, ns: str) -> str:
        items = "".join(
            f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{escape(s)}</tt:ScopeItem>"
            "</tds:Scopes>"
            for s in self.scopes()
        )
        return f"<tds:GetScopesResponse>{items}</tds:GetScopesResponse>"

    def _services(self) -> list[tuple[str, str, str]]:
        out = [("device", _NS["tds"], "/onvif/device_service")]
        if self.media in ("1", "both"):
            out.append(("media", _NS["trt"], "/onvif/media_service"))
        if self.media in ("2", "both"):
            out.append(("media2", _NS["tr2"], "/onvif/media2_service"))
        if self.ptz:
            out.append(("ptz", _NS["tptz"], "/onvif/ptz_service"))
        if self.events:
            out.append(("events", _NS["tev"], "/onvif/events_service"))
        return out

    async def _op_GetServices(self, payload: Element, ns: str) -> str:
        items = []
        for key, namespace, path in self._services():
            caps = ""
            if key == "events" and _text(payload, "IncludeCapability").lower() == "true":
                caps = (
                    '<tds:Capabilities><tev:Capabilities WSPullPointSupport="true" '
                    'WSSubscriptionPolicySupport="false"/></tds:Capabilities>'
                )
            items.append(
                f"<tds:Service><tds:Namespace>{namespace}</tds:Namespace>"
                f"<tds:XAddr>{self._http(path)}</tds:XAddr>{caps}<tds:Version>"
                "<tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            )
        return f"<tds:GetServicesResponse>{''.join(items)}</tds:GetServicesResponse>"

    async def _op_GetCapabilities(self, payload: Element, ns: str) -> str:
        parts = [
            f"<tt:Device><tt:XAddr>{self._http('/onvif/device_service')}</tt:XAddr></tt:Device>"
        ]
        if self.events:
            parts.append(
                f"<tt:Events><tt:XAddr>{self._http('/onvif/events_service')}</tt:XAddr>"
                "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
                "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
                "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
                "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>"
            )
        if self.media in ("1", "both"):
            parts.append(
                f"<tt:Media><tt:XAddr>{self._http('/onvif/media_service')}</tt:XAddr>"
                "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
                "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
                "</tt:StreamingCapabilities></tt:Media>"
            )
        if self.ptz:
            parts.append(
                f"<tt:PTZ><tt:XAddr>{self._http('/onvif/ptz_service')}</tt:XAddr></tt:PTZ>"
            )
        return (
            f"<tds:GetCapabilitiesResponse><tds:Capabilities>{''.join(parts)}"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    # media

    def _profiles(self) -> list[tuple[str, str, int, int, int]]:
        """(token, name, channel, width, height) of every profile."""
        info = self._source.info if self._source is not None else None
        width, height = (info.width, info.height) if info is not None else (320, 240)
        out = []
        for channel in range(1, self.channels + 1):
            out.append((f"Profile_{channel}01", "mainStream", channel, width, height))
            out.append((f"Profile_{channel}02", "subStream", channel, width // 2, height // 2))
        return out

    def _profile(self, token: str) -> tuple[str, str, int, int, int]:
        for profile in self._profiles():
            if profile[0] == token:
                return profile
        raise _SoapFault("s:Sender", "ter:InvalidArgVal", f"no profile {token}")

    def _profile_xml(self, profile: tuple[str, str, int, int, int], ns: str) -> str:
        token, name, channel, width, height = profile
        encoding = "H265" if self.codec == "h265" and ns == "tr2" else "H264"
        fps, kbps = 15, 1024 if name == "mainStream" else 256
        if ns == "tr2":
            ptz = (
                (
                    f'<tr2:PTZ token="PTZConfig_{channel}"><tt:Name>PTZ</tt:Name>'
                    f"<tt:UseCount>2</tt:UseCount><tt:NodeToken>PTZNode_{channel}</tt:NodeToken>"
                    "</tr2:PTZ>"
                )
                if self.ptz
                else ""
            )
            return (
                f'<tr2:Profiles token="{token}" fixed="true"><tr2:Name>{name}</tr2:Name>'
                f'<tr2:Configurations><tr2:VideoSource token="VideoSourceConfig_{channel}">'
                f"<tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount>"
                f"<tt:SourceToken>VideoSource_{channel}</tt:SourceToken>"
                f'<tt:Bounds x="0" y="0" width="{width}" height="{height}"/></tr2:VideoSource>'
                f'<tr2:VideoEncoder token="Encoder_{token}" GovLength="15" Profile="Main">'
                f"<tt:Name>Encoder</tt:Name><tt:UseCount>1</tt:UseCount>"
                f"<tt:Encoding>{encoding}</tt:Encoding><tt:Resolution><tt:Width>{width}</tt:Width>"
                f"<tt:Height>{height}</tt:Height></tt:Resolution><tt:RateControl "
                f'ConstantBitRate="false"><tt:FrameRateLimit>{fps}</tt:FrameRateLimit>'
                f"<tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl><tt:Quality>4"
                f"</tt:Quality></tr2:VideoEncoder>{ptz}</tr2:Configurations></tr2:Profiles>"
            )
        ptz = (
            (
                f'<tt:PTZConfiguration token="PTZConfig_{channel}"><tt:Name>PTZ</tt:Name>'
                f"<tt:UseCount>2</tt:UseCount><tt:NodeToken>PTZNode_{channel}</tt:NodeToken>"
                "</tt:PTZConfiguration>"
            )
            if self.ptz
            else ""
        )
        return (
            f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name>'
            f'<tt:VideoSourceConfiguration token="VideoSourceConfig_{channel}">'
            f"<tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount>"
            f"<tt:SourceToken>VideoSource_{channel}</tt:SourceToken>"
            f'<tt:Bounds x="0" y="0" width="{width}" height="{height}"/>'
            f'</tt:VideoSourceConfiguration><tt:VideoEncoderConfiguration token="Encoder_{token}">'
            f"<tt:Name>Encoder</tt:Name><tt:UseCount>1</tt:UseCount>"
            f"<tt:Encoding>{encoding}</tt:Encoding><tt:Resolution><tt:Width>{width}</tt:Width>"
            f"<tt:Height>{height}</tt:Height></tt:Resolution><tt:Quality>4</tt:Quality>"
            f"<tt:RateControl><tt:FrameRateLimit>{fps}</tt:FrameRateLimit><tt:EncodingInterval>1"
            f"</tt:EncodingInterval><tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl>"
            f"<tt:H264><tt:GovLength>15</tt:GovLength><tt:H264Profile>Main</tt:H264Profile>"
            f"</tt:H264><tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0"
            f"</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL>"
            f"<tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT60S"
            f"</tt:SessionTimeout></tt:VideoEncoderConfiguration>{ptz}</trt:Profiles>"
        )

    async def _op_GetProfiles(self, payload: Element, ns: str) -> str:
        body = "".join(self._profile_xml(p, ns) for p in self._profiles())
        return f"<{ns}:GetProfilesResponse>{body}</{ns}:GetProfilesResponse>"

    def _stream_uri(self, token: str) -> str:
        userinfo = ""
        if self.embed_credentials and self.username is not None and self.password is not None:
            userinfo = f"{self.username}:{self.password}@"
        return f"rtsp://{userinfo}{self.advertised_host}:{self.rtsp.port}/stream?profile={token}"

    async def _op_GetStreamUri(self, payload: Element, ns: str) -> str:
        token = self._profile(_text(payload, "ProfileToken"))[0]
        uri = escape(self._stream_uri(token))
        if ns == "tr2":
            return f"<tr2:GetStreamUriResponse><tr2:Uri>{uri}</tr2:Uri></tr2:GetStreamUriResponse>"
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>"
            "false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
            "</trt:GetStreamUriResponse>"
        )

    async def _op_GetSnapshotUri(self, payload: Element, ns: str) -> str:
        token = self._profile(_text(payload, "ProfileToken"))[0]
        uri = escape(self._http(f"/onvif/snapshot/{token}.jpg"))
        if ns == "tr2":
            return (
                f"<tr2:GetSnapshotUriResponse><tr2:Uri>{uri}</tr2:Uri></tr2:GetSnapshotUriResponse>"
            )
        return (
            f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>"
            "false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
            "</trt:GetSnapshotUriResponse>"
        )

    def _snapshot_jpeg(self) -> bytes:
        if self._jpeg is None:
            from camsdk._pipeline._codec import decode_keyframe, encode_jpeg

            source = self._source
            frame = decode_keyframe(source.info, source.video[0])
            self._jpeg = encode_jpeg(frame)
        return self._jpeg

    # PTZ

    def _head_for(self, payload: Element) -> tuple[int, _PTZHead]:
        channel = self._profile(_text(payload, "ProfileToken"))[2]
        head = self._heads[channel]
        head.settle(time.monotonic())
        return channel, head

    def _node_xml(self, channel: int) -> str:
        def space(tag: str, uri: str, lo: float, hi: float, two_d: bool) -> str:
            rng = f"<tt:Min>{lo:g}</tt:Min><tt:Max>{hi:g}</tt:Max>"
            y = f"<tt:YRange>{rng}</tt:YRange>" if two_d else ""
            return f"<tt:{tag}><tt:URI>{uri}</tt:URI><tt:XRange>{rng}</tt:XRange>{y}</tt:{tag}>"

        spaces = "".join(
            (
                space("AbsolutePanTiltPositionSpace", _GENERIC_PT, -1, 1, True),
                space("AbsoluteZoomPositionSpace", _GENERIC_ZOOM, 0, 1, False),
                space("RelativePanTiltTranslationSpace", _TRANSLATION_PT, -1, 1, True),
                space("RelativeZoomTranslationSpace", _TRANSLATION_ZOOM, -1, 1, False),
                space("ContinuousPanTiltVelocitySpace", _VELOCITY_PT, -1, 1, True),
                space("ContinuousZoomVelocitySpace", _VELOCITY_ZOOM, -1, 1, False),
            )
        )
        return (
            f'<tptz:PTZNode token="PTZNode_{channel}" FixedHomePosition="false">'
            f"<tt:Name>PTZ {channel}</tt:Name><tt:SupportedPTZSpaces>{spaces}"
            "</tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>16</tt:MaximumNumberOfPresets>"
            "<tt:HomeSupported>true</tt:HomeSupported></tptz:PTZNode>"
        )

    async def _op_GetNodes(self, payload: Element, ns: str) -> str:
        nodes = "".join(self._node_xml(c) for c in self._heads)
        return f"<tptz:GetNodesResponse>{nodes}</tptz:GetNodesResponse>"

    async def _op_GetNode(self, payload: Element, ns: str) -> str:
        token = _text(payload, "NodeToken")
        channel = next((c for c in self._heads if token == f"PTZNode_{c}"), None)
        if channel is None:
            raise _SoapFault("s:Sender", "ter:InvalidArgVal", f"no node {token}")
        return f"<tptz:GetNodeResponse>{self._node_xml(channel)}</tptz:GetNodeResponse>"

    def _moved(self, channel: int) -> None:
        self._motion(channel, True)
        self._motion(channel, False)

    async def _op_AbsoluteMove(self, payload: Element, ns: str) -> str:
        channel, head = self._head_for(payload)
        pan_tilt = _child(payload, "Position", "PanTilt")
        zoom = _child(payload, "Position", "Zoom")
        if pan_tilt is not None:
            head.pan = _clamp(_float(pan_tilt.get("x")), -1, 1)
            head.tilt = _clamp(_float(pan_tilt.get("y")), -1, 1)
        if zoom is not None:
            head.zoom = _clamp(_float(zoom.get("x")), 0, 1)
        self._moved(channel)
        return "<tptz:AbsoluteMoveResponse/>"

    async def _op_RelativeMove(self, payload: Element, ns: str) -> str:
        channel, head = self._head_for(payload)
        pan_tilt = _child(payload, "Translation", "PanTilt")
        zoom = _child(payload, "Translation", "Zoom")
        # The generic translation range -1..1 spans the whole -1..1 position range twice over.
        if pan_tilt is not None:
            head.pan = _clamp(head.pan + 2 * _float(pan_tilt.get("x")), -1, 1)
            head.tilt = _clamp(head.tilt + 2 * _float(pan_tilt.get("y")), -1, 1)
        if zoom is not None:
            head.zoom = _clamp(head.zoom + _float(zoom.get("x")), 0, 1)
        self._moved(channel)
        return "<tptz:RelativeMoveResponse/>"

    async def _op_ContinuousMove(self, payload: Element, ns: str) -> str:
        channel, head = self._head_for(payload)
        pan_tilt = _child(payload, "Velocity", "PanTilt")
        zoom = _child(payload, "Velocity", "Zoom")
        now = time.monotonic()
        head.velocity = (
            _float(pan_tilt.get("x")) if pan_tilt is not None else 0.0,
            _float(pan_tilt.get("y")) if pan_tilt is not None else 0.0,
            _float(zoom.get("x")) if zoom is not None else 0.0,
        )
        head.since = now
        timeout = _text(payload, "Timeout")
        head.until = now + _duration(timeout, 0.0) if timeout else None
        self._motion(channel, head.moving)
        return "<tptz:ContinuousMoveResponse/>"

    async def _op_Stop(self, payload: Element, ns: str) -> str:
        channel, head = self._head_for(payload)
        was_moving = head.moving
        head.velocity, head.until = (0.0, 0.0, 0.0), None
        if was_moving:
            self._motion(channel, False)
        return "<tptz:StopResponse/>"

    async def _op_GetStatus(self, payload: Element, ns: str) -> str:
        _, head = self._head_for(payload)
        state = "MOVING" if head.moving else "IDLE"
        return (
            "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>"
            f'<tt:PanTilt x="{head.pan:.6f}" y="{head.tilt:.6f}" space="{_GENERIC_PT}"/>'
            f'<tt:Zoom x="{head.zoom:.6f}" space="{_GENERIC_ZOOM}"/></tt:Position>'
            f"<tt:MoveStatus><tt:PanTilt>{state}</tt:PanTilt><tt:Zoom>{state}</tt:Zoom>"
            f"</tt:MoveStatus><tt:UtcTime>{_stamp(self.device_now())}</tt:UtcTime>"
            "</tptz:PTZStatus></tptz:GetStatusResponse>"
        )

    async def _op_GetPresets(self, payload: Element, ns: str) -> str:
        _, head = self._head_for(payload)
        items = "".join(
            f'<tptz:Preset token="{token}"><tt:Name>{escape(name)}</tt:Name></tptz:Preset>'
            for token, (name, _) in head.presets.items()
        )
        return f"<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"

    async def _op_SetPreset(self, payload: Element, ns: str) -> str:
        _, head = self._head_for(payload)
        token = str(next(self._preset_ids))
        head.presets[token] = (
            _text(payload, "PresetName") or token,
            (head.pan, head.tilt, head.zoom),
        )
        return (
            f"<tptz:SetPresetResponse><tptz:PresetToken>{token}</tptz:PresetToken>"
            "</tptz:SetPresetResponse>"
        )

    async def _op_GotoPreset(self, payload: Element, ns: str) -> str:
        channel, head = self._head_for(payload)
        preset = head.presets.get(_text(payload, "PresetToken"))
        if preset is None:
            raise _SoapFault("s:Sender", "ter:InvalidArgVal", "no such preset")
        head.pan, head.tilt, head.zoom = preset[1]
        self._moved(channel)
        return "<tptz:GotoPresetResponse/>"

    async def _op_GotoHomePosition(self, payload: Element, ns: str) -> str:
        channel, head = self._head_for(payload)
        head.pan = head.tilt = head.zoom = 0.0
        self._moved(channel)
        return "<tptz:GotoHomePositionResponse/>"

    # events

    def _lifetime(self, requested: float) -> float:
        return min(requested, self.max_subscription) if self.max_subscription else requested

    async def _op_CreatePullPointSubscription(self, payload: Element, ns: str) -> str:
        self._expire()
        lifetime = self._lifetime(_duration(_text(payload, "InitialTerminationTime"), 60.0))
        sub = _Subscription(next(self._sub_ids), time.monotonic() + lifetime)
        self._subscriptions[sub.id] = sub
        now = self.device_now()
        for channel in self._heads:
            sub.queue.append(
                OnvifEventMessage(
                    _MOTION_TOPIC,
                    {"IsMotion": "false"},
                    self._channel_source(channel),
                    "Initialized",
                    now,
                )
            )
        address = self._http(f"/onvif/subscription/{sub.id}")
        return (
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{address}</wsa:Address></tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{_stamp(now)}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{_stamp(now + timedelta(seconds=lifetime))}"
            "</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
        )

    async def _subscription_op(self, path: str, operation: str, payload: Element) -> str:
        self._expire()
        try:
            sub = self._subscriptions[int(path.rsplit("/", 1)[-1])]
        except (KeyError, ValueError):
            raise _SoapFault(
                "s:Sender", "wsrf-rw:ResourceUnknownFault", "no such subscription"
            ) from None
        if operation == "PullMessages":
            return await self._pull(sub, payload)
        if operation == "Renew":
            lifetime = self._lifetime(_duration(_text(payload, "TerminationTime"), 60.0))
            sub.expires = time.monotonic() + lifetime
            self.renewals += 1
            now = self.device_now()
            return (
                f"<wsnt:RenewResponse><wsnt:TerminationTime>"
                f"{_stamp(now + timedelta(seconds=lifetime))}</wsnt:TerminationTime>"
                f"<wsnt:CurrentTime>{_stamp(now)}</wsnt:CurrentTime></wsnt:RenewResponse>"
            )
        if operation == "Unsubscribe":
            self._subscriptions.pop(sub.id, None)
            sub.wakeup.set()
            return "<wsnt:UnsubscribeResponse/>"
        raise _SoapFault("s:Receiver", "ter:ActionNotSupported", f"{operation} not supported", 500)

    async def _pull(self, sub: _Subscription, payload: Element) -> str:
        timeout = _duration(_text(payload, "Timeout"), 10.0)
        limit = max(1, int(_float(_text(payload, "MessageLimit"), 100)))
        if not sub.queue:
            sub.wakeup.clear()
            self.waiting_pulls += 1
            self._notify()
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await sub.wakeup.wait()
            finally:
                self.waiting_pulls -= 1
        messages = [sub.queue.popleft() for _ in range(min(limit, len(sub.queue)))]
        now = self.device_now()
        remaining = max(0.0, sub.expires - time.monotonic())
        body = "".join(_notification(m) for m in messages)
        return (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{_stamp(now)}</tev:CurrentTime>"
            f"<tev:TerminationTime>{_stamp(now + timedelta(seconds=remaining))}"
            f"</tev:TerminationTime>{body}</tev:PullMessagesResponse>"
        )

    # discovery

    def probe_matches(self, relates_to: str) -> bytes:
        """The ProbeMatches answer to a probe with MessageID ``relates_to``."""
        import uuid

        scopes = " ".join(self.scopes())
        return (
            '<?xml version="1.0" encoding="UTF-8"?><s:Envelope '
            'xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
            'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" '
            'xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="' + _NS["tds"] + '">'
            "<s:Header><a:MessageID>urn:uuid:" + str(uuid.uuid4()) + "</a:MessageID>"
            f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
            "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>"
            "</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>"
            f"urn:uuid:sim-{escape(self.identity['serial'])}</a:Address></a:EndpointReference>"
            "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
            f"<d:Scopes>{escape(scopes)}</d:Scopes><d:XAddrs>{self.device_url}</d:XAddrs>"
            "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>"
            "</s:Body></s:Envelope>"
        ).encode()


def _notification(message: OnvifEventMessage) -> str:
    def items(values: Mapping[str, str]) -> str:
        return "".join(
            f"<tt:SimpleItem Name={quoteattr(k)} Value={quoteattr(v)}/>" for k, v in values.items()
        )

    return (
        "<wsnt:NotificationMessage><wsnt:Topic "
        'Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{escape(message.topic)}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="{_stamp(message.utc_time)}" '
        f'PropertyOperation="{escape(message.operation)}">'
        f"<tt:Source>{items(message.source)}</tt:Source>"
        f"<tt:Data>{items(message.data)}</tt:Data></tt:Message></wsnt:Message>"
        "</wsnt:NotificationMessage>"
    )


class _DiscoveryResponder(asyncio.DatagramProtocol):
    """Answers WS-Discovery probes for NetworkVideoTransmitter (loopback only)."""

    def __init__(self, device: OnvifDevice) -> None:
        self.device = device
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector datagram transport does not subclass DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            root = safe_et.fromstring(data, forbid_dtd=True)
        except Exception:
            return
        header = _child(root, "Header")
        probe = _child(root, "Body", "Probe")
        if probe is None or self.transport is None:
            return
        types = _text(probe, "Types")
        if types and "NetworkVideoTransmitter" not in types and "Device" not in types:
            return
        self.device.requests.append("Probe")
        self.device._notify()
        self.transport.sendto(self.device.probe_matches(_text(header, "MessageID")), addr)

    def connection_lost(self, exc: Exception | None) -> None:
        closed = self.device._udp_closed
        if closed is not None and not closed.done():
            closed.set_result(None)


def _split_params(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


_SOURCES: dict[str, Any] = {}


def _cached_source(codec: str) -> Any:
    """A small generated loop per codec, made once per process (encoding costs ~0.1 s)."""
    from camsdk.testing._rtsp_server import generate_source

    if codec not in _SOURCES:
        _SOURCES[codec] = generate_source(
            width=160,
            height=120,
            fps=15,
            gop=15,
            seconds=1.0,
            codec="h265" if codec == "h265" else "h264",
        )
    return _SOURCES[codec]
