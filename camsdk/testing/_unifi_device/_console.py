"""`UnifiConsole`: a simulated UniFi OS console running Protect, on 127.0.0.1.

What it serves, behind one TLS port with a self-signed certificate (`RelayFront`):

- the local-user API: ``POST /api/auth/login`` (cookie ``TOKEN`` and an
  ``X-CSRF-Token``), ``/proxy/protect/api/bootstrap``, cameras (GET, PATCH
  of ``privacyZones``), snapshots, PTZ (move, position, presets, goto) and
  recent ``events``;
- the Integration API with an API key: ``meta/info``, ``nvrs``, ``cameras``,
  snapshots, ``rtsps-stream``;
- the binary updates websocket (``/proxy/protect/ws/updates``) and the
  Integration API's events websocket, on the same port;
- RTSPS on a second TLS port, one `RtspServer` per channel alias (made on
  first use), whose port the bootstrap reports as ``nvr.ports.rtsps``.

Faults: ``lockout_after`` wrong passwords lock logins (HTTP 429 for every
login, right password included, as consoles do); ``max_sessions`` caps live
sessions (429); `expire_sessions` makes every cookie lapse (401);
``snapshot_errors`` answers that many snapshots with an HTML error page
instead of a JPEG; `go_silent` turns the event websockets half-open;
`drop_websockets` cuts them; ``compress`` deflates websocket frames and
``fragment`` splits each message into websocket fragments; `send_raw`
sends any bytes to the updates websocket (unknown model keys, garbage).

Events: `start_event` / `update_event` / `end_event` / `ring` send the
add/update lifecycle both websockets carry, and keep every event for the
``events`` endpoint (recovery after a reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Iterable
from typing import Any

from camsdk.drivers.unifi._codec import UpdatePacket, encode_packet
from camsdk.testing._http_device import HttpDevice, Request, Response
from camsdk.testing._lifecycle import Simulator
from camsdk.testing._relay import RelayFront
from camsdk.testing._tls import self_signed_tls

from ._models import camera_json, integration_camera, nvr_json

__all__ = ["UnifiConsole"]

_PRIVATE = "/proxy/protect/api"
_INTEGRATION = "/proxy/protect/integration/v1"
_UPDATES = "/proxy/protect/ws/updates"
_EVENTS_WS = "/proxy/protect/integration/v1/subscribe/events"


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Client:
    """One websocket client of the console and its outgoing queue."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.queue: asyncio.Queue[bytes | str | None] = asyncio.Queue()


