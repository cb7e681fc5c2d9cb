"""`NestCloud`: a loopback Google Nest cloud for tests (OAuth, SDM REST, Pub/Sub, streams).

One `HttpDevice` on 127.0.0.1 serves, shaped on Google's documented APIs:

- ``/token``: the OAuth token endpoint (authorization code with the PKCE
  verifier checked, refresh; ``invalid_grant`` for a revoked grant,
  ``invalid_client`` for a wrong secret); `consent` plays the browser
  part of the Partner Connections Manager and returns the redirect;
- ``/v1/enterprises/<project>/...``: ``devices``, ``devices/<id>``,
  ``structures``, ``structures/<id>/rooms`` and ``:executeCommand`` with
  ``GenerateRtspStream`` / ``ExtendRtspStream`` / ``StopRtspStream``,
  ``GenerateWebRtcStream`` (the offer's section order checked) /
  ``ExtendWebRtcStream`` / ``StopWebRtcStream`` and ``GenerateImage``;
  Google's error shape (``{"error": {"code", "message", "status"}}``), its
  per-minute quotas (429 ``RESOURCE_EXHAUSTED``) and `throttle` to force
  them;
- ``/pubsub/v1/projects/<cloud project>/subscriptions/<name>``: ``:pull``
  (a long poll), ``:acknowledge``, ``GET`` and ``PUT`` (re-creation after
  `delete_subscription`), `silence_events` for pulls that never answer;
- event media: ``/sdm_event_snapshot/<id>`` (``Authorization: Basic
  <token>``) and ``/clip/<id>.mp4`` (bearer token).

Streams: RTSP from a `TokenRtspServer` (the stream token in ``?auth=``, as
Google's URLs carry it), WebRTC from a `camsdk.testing.WebRtcAnswerer` per
stream (H.264 from the virtual scene, no re-encoding), with Google's answer
quirks (empty candidate foundations, ``a=sendrecv``) unless ``quirks=False``.
Streams expire ``stream_ttl`` seconds after generation or extension;
battery devices do not extend (``extension_refusal``: ``"ignore"`` answers
with the old expiry as Google does, ``"error"`` with
``FAILED_PRECONDITION``). ``clock`` (monotonic seconds) drives expiry,
quotas and tokens; with a clock of your own, `advance` sweeps lapsed
streams.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from camsdk.testing._http_device import HttpDevice
from camsdk.testing._lifecycle import Simulator

from ._devices import SimDevice, default_devices
from ._handlers import CloudHandlers, stamp
from ._oauth import PUBSUB_SCOPE, SDM_SCOPE, OAuthServer
from ._pubsub import Subscription
from ._streams import LiveStream, StreamBook, TokenRtspServer

__all__ = ["NestCloud"]

_EVENT_KINDS = {
    "motion": "sdm.devices.events.CameraMotion.Motion",
    "person": "sdm.devices.events.CameraPerson.Person",
    "sound": "sdm.devices.events.CameraSound.Sound",
    "chime": "sdm.devices.events.DoorbellChime.Chime",
}


class NestCloud(CloudHandlers, Simulator):
    """A simulated Google Nest cloud on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        *,
        project_id: str = "camsdk-sim-project",
        cloud_project: str = "camsdk-sim-cloud",
        subscription: str = "camsdk-events",
        client_id: str = "sim-client.apps.googleusercontent.com",
        client_secret: str = "sim-client-secret-0123",
        devices: list[SimDevice] | None = None,
        stream_ttl: float = 300.0,
        access_ttl: float = 3600.0,
        pull_wait: float = 2.0,
        extension_refusal: Literal["ignore", "error"] = "ignore",
        webrtc_audio: Literal["opus"] | None = None,
        webrtc_params: Any = None,
        quirks: bool = True,
        command_qpm: int = 5,
        project_qpm: int = 10,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.project_id = project_id
        self.cloud_project = cloud_project
        self.client_id = client_id
        self.client_secret = client_secret
        self.devices = devices if devices is not None else default_devices()
        self.pull_wait = pull_wait
        self.extension_refusal = extension_refusal
        self.webrtc_audio = webrtc_audio
        self.quirks = quirks
        self.command_qpm = command_qpm
        self.project_qpm = project_qpm
        self._own_clock = clock is not None
        self._clock = clock or time.monotonic
        self._epoch = (datetime.now(UTC), self._clock())
        if webrtc_params is None:
            from camsdk.drivers.virtual._scene import LoopParams

            webrtc_params = LoopParams(width=320, height=240, fps=15, gop=15, seconds=2)
        self.webrtc_params = webrtc_params
        self.oauth = OAuthServer(client_id=client_id, client_secret=client_secret,
                                 access_ttl=access_ttl, clock=self._clock)
        self.subscription = Subscription(
            f"projects/{cloud_project}/subscriptions/{subscription}",
            f"projects/sdm-prod/topics/enterprise-{project_id}", clock=self._clock)
        self.streams = StreamBook(ttl=stream_ttl, clock=self._clock)
        self.http = HttpDevice()
        self.rtsp: TokenRtspServer | None = None
        self._events: dict[str, tuple[str, float, str]] = {}  # sdm event id -> device, time
        self._images: dict[str, tuple[str, float]] = {}  # path id -> token, time
        self._clips: set[str] = set()
        self._threads: dict[str, tuple[str, set[str]]] = {}  # thread -> device, kinds
        self._calls: collections.defaultdict[str, collections.deque[float]] = \
            collections.defaultdict(collections.deque)
        self._throttle = 0
        self._sweeper: asyncio.Task[None] | None = None
        #: executeCommand calls by short command name; 429s answered.
        self.commands: collections.Counter[str] = collections.Counter()
        self.throttled = 0
        #: SDM list/get calls, image and clip downloads.
        self.reads: collections.Counter[str] = collections.Counter()
        self.downloads = 0
        self._routes()

    # -- lifecycle ---------------------------------------------------------------------------

    async def _start_parts(self) -> None:
        """Listen; start the RTSP server when a device streams RTSP."""
        await self.http.start()
        if any(d.protocol == "RTSP" for d in self.devices):
            from camsdk.testing._rtsp_server import generate_source

            source = await asyncio.to_thread(generate_source, 320, 240, 15, 15, 2.0, "h264",
                                             True)
            self.rtsp = TokenRtspServer(source, path="/sdm_live_stream",
                                        admit=self.streams.admit_rtsp)
            await self.rtsp.start()
        if not self._own_clock:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep_forever(), name="camsdk-nest-sim-sweeper")

    async def _stop_parts(self) -> None:
        """Close every stream and server."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        self.subscription.resume()
        await self.http.aclose()  # handlers first: none can hand out a stream afterwards
        for stream in self.streams.streams:
            if stream.answerer is not None:
                await stream.answerer.aclose()
        if self.rtsp is not None:
            await self.rtsp.aclose()

    # -- addresses and options ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.http.url

    @property
    def hub_url(self) -> str:
        """``nest://<project id>``."""
        return f"nest://{self.project_id}"

    def camera_url(self, device: str | SimDevice) -> str:
        """``nest://<project id>/<device id>``."""
        return f"{self.hub_url}/{self.device(device).id}"

    @property
    def subscription_path(self) -> str:
        """``projects/<cloud project>/subscriptions/<name>``."""
        return self.subscription.name

    def options(self, **extra: Any) -> dict[str, Any]:
        """`camsdk.open` / `camsdk.hub` keywords pointing the driver here."""
        return {
            "sdm_url": f"{self.url}/v1", "token_url": f"{self.url}/token",
            "pubsub_url": f"{self.url}/pubsub/v1",
            "authorize_url": f"{self.url}/partnerconnections",
            "subscription": self.subscription_path, "webrtc_hosts": ("127.0.0.1",),
            **extra,
        }

    @property
    def credentials(self) -> Any:
        """The OAuth client as `camsdk.Credentials` (client id, client secret)."""
        import camsdk

        return camsdk.Credentials(self.client_id, self.client_secret)

    def tokens(self, account: str | None = None, *, scope: str | None = None) -> Any:
        """A `camsdk.cloud.TokenSet` as a completed login stores it (issued now)."""
        from pydantic import SecretStr

        from camsdk.cloud import TokenSet

        answer = self.oauth.issue(scope or f"{SDM_SCOPE} {PUBSUB_SCOPE}")
        return TokenSet(
            scheme="nest", account=account or self.project_id,
            access_token=SecretStr(answer["access_token"]),
            refresh_token=SecretStr(answer["refresh_token"]),
            expires_at=datetime.now(UTC) + timedelta(seconds=answer["expires_in"]),
            extra={"project_id": self.project_id, "client_id": self.client_id,
                   "client_secret": self.client_secret},
        )

    def consent(self, authorization_url: str, *, allow: bool = True) -> str:
        """The browser's part of the login: the redirect address with the code."""
        return self.oauth.consent(authorization_url, allow=allow)

    # -- time --------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulator's wall clock (follows ``clock``)."""
        start, base = self._epoch
        return start + timedelta(seconds=self._clock() - base)

    async def advance(self) -> list[LiveStream]:
        """Sweep streams after the caller's clock moved: close those that lapsed."""
        lapsed = self.streams.sweep()
        for stream in lapsed:
            if stream.answerer is not None:
                await stream.answerer.aclose()
        return lapsed

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(0.2)  # pacing a simulated service's housekeeping
            await self.advance()

    # -- devices and faults ------------------------------------------------------------------

    def device(self, ref: str | SimDevice) -> SimDevice:
        """A device by label (``"Rtsp"``), name, id, or itself."""
        if isinstance(ref, SimDevice):
            return ref
        for device in self.devices:
            if ref in (device.label, device.name, device.id):
                return device
        raise KeyError(ref)

    def set_online(self, ref: str | SimDevice, online: bool) -> None:
        """Take a device off line (or back), and publish the Connectivity change."""
        device = self.device(ref)
        device.online = online
        self._publish({"resourceUpdate": {
            "name": device.resource(self.project_id),
            "traits": {"sdm.devices.traits.Connectivity": {
                "status": "ONLINE" if online else "OFFLINE"}}}})

    def revoke_grants(self) -> None:
        """Every refresh token dies (``invalid_grant``), as 7 days after a testing-mode login."""
        self.oauth.revoke()

    def expire_access_tokens(self) -> None:
        """Every access token lapses (401); refresh tokens stay good."""
        self.oauth.expire_access_tokens()

    def throttle(self, commands: int = 1) -> None:
        """Answer the next ``commands`` API calls with 429 ``RESOURCE_EXHAUSTED``."""
        self._throttle += commands

    def delete_subscription(self) -> None:
        """The subscription vanishes (Pub/Sub's 31-day inactivity rule)."""
        self.subscription.delete()

    def silence_events(self) -> None:
        """Pulls hang without an answer (a half-open connection) until `resume_events`."""
        self.subscription.silence()

    def resume_events(self) -> None:
        """Pulls answer again."""
        self.subscription.resume()

    async def break_streams(self) -> None:
        """Drop every live stream's connection once (RTSP reconnect, WebRTC hang-up)."""
        if self.rtsp is not None and self.rtsp.sessions:
            await self.rtsp.restart(0.05)
        for stream in self.streams.streams:
            if stream.answerer is not None and self.streams.live(stream):
                await stream.answerer.aclose()

    # -- events ------------------------------------------------------------------------------

    def _publish(self, message: dict[str, Any]) -> None:
        message = {"eventId": secrets.token_hex(16), "timestamp": stamp(self.now()),
                   **message, "userId": "sim-user",
                   "resourceGroup": [message.get("resourceUpdate", {}).get("name", "")]}
        self.subscription.publish(message, self.now())

    def _event_body(self, device: SimDevice, kind: str, session: str) -> tuple[str, dict[str, Any]]:
        name = _EVENT_KINDS[kind]
        event_id = "sim-evt-" + secrets.token_urlsafe(16)
        self._events[event_id] = (device.id, self._clock(), kind)
        return name, {"eventSessionId": session, "eventId": event_id}

    def start_event(self, ref: str | SimDevice, kind: str = "motion") -> str:
        """A device starts an event (``motion``, ``person``, ``sound``, ``chime``).

        Returns its thread id (or, for devices without threads, its session id).
        """
        device = self.device(ref)
        session = "sim-session-" + secrets.token_urlsafe(12)
        name, body = self._event_body(device, kind, session)
        update = {"name": device.resource(self.project_id), "events": {name: body}}
        if not device.threads:
            self._publish({"resourceUpdate": update})
            return session
        thread = "sim-thread-" + secrets.token_urlsafe(12)
        self._threads[thread] = (device.id, {kind})
        self._publish({"resourceUpdate": update, "eventThreadId": thread,
                       "eventThreadState": "STARTED"})
        return thread

    def update_event(self, thread: str, kind: str) -> None:
        """More of the same activity: ``kind`` joins the thread."""
        device_id, kinds = self._threads[thread]
        device = self.device(device_id)
        kinds.add(kind)
        name, body = self._event_body(device, kind, thread.replace("thread", "session"))
        self._publish({"resourceUpdate": {"name": device.resource(self.project_id),
                                          "events": {name: body}},
                       "eventThreadId": thread, "eventThreadState": "UPDATED"})

    def end_event(self, thread: str) -> None:
        """The activity is over; clip devices attach the clip preview to the end."""
        device_id, _kinds = self._threads.pop(thread)
        device = self.device(device_id)
        events: dict[str, Any] = {}
        if device.media == "clip":
            clip = secrets.token_urlsafe(16)
            self._clips.add(clip)
            events["sdm.devices.events.CameraClipPreview.ClipPreview"] = {
                "eventSessionId": thread.replace("thread", "session"),
                "previewUrl": f"{self.url}/clip/{clip}.mp4"}
        self._publish({"resourceUpdate": {"name": device.resource(self.project_id),
                                          "events": events},
                       "eventThreadId": thread, "eventThreadState": "ENDED"})

    def ring(self, ref: str | SimDevice = "Doorbell") -> str:
        """Someone presses the doorbell."""
        return self.start_event(ref, "chime")

    def publish_raw(self, data: str) -> None:
        """Put a Pub/Sub message with ``data`` as it is (not base64 JSON: hostile tests)."""
        self.subscription.publish_raw(data)

    # -- HTTP --------------------------------------------------------------------------------

    def _routes(self) -> None:
        http = self.http
        http.route("POST", "/token", self.oauth.token)
        base = f"/v1/enterprises/{re.escape(self.project_id)}"
        http.route("GET", re.compile(r"/v1/enterprises/([^/]+)/devices"), self._list)
        http.route("GET", re.compile(rf"{base}/devices/([^/:]+)"), self._get)
        http.route("POST", re.compile(rf"{base}/devices/([^/:]+):executeCommand"),
                   self._execute)
        http.route("GET", re.compile(rf"{base}/structures"), self._structures)
        http.route("GET", re.compile(rf"{base}/structures/([^/]+)/rooms"), self._rooms)
        sub = re.escape(f"/pubsub/v1/{self.subscription.name}")
        http.route("POST", re.compile(rf"{sub}:pull"), self._pull)
        http.route("POST", re.compile(rf"{sub}:acknowledge"), self._ack)
        http.route("*", re.compile(sub), self._subscription)
        http.route("GET", re.compile(r"/sdm_event_snapshot/([A-Za-z0-9_-]+)"), self._image)
        http.route("GET", re.compile(r"/clip/([A-Za-z0-9_-]+)\.mp4"), self._clip)
