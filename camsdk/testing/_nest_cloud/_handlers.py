"""The HTTP handlers of `NestCloud`: OAuth-checked SDM REST, commands, media, Pub/Sub.

A mixin of `NestCloud` (which owns the state these handlers read and
write); split out to keep each module readable. Google's error shape is
``{"error": {"code", "message", "status"}}`` throughout.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from camsdk.testing._http_device import HttpDevice, Request, Response

from ._devices import STRUCTURE_ID, SimDevice, structure_json
from ._media import clip_mp4, event_jpeg
from ._oauth import PUBSUB_SCOPE, SDM_SCOPE, OAuthServer
from ._pubsub import Subscription
from ._streams import LiveStream, StreamBook, TokenRtspServer

__all__ = ["CloudHandlers", "stamp"]

_LIVE = "sdm.devices.commands.CameraLiveStream."
_IMAGE = "sdm.devices.commands.CameraEventImage.GenerateImage"
_IMAGE_LIFE = 30.0


def _error(status: int, rpc: str, message: str) -> Response:
    return Response.json({"error": {"code": status, "message": message, "status": rpc}}, status)


def stamp(moment: datetime) -> str:
    """``moment`` as Google writes times: RFC 3339, milliseconds, ``Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quirky(answer: str) -> str:
    """Google's answer habits: ``a=candidate: 1 udp ...`` and ``a=sendrecv`` everywhere."""
    lines = []
    for line in answer.splitlines():
        if line.startswith("a=candidate:"):
            fields = line[len("a=candidate:"):].split(" ", 1)
            line = "a=candidate: " + (fields[1] if len(fields) > 1 else "")
        elif line in ("a=sendonly", "a=recvonly"):
            line = "a=sendrecv"
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


