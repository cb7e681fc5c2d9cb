"""`RingCloud`: a simulated Ring cloud on 127.0.0.1, one port for every service.

What it serves (paths as Ring's hosts serve them; `RingCloud.options` points
the driver's endpoint options here):

- OAuth (``POST /oauth/token``) with the 2FA challenge and refresh tokens
  that die after one use (`_oauth`);
- the client API: ``session``, ``ring_devices``, ``device`` (push
  registration), ``dings/active``, device ``events`` history,
  ``video_search/history``, ``dings/<id>/share/play`` and the clip it links
  to, ``snapshots/uuid``; snapshots (``/snapshots/next/<id>``, spaced by
  ``snapshot_spacing`` per device with 429s, refused with 409 on battery
  devices while they stream); live view tickets;
- the signalling and push websockets (`_sockets`).

Faults and controls: `go_silent`/`resume_push` (the push channel half-open),
`drop_push`, `close_live_views`, `drop_live_views`, `expire_access_tokens`,
`revoke_refresh_tokens`, `fail_polls`; `ding` makes an event (history, active dings,
recordings, push) and returns its id.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from camsdk.testing._http_device import HttpDevice, Request, Response
from camsdk.testing._lifecycle import Simulator
from camsdk.testing._relay import RelayFront

from ._oauth import OAuthServer
from ._sockets import LiveSession, PushClient, push_listener, signalling
from ._state import SimDevice, SimDing, default_devices, small_jpeg, small_mp4

__all__ = ["RingCloud"]

_JSON_DETECTIONS = {"person": ("motion", "human"), "motion": ("motion", ""),
                    "ding": ("ding", ""), "unlock": ("intercom_unlock", ""),
                    "vehicle": ("motion", "vehicle")}


class RingCloud(Simulator, OAuthServer):
    """A simulated Ring cloud (see the module docstring). ``async with`` it."""

    def __init__(
        self,
        *,
        email: str = "owner@example.invalid",
        password: str = "camsdk-sim-ring",
        code: str = "123456",
        tsv_state: str = "sms",
        devices: Iterable[SimDevice] | None = None,
        access_ttl: float = 3600.0,
        code_limit: int = 5,
        next_code_in: int = 30,
        snapshot_spacing: float = 0.0,
        push_heartbeat: float = 1.0,
        ping_timeout: float = 30.0,
        ding_ttl: float = 60.0,
        loop_params: Any = None,
    ) -> None:
        from camsdk.drivers.virtual._scene import LoopParams

        self.email = email
        self.password = password
        self.code = code
        self.tsv_state = tsv_state
        self.devices = list(devices) if devices is not None else default_devices()
        self.access_ttl = access_ttl
        self.code_limit = code_limit
        self.next_code_in = next_code_in
        self.snapshot_spacing = snapshot_spacing
        self.push_heartbeat = push_heartbeat
        self.ping_timeout = ping_timeout
        self.ding_ttl = ding_ttl
        self.loop_params = loop_params or LoopParams(width=320, height=240, fps=15, gop=15,
                                                     seconds=2)
        self.http = HttpDevice(auth="none")
        self.front = RelayFront(self._route, name="camsdk-sim-ring-front")
        self._ws_server: Any = None
        self._init_accounts()
        self.sessions: list[dict[str, Any]] = []
        # events and media
        self.dings: list[SimDing] = []
        self.snapshot_requests = 0
        self.event_picture_requests = 0
        self.downloads = 0
        #: What recording downloads answer instead of the clip (a fault), when set.
        self.recording_body: bytes | None = None
        self._last_snapshot: dict[int, float] = {}
        self.tickets: dict[str, bool] = {}
        self.live_sessions: list[LiveSession] = []
        # push
        self.registrations: dict[str, dict[str, str]] = {}  # android id -> registration
        self.ring_push_tokens: set[str] = set()
        self.push_clients: set[PushClient] = set()
        self.push_connects = 0
        self.push_sent = 0
        self.requests: list[tuple[str, str]] = []
        #: When each ``dings/active`` poll arrived (monotonic).
        self.poll_times: list[float] = []
        self._poll_faults: list[tuple[int, dict[str, str]]] = []

    # -- lifecycle --------------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Start the back ends and the front."""
        from websockets.asyncio.server import serve

        self._routes()
        await self.http.start()
        self._ws_server = await serve(
            self._ws_handler, "127.0.0.1", 0, process_request=self._ws_check,
            compression=None, ping_interval=None, max_size=1 << 20, close_timeout=0.5)
        await self.front.start()

    async def _stop_parts(self) -> None:
        """Stop everything."""
        for client in list(self.push_clients):
            client.queue.put_nowait(None)
        for live in list(self.live_sessions):
            await live.drop()
        await self.front.aclose()
        if self._ws_server is not None:
            self._ws_server.close()
            try:
                async with asyncio.timeout(3.0):
                    await self._ws_server.wait_closed()
            except Exception:
                pass
        await self.http.aclose()

    @property
    def port(self) -> int:
        """The one port of every simulated service."""
        return self.front.port

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def options(self) -> dict[str, Any]:
        """The ``RingOptions`` that point the driver here (and gather ICE on loopback)."""
        return {"oauth_url": self.base, "api_url": self.base, "app_url": self.base,
                "snapshot_url": self.base, "signalling_url": f"ws://127.0.0.1:{self.port}",
                "push_url": f"{self.base}/push", "ice_host": "127.0.0.1"}

    def device(self, which: int | str) -> SimDevice:
        """A device by index or key."""
        if isinstance(which, int):
            return self.devices[which]
        return next(d for d in self.devices if d.key == which)

    def camera_by_id(self, ident: object) -> SimDevice | None:
        """The camera (not intercom) with ``ident``."""
        return next((d for d in self.devices if d.id == ident and d.has_video), None)

    async def wait_until(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait (bounded) until ``predicate(self)`` holds."""
        await self._wait_for(lambda: predicate(self), timeout)

    # -- routing ----------------------------------------------------------------------------

    async def _route(self, head: bytes) -> tuple[int, str] | None:
        first = head.split(b"\r\n", 1)[0]
        path = first.split(b" ")[1] if first.count(b" ") >= 2 else b"/"
        if b"upgrade: websocket" in head.lower():
            kind = "push" if path.startswith(b"/push") else "signalling"
            return self._ws_server.sockets[0].getsockname()[1], kind
        return self.http.port, "http"

    # -- HTTP routes ------------------------------------------------------------------------

    def _api(self, handler: Any) -> Any:
        async def checked(request: Request) -> Response:
            self.requests.append((request.method, request.path))
            if not self._authorized(request):
                return Response.json({"error": "Unauthorized"}, 401)
            return await handler(request)  # type: ignore[no-any-return]
        return checked

    def _routes(self) -> None:
        http, a = self.http, self._api
        http.route("POST", "/oauth/token", self._oauth)
        http.route("POST", "/clients_api/session", a(self._session))
        http.route("GET", "/clients_api/ring_devices", a(self._ring_devices))
        http.route("PATCH", "/clients_api/device", a(self._device_registration))
        http.route("GET", "/clients_api/dings/active", a(self._active))
        http.route("GET", re.compile(r"/clients_api/locations/(?P<loc>[^/]+)/devices/"
                                     r"(?P<dev>[0-9]+)/events"), a(self._history))
        http.route("GET", "/clients_api/video_search/history", a(self._video_search))
        http.route("GET", re.compile(r"/clients_api/dings/(?P<ding>[0-9]+)/share/play"),
                   a(self._share))
        http.route("GET", "/clients_api/snapshots/uuid", a(self._event_picture))
        http.route("GET", re.compile(r"/snapshots/next/(?P<dev>[0-9]+)"), a(self._snapshot))
        http.route("POST", "/api/v1/clap/ticket/request/signalsocket", a(self._ticket))
        http.route("POST", "/push/register", self._push_register)
        http.route("GET", re.compile(r"/media/(?P<ding>[0-9]+)\.mp4"), self._media)

    async def _session(self, request: Request) -> Response:
        body = json.loads(request.body or b"{}")
        self.sessions.append(body.get("device", {}))
        self._notify()
        return Response.json({"profile": {"id": 424242, "email": self.email,
                                          "hardware_id": request.headers.get("hardware_id"),
                                          "features": {}, "tfa_enabled": True}})

    async def _ring_devices(self, request: Request) -> Response:
        listing: dict[str, list[Any]] = {"doorbots": [], "authorized_doorbots": [],
                                         "stickup_cams": [], "chimes": [], "other": [],
                                         "base_stations": [], "beams_bridges": []}
        for device in self.devices:
            listing[device.group].append(device.as_json())
        listing["chimes"].append({"id": 123, "description": "Hall Chime", "kind": "chime_pro",
                                  "firmware_version": "1.2.3"})
        return Response.json(listing)

    async def _device_registration(self, request: Request) -> Response:
        body = json.loads(request.body or b"{}")
        token = body.get("device", {}).get("push_notification_token")
        if isinstance(token, str) and token:
            self.ring_push_tokens.add(token)
            self._notify()
        return Response(204)

    def _live(self, device: SimDevice) -> bool:
        return any(s.active and s.device is device and not s.ended.is_set()
                   for s in self.live_sessions)

    def fail_polls(self, count: int, status: int = 503, retry_after: int | None = None) -> None:
        """Answer the next ``count`` polls of active dings with ``status`` (and Retry-After)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._poll_faults = [(status, headers)] * count

    async def _active(self, request: Request) -> Response:
        self.poll_times.append(time.monotonic())
        self._notify()
        if self._poll_faults:
            status, headers = self._poll_faults.pop(0)
            return Response.json({"error": "simulated"}, status, headers=headers)
        now = time.time()
        return Response.json([d.active_json() for d in self.dings
                              if now - d.created < self.ding_ttl])

    async def _history(self, request: Request) -> Response:
        assert request.match is not None
        ident = int(request.match.group("dev"))
        limit = int(request.query.get("limit", "20"))
        found = [d.history_json() for d in reversed(self.dings) if d.device.id == ident]
        return Response.json({"events": found[:limit], "meta": {"pagination_key": ""}})

    async def _video_search(self, request: Request) -> Response:
        ident = int(request.query.get("doorbot_id", "0"))
        start = int(request.query.get("date_from", "0")) / 1000
        end = int(request.query.get("date_to", "0")) / 1000
        found = [d.recording_json(self.base) for d in self.dings
                 if d.device.id == ident and d.device.has_video and start <= d.created <= end]
        return Response.json({"video_search": found})

    async def _share(self, request: Request) -> Response:
        assert request.match is not None
        ident = int(request.match.group("ding"))
        if not any(d.id == ident for d in self.dings):
            return Response.json({"error": "not found"}, 404)
        return Response.json({"url": f"{self.base}/media/{ident}.mp4"})

    async def _media(self, request: Request) -> Response:
        self.downloads += 1
        body = self.recording_body if self.recording_body is not None else small_mp4()
        return Response(200, body, content_type="video/mp4")

    async def _event_picture(self, request: Request) -> Response:
        self.event_picture_requests += 1
        uuid = request.query.get("uuid", "")
        if not any(d.snapshot_uuid == uuid for d in self.dings):
            return Response.json({"error": "not found"}, 404)
        return Response(200, small_jpeg(), content_type="image/jpeg")

    async def _snapshot(self, request: Request) -> Response:
        assert request.match is not None
        device = self.camera_by_id(int(request.match.group("dev")))
        if device is None:
            return Response.json({"error": "not found"}, 404)
        self.snapshot_requests += 1
        self._notify()
        if device.battery is not None and self._live(device):
            return Response.json({"error": "device is streaming"}, 409)
        now = time.monotonic()
        last = self._last_snapshot.get(device.id)
        if last is not None and now - last < self.snapshot_spacing:
            wait = max(1, int(self.snapshot_spacing - (now - last) + 0.999))
            return Response.json({"error": "too many requests"}, 429,
                                 headers={"Retry-After": str(wait)})
        self._last_snapshot[device.id] = now
        return Response(200, small_jpeg(), content_type="image/jpeg",
                        headers={"x-time-millis": str(int(time.time() * 1000))})

    async def _ticket(self, request: Request) -> Response:
        ticket = "sim-ticket-" + secrets.token_urlsafe(16)
        self.tickets[ticket] = False
        return Response.json({"ticket": ticket, "responseTimestamp": int(time.time() * 1000)})

    async def _push_register(self, request: Request) -> Response:
        body = json.loads(request.body or b"{}")
        if not body.get("sender_id"):
            return Response.json({"error": "missing sender id"}, 400)
        registration = {"token": "sim-fcm-" + secrets.token_urlsafe(20),
                        "android_id": str(secrets.randbelow(10**18)),
                        "security_token": str(secrets.randbelow(10**18))}
        self.registrations[registration["android_id"]] = registration
        self._notify()
        return Response.json(registration)

    # -- websockets -------------------------------------------------------------------------

    async def _ws_check(self, connection: Any, request: Any) -> Any:
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(request.path)
        if parts.path == "/push/listen":
            header = request.headers.get("Authorization", "")
            ident, _, token = header.removeprefix("AidLogin ").partition(":")
            found = self.registrations.get(ident)
            if found is None or found["security_token"] != token:
                return connection.respond(401, "Unauthorized\n")
            return None
        if parts.path == "/ws":
            ticket = parse_qs(parts.query).get("token", [""])[0]
            if self.tickets.get(ticket) is not False:
                return connection.respond(401, "Unauthorized\n")
            self.tickets[ticket] = True  # single use
            return None
        return connection.respond(404, "Not Found\n")

    async def _ws_handler(self, connection: Any) -> None:
        from urllib.parse import urlsplit

        path = urlsplit(connection.request.path).path
        if path == "/push/listen":
            header = connection.request.headers.get("Authorization", "")
            ident = header.removeprefix("AidLogin ").partition(":")[0]
            await push_listener(self, connection, self.registrations[ident])
        else:
            await signalling(self, connection)

    # -- controls ---------------------------------------------------------------------------

    def ding(self, which: int | str = 0, kind: str = "ding") -> str:
        """An event on a device (``ding``, ``motion``, ``person``, ``vehicle``, ``unlock``).

        It goes to history, the active dings, the recordings and every push
        listener whose token was registered with Ring; returns the ding id.
        """
        device = self.device(which)
        raw, detection = _JSON_DETECTIONS[kind]
        ding = SimDing.make(device, raw, detection)
        self.dings.append(ding)
        message = json.dumps({"type": "notification", "id": f"0:{secrets.token_hex(8)}",
                              "message": ding.push_json()})
        for client in self.push_clients:
            if client.registration["token"] in self.ring_push_tokens:
                client.queue.put_nowait(message)
                self.push_sent += 1
        self._notify()
        return str(ding.id)

    def go_silent(self) -> int:
        """The push channel goes half-open: nothing passes either way (also for new ones)."""
        self.front.silent_kinds.add("push")
        return self.front.silence("push")

    def resume_push(self) -> int:
        """Push flows again (connections made from now on; silent ones stay dead)."""
        self.front.silent_kinds.discard("push")
        return self.front.count("push")

    def drop_push(self) -> int:
        """Cut every push connection; how many."""
        return self.front.cut("push")

    @property
    def push_listeners(self) -> int:
        """Push connections open now."""
        return len(self.push_clients)

    async def close_live_views(self, code: int = 0, text: str = "") -> int:
        """Send ``close`` with this reason to every running live view; how many."""
        running = [s for s in self.live_sessions if not s.ended.is_set()]
        for live in running:
            await live.close(code, text)
        return len(running)

    async def drop_live_views(self) -> int:
        """End the media of every running live view abruptly; how many."""
        running = [s for s in self.live_sessions if not s.ended.is_set()]
        for live in running:
            await live.drop()
        return len(running)

    @property
    def running_live_views(self) -> list[LiveSession]:
        """Live views that have not ended."""
        return [s for s in self.live_sessions if not s.ended.is_set()]