class UnifiConsole(Simulator):
    """A simulated Protect console (see the module docstring). ``async with`` it."""

    def __init__(
        self,
        *,
        cameras: int = 3,
        username: str = "admin",
        password: str = "camsdk-sim",
        api_key: str | None = None,
        lockout_after: int | None = None,
        max_sessions: int | None = None,
        compress: bool = True,
        fragment: bool = False,
        rtsp: bool = True,
        offline: Iterable[int] = (),
        no_rtsp: Iterable[int] = (),
        source: Any = None,
    ) -> None:
        self.username = username
        self.password = password
        self.api_key = api_key
        self.lockout_after = lockout_after
        self.max_sessions = max_sessions
        self.compress = compress
        self.fragment = fragment
        self.snapshot_errors = 0
        self._rtsp_enabled = rtsp
        off, plain = set(offline), set(no_rtsp)
        self.cameras: list[dict[str, Any]] = [
            camera_json(i, rtsp=i not in plain, state="DISCONNECTED" if i in off else "CONNECTED")
            for i in range(cameras)
        ]
        self._source = source
        self.http = HttpDevice(auth="none")
        self.tls, self.certificate = self_signed_tls("unifi.local")
        self.front = RelayFront(self._route_web, tls=self.tls, name="camsdk-sim-unifi-front")
        self.rtsps = RelayFront(self._route_rtsp, tls=self.tls, name="camsdk-sim-unifi-front")
        self.rtsp_servers: dict[str, Any] = {}
        self._ws_server: Any = None
        self._clients: set[_Client] = set()
        self._tokens: set[str] = set()
        self.csrf = secrets.token_hex(16)
        self.failed_logins = 0
        self.logins = 0
        self.locked = False
        self.events: dict[str, dict[str, Any]] = {}
        self.update_id = secrets.token_hex(8)
        self.moves: list[dict[str, Any]] = []
        self.presets: dict[str, list[dict[str, Any]]] = {}
        self.position = {"pan": 18000, "tilt": 4500, "zoom": 0}
        self.ws_connects = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Start the back ends and the TLS fronts."""
        from websockets.asyncio.server import serve

        self._routes()
        await self.http.start()
        self._ws_server = await serve(
            self._ws_handler, "127.0.0.1", 0, process_request=self._ws_check,
            compression=None, ping_interval=None, max_size=1 << 20, close_timeout=0.5)
        await self.front.start()
        await self.rtsps.start()

    async def _stop_parts(self) -> None:
        """Stop everything."""
        for client in list(self._clients):
            client.queue.put_nowait(None)
        await self.front.aclose()
        await self.rtsps.aclose()
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3.0):
                    await self._ws_server.wait_closed()
        for server in self.rtsp_servers.values():
            await server.aclose()
        await self.http.aclose()

    @property
    def port(self) -> int:
        """The HTTPS (and websocket) port."""
        return self.front.port

    @property
    def url(self) -> str:
        """``unifi://127.0.0.1:<port>``: the hub URL."""
        return f"unifi://127.0.0.1:{self.port}"

    def camera_url(self, index: int = 0) -> str:
        """The camera URL of camera ``index``."""
        return f"{self.url}/{self.cameras[index]['id']}"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the console's certificate."""
        import hashlib

        return hashlib.sha256(self.certificate).hexdigest()

    @property
    def sessions(self) -> int:
        """Live login sessions."""
        return len(self._tokens)

    @property
    def websockets(self) -> int:
        """Open websocket clients."""
        return len(self._clients)

    async def wait_until(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait (bounded) until ``predicate(self)`` holds."""
        await self._wait_for(lambda: predicate(self), timeout)

    # -- routing -----------------------------------------------------------------------------

    async def _route_web(self, head: bytes) -> tuple[int, str] | None:
        if b"upgrade: websocket" in head.lower():
            return self._ws_server.sockets[0].getsockname()[1], "websocket"
        return self.http.port, "http"

    async def _route_rtsp(self, head: bytes) -> tuple[int, str] | None:
        from camsdk.testing._rtsp_auth import RtspQuirks
        from camsdk.testing._rtsp_server import RtspServer

        try:
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
        except (IndexError, UnicodeDecodeError):
            return None
        alias = target.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0].split("/", 1)[0]
        known = {c["rtspAlias"] for cam in self.cameras for c in cam["channels"]
                 if c.get("rtspAlias") and cam["state"] == "CONNECTED"}
        if alias not in known:
            return None
        server = self.rtsp_servers.get(alias)
        if server is None:
            server = RtspServer(self._media(), path=f"/{alias}",
                                quirks=RtspQuirks(content_base="none"))
            self.rtsp_servers[alias] = server
            await server.start()
        return server.port, "rtsp"

    def _media(self) -> Any:
        if self._source is None:
            from camsdk.testing._onvif_device import _cached_source

            self._source = _cached_source("h264")
        return self._source

    async def break_streams(self) -> None:
        """Drop every RTSPS connection once (the stream comes back on reconnect)."""
        self.rtsps.cut("rtsp")
        for server in self.rtsp_servers.values():
            await server.restart(delay=0.1)

    # -- authentication ----------------------------------------------------------------------

    def _session_ok(self, headers: Any) -> bool:
        cookie = headers.get("cookie", "")
        token = next((p.split("=", 1)[1] for p in cookie.split(";")
                      if p.strip().startswith("TOKEN=")), "")
        return token.strip() in self._tokens

    def _key_ok(self, headers: Any) -> bool:
        return self.api_key is not None and headers.get("x-api-key") == self.api_key

    def expire_sessions(self) -> None:
        """Every session cookie lapses (the next request is a 401)."""
        self._tokens.clear()

    async def _login(self, request: Request) -> Response:
        if self.locked:
            return Response.json({"code": "AUTHENTICATION_FAILED_LIMIT_REACHED"}, 429,
                                 headers={"Retry-After": "900"})
        try:
            body = json.loads(request.body)
        except ValueError:
            return Response.json({"code": "BAD_REQUEST"}, 400)
        if body.get("username") != self.username or body.get("password") != self.password:
            self.failed_logins += 1
            if self.lockout_after is not None and self.failed_logins >= self.lockout_after:
                self.locked = True
            self._notify()
            return Response.json({"code": "AUTHENTICATION_FAILED_INVALID_CREDENTIALS"}, 401)
        if self.max_sessions is not None and len(self._tokens) >= self.max_sessions:
            return Response.json({"code": "TOO_MANY_SESSIONS"}, 429, headers={"Retry-After": "60"})
        token = "eyJ" + secrets.token_urlsafe(24)
        self._tokens.add(token)
        self.logins += 1
        self._notify()
        return Response.json(
            {"unique_id": "sim-user", "username": self.username},
            headers=[("Set-Cookie", f"TOKEN={token}; path=/; samesite=none; secure; httponly"),
                     ("X-CSRF-Token", self.csrf)],
        )

    def _private(self, handler: Any) -> Any:
        async def checked(request: Request) -> Response:
            if not self._session_ok(request.headers):
                return Response.json({"error": "Unauthorized"}, 401)
            if request.method != "GET" and request.headers.get("x-csrf-token") != self.csrf:
                return Response.json({"error": "Invalid CSRF token"}, 403)
            return await handler(request)  # type: ignore[no-any-return]
        return checked

    def _public(self, handler: Any) -> Any:
        async def checked(request: Request) -> Response:
            if not self._key_ok(request.headers):
                return Response.json({"error": "Unauthorized"}, 401)
            return await handler(request)  # type: ignore[no-any-return]
        return checked

    # -- HTTP routes -------------------------------------------------------------------------

    def _routes(self) -> None:
        import re

        http, p, i = self.http, self._private, self._public
        cam = r"(?P<cam>[0-9a-f]{24})"
        http.route("POST", "/api/auth/login", self._login)
        http.route("GET", f"{_PRIVATE}/bootstrap", p(self._bootstrap))
        http.route("GET", f"{_PRIVATE}/events", p(self._recent_events))
        http.route("GET", re.compile(f"{_PRIVATE}/cameras/{cam}"), p(self._camera))
        http.route("PATCH", re.compile(f"{_PRIVATE}/cameras/{cam}"), p(self._patch_camera))
        http.route("GET", re.compile(f"{_PRIVATE}/cameras/{cam}/snapshot"), p(self._snapshot))
        http.route("POST", re.compile(f"{_PRIVATE}/cameras/{cam}/move"), p(self._move))
        http.route("GET", re.compile(f"{_PRIVATE}/cameras/{cam}/ptz/position"),
                   p(self._position))
        http.route("GET", re.compile(f"{_PRIVATE}/cameras/{cam}/ptz/preset"), p(self._presets))
        http.route("POST", re.compile(f"{_PRIVATE}/cameras/{cam}/ptz/preset"),
                   p(self._set_preset))
        http.route("POST", re.compile(f"{_PRIVATE}/cameras/{cam}/ptz/goto/(?P<slot>-?[0-9]+)"),
                   p(self._goto))
        http.route("GET", f"{_INTEGRATION}/meta/info",
                   i(self._fixed({"applicationVersion": "5.0.34"})))
        http.route("GET", f"{_INTEGRATION}/nvrs", i(self._nvrs))
        http.route("GET", f"{_INTEGRATION}/cameras", i(self._integration_cameras))
        http.route("GET", re.compile(f"{_INTEGRATION}/cameras/{cam}/snapshot"), i(self._snapshot))
        http.route("*", re.compile(f"{_INTEGRATION}/cameras/{cam}/rtsps-stream"),
                   i(self._rtsps_stream))

    @staticmethod
    def _fixed(data: Any) -> Any:
        async def answer(request: Request) -> Response:
            return Response.json(data)
        return answer

    def _find(self, request: Request) -> dict[str, Any] | None:
        assert request.match is not None
        ident = request.match.group("cam")
        return next((c for c in self.cameras if c["id"] == ident), None)

    async def _bootstrap(self, request: Request) -> Response:
        return Response.json({
            "nvr": nvr_json(self.rtsps.port), "cameras": self.cameras,
            "lastUpdateId": self.update_id, "users": [], "groups": [], "lights": [],
            "sensors": [], "viewers": [], "liveviews": [], "bridges": [], "chimes": [],
            "authUserId": "sim-user", "accessKey": "redacted",
        })

    async def _camera(self, request: Request) -> Response:
        camera = self._find(request)
        return Response.json(camera) if camera else Response.json({"error": "not found"}, 404)

    async def _patch_camera(self, request: Request) -> Response:
        camera = self._find(request)
        if camera is None:
            return Response.json({"error": "not found"}, 404)
        changes = json.loads(request.body)
        if "privacyZones" in changes:
            camera["privacyZones"] = changes["privacyZones"]
        self._notify()
        return Response.json(camera)

    async def _snapshot(self, request: Request) -> Response:
        camera = self._find(request)
        if camera is None:
            return Response.json({"error": "not found"}, 404)
        if self.snapshot_errors > 0:
            self.snapshot_errors -= 1
            return Response(200, b"<html><body>Camera is busy</body></html>",
                            content_type="text/html")
        return Response(200, _jpeg(), content_type="image/jpeg")

    async def _recent_events(self, request: Request) -> Response:
        start = int(request.query.get("start", "0"))
        limit = int(request.query.get("limit", "100"))
        found = [e for e in self.events.values()
                 if e["start"] >= start or e.get("end") is None or (e["end"] or 0) >= start]
        return Response.json(found[:limit])

    async def _move(self, request: Request) -> Response:
        self.moves.append(json.loads(request.body))
        self._notify()
        return Response.json({"ok": True})

    async def _position(self, request: Request) -> Response:
        return Response.json(self.position)

    async def _presets(self, request: Request) -> Response:
        camera = self._find(request)
        assert camera is not None
        return Response.json(self.presets.get(camera["id"], []))

    async def _set_preset(self, request: Request) -> Response:
        camera = self._find(request)
        assert camera is not None
        body = json.loads(request.body)
        self.presets.setdefault(camera["id"], []).append(
            {"name": body["name"], "slot": body["slot"], "ptz": dict(self.position)})
        return Response.json({"ok": True})

    async def _goto(self, request: Request) -> Response:
        assert request.match is not None
        self.moves.append({"type": "goto", "slot": int(request.match.group("slot"))})
        self._notify()
        return Response.json({"ok": True})

    async def _nvrs(self, request: Request) -> Response:
        nvr = nvr_json(self.rtsps.port)
        return Response.json({"id": nvr["id"], "modelKey": "nvr", "name": nvr["name"]})

    async def _integration_cameras(self, request: Request) -> Response:
        return Response.json([integration_camera(c) for c in self.cameras])

    async def _rtsps_stream(self, request: Request) -> Response:
        camera = self._find(request)
        if camera is None:
            return Response.json({"error": "not found"}, 404)
        urls: dict[str, Any] = {}
        for channel in camera["channels"]:
            alias = channel.get("rtspAlias")
            quality = channel["name"].lower()
            # As consoles do: their LAN address, port 7441, and ?enableSrtp.
            urls[quality] = (f"rtsps://192.168.1.1:{self.rtsps.port}/{alias}?enableSrtp"
                             if alias else None)
        return Response.json(urls)

    # -- websockets --------------------------------------------------------------------------

    async def _ws_check(self, connection: Any, request: Any) -> Any:
        path = request.path.split("?", 1)[0]
        if path == _UPDATES and self._session_ok(request.headers):
            return None
        if path == _EVENTS_WS and self._key_ok(request.headers):
            return None
        if path in (_UPDATES, _EVENTS_WS):
            return connection.respond(401, "Unauthorized\n")
        return connection.respond(404, "Not Found\n")

    async def _ws_handler(self, connection: Any) -> None:
        path = connection.request.path.split("?", 1)[0]
        client = _Client("private" if path == _UPDATES else "integration")
        self._clients.add(client)
        self.ws_connects += 1
        self._notify()
        closed = asyncio.ensure_future(connection.wait_closed())
        try:
            while True:
                getter = asyncio.ensure_future(client.queue.get())
                await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():  # the client went away
                    getter.cancel()
                    return
                message = getter.result()
                if message is None:
                    return
                if self.fragment and isinstance(message, bytes) and len(message) > 4:
                    half = len(message) // 2
                    await connection.send([message[:half], message[half:]])
                else:
                    await connection.send(message)
        except Exception:
            return
        finally:
            closed.cancel()
            self._clients.discard(client)
            self._notify()

    def go_silent(self) -> int:
        """Make the event websockets half-open: no byte passes either way; how many."""
        return self.front.silence("websocket")

    def drop_websockets(self) -> int:
        """Cut the event websockets; how many."""
        return self.front.cut("websocket")

    def send_raw(self, message: bytes | str) -> None:
        """Send ``message`` as it is to every updates-websocket client."""
        for client in self._clients:
            if client.kind == "private":
                client.queue.put_nowait(message)

    def _publish(self, action: str, event: dict[str, Any], changes: dict[str, Any]) -> None:
        self.update_id = secrets.token_hex(8)
        packet = UpdatePacket({"action": action, "newUpdateId": self.update_id,
                               "modelKey": "event", "id": event["id"]},
                              event if action == "add" else changes)
        binary = encode_packet(packet, compress=self.compress)
        text = json.dumps({"type": action, "item": {**event} if action == "add" else
                           {"id": event["id"], "modelKey": "event", **changes}})
        for client in self._clients:
            client.queue.put_nowait(binary if client.kind == "private" else text)

    def start_event(self, camera: int | str = 0, kind: str = "motion", *,
                    smart_types: Iterable[str] = (), score: int = 80,
                    publish: bool = True) -> str:
        """Start an event on a camera (index or id); returns its id."""
        camera_id = self.cameras[camera]["id"] if isinstance(camera, int) else camera
        event: dict[str, Any] = {"id": secrets.token_hex(12), "modelKey": "event", "type": kind,
                 "start": _now_ms(), "end": None, "score": score, "camera": camera_id,
                 "device": camera_id, "smartDetectTypes": list(smart_types),
                 "smartDetectEvents": [], "metadata": {}}
        self.events[event["id"]] = event
        if publish:
            self._publish("add", event, {})
        return str(event["id"])

    def update_event(self, event_id: str, *, publish: bool = True, **changes: Any) -> None:
        """Change fields of a running event (``smartDetectTypes``, ``score``)."""
        event = self.events[event_id]
        event.update(changes)
        if publish:
            self._publish("update", event, changes)

    def end_event(self, event_id: str, *, publish: bool = True) -> None:
        """End a running event."""
        self.update_event(event_id, publish=publish, end=_now_ms())

    def ring(self, camera: int | str = 0) -> str:
        """A doorbell ring (started and ended at once, as consoles send it)."""
        camera_id = self.cameras[camera]["id"] if isinstance(camera, int) else camera
        now = _now_ms()
        event: dict[str, Any] = {"id": secrets.token_hex(12), "modelKey": "event", "type": "ring",
                 "start": now, "end": now, "score": 0, "camera": camera_id, "device": camera_id,
                 "smartDetectTypes": []}
        self.events[event["id"]] = event
        self._publish("add", event, {})
        return str(event["id"])


_JPEG: bytes | None = None


def _jpeg() -> bytes:
    """A small real JPEG (made once)."""
    global _JPEG
    if _JPEG is None:
        import io

        import av
        import numpy as np

        frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 90, np.uint8), format="rgb24")
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mjpeg") as container:
            stream = container.add_stream("mjpeg", rate=1)
            stream.width, stream.height, stream.pix_fmt = 160, 120, "yuvj420p"
            for packet in stream.encode(frame.reformat(format="yuvj420p")):
                container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        _JPEG = buffer.getvalue()
    return _JPEG