class CloudHandlers:
    """The request handlers of `NestCloud` (see the module docstring)."""

    project_id: str
    devices: list[SimDevice]
    oauth: OAuthServer
    subscription: Subscription
    streams: StreamBook
    rtsp: TokenRtspServer | None
    http: HttpDevice
    webrtc_params: Any
    webrtc_audio: Literal["opus"] | None
    quirks: bool
    extension_refusal: Literal["ignore", "error"]
    command_qpm: int
    project_qpm: int
    pull_wait: float
    _calls: Any
    _throttle: int
    _events: dict[str, tuple[str, float, str]]
    _images: dict[str, tuple[str, float]]
    _clips: set[str]
    commands: Any
    throttled: int
    reads: Any
    downloads: int

    _clock: Callable[[], float]

    if TYPE_CHECKING:  # pragma: no cover - defined by NestCloud
        def device(self, ref: str | SimDevice) -> SimDevice: ...

        def now(self) -> datetime: ...

        async def advance(self) -> list[LiveStream]: ...

        @property
        def url(self) -> str: ...

    def _auth(self, request: Request, scope: str = SDM_SCOPE) -> Response | None:
        problem = self.oauth.check(request.headers.get("authorization", ""), scope)
        if not problem:
            return None
        if problem == "insufficient scope":
            return _error(403, "PERMISSION_DENIED",
                          "Request had insufficient authentication scopes.")
        return _error(401, "UNAUTHENTICATED", "Request had invalid authentication "
                      "credentials. Expected OAuth 2 access token.")

    def _quota(self, key: str, limit: int) -> bool:
        calls = self._calls[key]
        now = self._clock()
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        if len(calls) >= limit:
            return False
        calls.append(now)
        return True

    def _throttled(self) -> Response | None:
        if self._throttle > 0:
            self._throttle -= 1
            self.throttled += 1
            return _error(429, "RESOURCE_EXHAUSTED", "Rate limited.")
        return None

    async def _list(self, request: Request) -> Response:
        denied = self._auth(request) or self._throttled()
        if denied is not None:
            return denied
        assert request.match is not None
        if request.match.group(1) != self.project_id:
            return _error(404, "NOT_FOUND", "Enterprise not found.")
        self.reads["devices.list"] += 1
        return Response.json({"devices": [d.record(self.project_id) for d in self.devices]})

    async def _get(self, request: Request) -> Response:
        denied = self._auth(request) or self._throttled()
        if denied is not None:
            return denied
        assert request.match is not None
        self.reads["devices.get"] += 1
        try:
            device = self.device(request.match.group(1))
        except KeyError:
            return _error(404, "NOT_FOUND", "Device not found.")
        return Response.json(device.record(self.project_id))

    async def _structures(self, request: Request) -> Response:
        denied = self._auth(request) or self._throttled()
        if denied is not None:
            return denied
        self.reads["structures.list"] += 1
        return Response.json({"structures": [structure_json(self.project_id)]})

    async def _rooms(self, request: Request) -> Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        rooms = sorted({d.room for d in self.devices})
        prefix = f"enterprises/{self.project_id}/structures/{STRUCTURE_ID}/rooms/"
        return Response.json({"rooms": [
            {"name": prefix + r.replace(" ", "-").lower(),
             "traits": {"sdm.structures.traits.RoomInfo": {"customName": r}}} for r in rooms]})

    async def _execute(self, request: Request) -> Response:
        denied = self._auth(request) or self._throttled()
        if denied is not None:
            return denied
        assert request.match is not None
        await self.advance()
        try:
            device = self.device(request.match.group(1))
            body = json.loads(request.body)
            command, params = str(body["command"]), body.get("params", {})
        except (KeyError, ValueError, TypeError):
            return _error(400, "INVALID_ARGUMENT", "Invalid command or device.")
        short = command.rsplit(".", 1)[-1]
        if not self._quota("project", self.project_qpm) or not self._quota(
                f"{device.id}:{command}", self.command_qpm):
            self.throttled += 1
            return _error(429, "RESOURCE_EXHAUSTED", "Rate limited.")
        self.commands[short] += 1
        if command == _IMAGE:
            return self._generate_image(device, params)
        if not command.startswith(_LIVE):
            return _error(400, "INVALID_ARGUMENT", "Command not supported.")
        if (short.endswith("RtspStream") and device.protocol != "RTSP") or (short.endswith(
                "WebRtcStream") and device.protocol != "WEB_RTC"):
            return _error(400, "INVALID_ARGUMENT", "Command not supported.")
        if short.startswith("Generate") and not device.online:
            return _error(400, "FAILED_PRECONDITION", "The camera is not available for "
                          "streaming.")
        handler = {"GenerateRtspStream": self._generate_rtsp,
                   "ExtendRtspStream": self._extend, "StopRtspStream": self._stop,
                   "GenerateWebRtcStream": self._generate_webrtc,
                   "ExtendWebRtcStream": self._extend,
                   "StopWebRtcStream": self._stop}.get(short)
        if handler is None:
            return _error(400, "INVALID_ARGUMENT", "Command not supported.")
        return await handler(device, params)

    async def _generate_rtsp(self, device: SimDevice, params: dict[str, Any]) -> Response:
        assert self.rtsp is not None
        stream = self.streams.rtsp(device.id)
        return Response.json({"results": self._rtsp_results(stream)})

    def _rtsp_results(self, stream: LiveStream) -> dict[str, Any]:
        assert self.rtsp is not None
        url = (f"rtsp://127.0.0.1:{self.rtsp.port}/sdm_live_stream/{stream.extension_token}"
               f"?auth={stream.stream_token}")
        return {"streamUrls": {"rtspUrl": url}, "streamExtensionToken": stream.extension_token,
                "streamToken": stream.stream_token, "expiresAt": self._expiry(stream)}

    def _expiry(self, stream: LiveStream) -> str:
        moment = self.now() + timedelta(seconds=stream.expires - self._clock())
        # Whole milliseconds, rounded up: a lease never reads as shorter than it is.
        extra = (1000 - moment.microsecond % 1000) % 1000
        return stamp(moment + timedelta(microseconds=extra))

    async def _generate_webrtc(self, device: SimDevice, params: dict[str, Any]) -> Response:
        offer = params.get("offerSdp")
        if not isinstance(offer, str) or not offer.endswith("\n"):
            return _error(400, "INVALID_ARGUMENT", "Invalid offer SDP.")
        kinds = [line[2:].split(" ", 1)[0] for line in offer.splitlines()
                 if line.startswith("m=")]
        if kinds != ["audio", "video", "application"]:
            return _error(400, "INVALID_ARGUMENT", "Offer SDP must have audio, video and "
                          "application sections, in that order.")
        from camsdk.testing._webrtc_peer import WebRtcAnswerer

        answerer = WebRtcAnswerer(params=self.webrtc_params, audio=self.webrtc_audio)
        try:
            answer = await answerer.answer(offer)
        except BaseException as exc:  # the simulator closing cancels this handler too
            await asyncio.shield(answerer.aclose())
            if not isinstance(exc, Exception):
                raise
            return _error(400, "INVALID_ARGUMENT", "Invalid offer SDP.")
        stream = self.streams.webrtc(device.id, answerer)
        return Response.json({"results": {
            "answerSdp": _quirky(answer) if self.quirks else answer,
            "expiresAt": self._expiry(stream), "mediaSessionId": stream.session}})

    async def _extend(self, device: SimDevice, params: dict[str, Any]) -> Response:
        key = params.get("streamExtensionToken") or params.get("mediaSessionId")
        stream = self.streams.find(str(key)) if key else None
        if stream is None or stream.device != device.id or not self.streams.live(stream):
            return _error(400, "FAILED_PRECONDITION", "The stream is not active.")
        if device.battery:
            self.streams.refused += 1
            if self.extension_refusal == "error":
                return _error(400, "FAILED_PRECONDITION",
                              "Stream extension is not supported on battery power.")
            if stream.protocol == "RTSP":  # ignored: the same tokens and expiry
                results = self._rtsp_results(stream)
                del results["streamUrls"]
                return Response.json({"results": results})
            return Response.json({"results": {"expiresAt": self._expiry(stream),
                                              "mediaSessionId": stream.session}})
        self.streams.extend(stream)
        if stream.protocol == "RTSP":
            results = self._rtsp_results(stream)
            del results["streamUrls"]
            return Response.json({"results": results})
        return Response.json({"results": {"expiresAt": self._expiry(stream),
                                          "mediaSessionId": stream.session}})

    async def _stop(self, device: SimDevice, params: dict[str, Any]) -> Response:
        key = params.get("streamExtensionToken") or params.get("mediaSessionId")
        stream = self.streams.find(str(key)) if key else None
        if stream is not None and stream.device == device.id:
            self.streams.stop(stream)
            if stream.answerer is not None:
                await stream.answerer.aclose()
        return Response.json({})

    def _generate_image(self, device: SimDevice, params: dict[str, Any]) -> Response:
        if device.media != "image":
            return _error(400, "INVALID_ARGUMENT", "Command not supported.")
        event = self._events.get(str(params.get("eventId", "")))
        if event is None or event[0] != device.id:
            return _error(400, "FAILED_PRECONDITION", "Event id does not belong to the camera.")
        if self._clock() - event[1] > _IMAGE_LIFE:
            return _error(504, "DEADLINE_EXCEEDED",
                          "Camera image is no longer available for download.")
        image = secrets.token_urlsafe(18)
        token = "g.0.eventToken-" + secrets.token_urlsafe(12)
        self._images[image] = (token, self._clock())
        return Response.json({"results": {"url": f"{self.url}/sdm_event_snapshot/{image}",
                                          "token": token}})

    async def _image(self, request: Request) -> Response:
        assert request.match is not None
        entry = self._images.get(request.match.group(1))
        if entry is None or request.headers.get("authorization") != f"Basic {entry[0]}":
            return _error(401, "UNAUTHENTICATED", "Invalid image token.")
        self.downloads += 1
        width = request.query.get("width")
        size = (int(width), int(width) * 3 // 4) if width and width.isdigit() else (480, 360)
        jpeg = await asyncio.to_thread(event_jpeg, *size)
        return Response(200, jpeg, content_type="image/jpeg")

    async def _clip(self, request: Request) -> Response:
        denied = self._auth(request)
        if denied is not None:
            return denied
        assert request.match is not None
        if request.match.group(1) not in self._clips:
            return _error(404, "NOT_FOUND", "Clip not found.")
        self.downloads += 1
        return Response(200, await asyncio.to_thread(clip_mp4), content_type="video/mp4")

    # -- Pub/Sub -----------------------------------------------------------------------------

    async def _pull(self, request: Request) -> Response:
        denied = self._auth(request, PUBSUB_SCOPE)
        if denied is not None:
            return denied
        try:
            wanted = int(json.loads(request.body or b"{}").get("maxMessages", 100))
        except (ValueError, TypeError, AttributeError):
            return _error(400, "INVALID_ARGUMENT", "Invalid pull request.")
        received = await self.subscription.pull(max(1, min(wanted, 1000)), self.pull_wait)
        if received is None:
            return _error(404, "NOT_FOUND", f"Resource not found (resource="
                          f"{self.subscription.name.rsplit('/', 1)[-1]}).")
        return Response.json({"receivedMessages": received} if received else {})

    async def _ack(self, request: Request) -> Response:
        denied = self._auth(request, PUBSUB_SCOPE)
        if denied is not None:
            return denied
        try:
            ack_ids = json.loads(request.body).get("ackIds", [])
        except (ValueError, AttributeError):
            return _error(400, "INVALID_ARGUMENT", "Invalid acknowledge request.")
        if not self.subscription.exists:
            return _error(404, "NOT_FOUND", "Resource not found.")
        self.subscription.acknowledge([str(a) for a in ack_ids if isinstance(a, str)])
        return Response.json({})

    async def _subscription(self, request: Request) -> Response:
        denied = self._auth(request, PUBSUB_SCOPE)
        if denied is not None:
            return denied
        sub = self.subscription
        if request.method == "PUT":
            try:
                topic = str(json.loads(request.body)["topic"])
            except (ValueError, KeyError, TypeError):
                return _error(400, "INVALID_ARGUMENT", "Invalid subscription.")
            if topic != f"projects/sdm-prod/topics/enterprise-{self.project_id}":
                return _error(404, "NOT_FOUND", "Resource not found (resource=topic).")
            if not sub.create(topic):
                return _error(409, "ALREADY_EXISTS", "Resource already exists in the project.")
            return Response.json({"name": sub.name, "topic": topic, "ackDeadlineSeconds": 10})
        if request.method == "GET":
            if not sub.exists:
                return _error(404, "NOT_FOUND", "Resource not found.")
            return Response.json({"name": sub.name, "topic": sub.topic})
        return _error(405, "INVALID_ARGUMENT", "Method not allowed.")
