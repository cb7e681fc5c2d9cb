"""Fake cameras implementing the bridge's protocols, and an MQTT listener."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiomqtt

from camsdk._access import Action
from camsdk._errors import AccessDeniedError, UnsupportedCapabilityError
from camsdk._events import EventPipeline, EventSubscription
from camsdk._models import (
    CameraEvent,
    CameraInfo,
    Capability,
    EventKind,
    PTZPreset,
    Snapshot,
    StreamState,
    StreamStats,
)

JPEG_HEAD = b"\xff\xd8\xff\xe0"


class FakePTZ:
    def __init__(self, cam: FakeCamera) -> None:
        self.cam = cam

    async def _call(self, *call: Any) -> None:
        self.cam.check(Action.PTZ)
        self.cam.ptz_calls.append(call)
        self.cam.ptz_called.set()

    async def move(self, pan: float, tilt: float, zoom: float) -> None:
        await self._call("move", pan, tilt, zoom)

    async def stop(self) -> None:
        await self._call("stop")

    async def goto_preset(self, token: str) -> None:
        await self._call("preset", token)

    async def presets(self) -> list[PTZPreset]:
        self.cam.check(Action.PTZ)
        return [PTZPreset(token="1", name="gate")]


class FakeStream:
    """``cam.stream()``: counts entries and reports the stats a test sets."""

    def __init__(self, cam: FakeCamera) -> None:
        self.cam = cam

    async def __aenter__(self) -> FakeStream:
        self.cam.check(Action.STREAM_OPEN)
        self.cam.streams_open += 1
        self.cam.stream_opened.set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cam.streams_open -= 1

    def stats(self) -> StreamStats:
        return self.cam.stream_stats


class FakeCamera:
    """Events come from `emit`; access is refused for the actions in ``denied``."""

    def __init__(
        self,
        camera_id: str = "cam-1",
        *,
        capabilities: Capability = Capability.EVENTS | Capability.SNAPSHOT | Capability.PTZ,
        denied: set[Action] | None = None,
        event_kinds: str = "",
        url: str = "virtual://fake",
    ) -> None:
        self._id = camera_id
        self._url = url
        self.streams_open = 0
        self.stream_opened = asyncio.Event()
        self.stream_stats = StreamStats(
            state=StreamState.STREAMING, consumers=1, packets=0, bytes=0, keyframes=0,
            reconnects=0, dropped=0, fps=12.5,
        )  # fmt: skip
        self._caps = capabilities
        self.denied = denied or set()
        self.pipeline = EventPipeline(camera_id=camera_id, source=None)
        self.subscribed = asyncio.Event()
        self.events_called = asyncio.Event()
        self.ptz_calls: list[tuple[Any, ...]] = []
        self.ptz_called = asyncio.Event()
        self.snapshots = 0
        self._info = CameraInfo(
            id=camera_id,
            name=f"Camera {camera_id}",
            vendor="Acme",
            model="X1",
            firmware="1.2.3",
            serial="SN42",
            extra={"event_kinds": event_kinds} if event_kinds else {},
        )

    def check(self, action: Action) -> None:
        if action in self.denied:
            raise AccessDeniedError(
                f"{action.value} denied", reason=f"principal has no grant for {action.value}"
            )

    @property
    def id(self) -> str:
        return self._id

    @property
    def url(self) -> str:
        return self._url

    @property
    def info(self) -> CameraInfo:
        return self._info

    @property
    def capabilities(self) -> Capability:
        return self._caps

    async def snapshot(self, *, max_age: float | None = None) -> Snapshot:
        self.check(Action.SNAPSHOT)
        self.snapshots += 1
        return Snapshot(
            jpeg=JPEG_HEAD + f"snapshot-{self.snapshots}".encode(),
            width=640,
            height=480,
            captured_at=datetime.now(UTC),
            source="device",
            camera_id=self._id,
        )

    def events(self) -> EventSubscription:
        self.events_called.set()
        if Capability.EVENTS not in self._caps:
            raise UnsupportedCapabilityError("no events")
        self.check(Action.EVENTS_SUBSCRIBE)
        sub = self.pipeline.subscribe()
        self.subscribed.set()
        return sub

    @property
    def ptz(self) -> FakePTZ:
        if Capability.PTZ not in self._caps:
            raise UnsupportedCapabilityError("no PTZ")
        return FakePTZ(self)

    def stream(
        self, profile: str | None = None, *, audio: bool = True, purpose: str = ""
    ) -> FakeStream:
        if Capability.STREAM not in self._caps:
            raise UnsupportedCapabilityError("no stream")
        return FakeStream(self)

    async def emit(self, kind: EventKind = EventKind.MOTION, **fields: Any) -> None:
        await self.pipeline.publish(CameraEvent(kind=kind, **fields))

    async def aclose(self) -> None:
        await self.pipeline.aclose()


class FakeDetector:
    """``cam.motion(...)``: records when it is entered and exited."""

    def __init__(self, cam: FakeMotionCamera, settings: dict[str, Any]) -> None:
        self.cam = cam
        self.settings = settings

    async def __aenter__(self) -> FakeDetector:
        self.cam.check(Action.FRAMES)
        self.cam.detectors_running += 1
        self.cam.detector_calls.append(("enter", self.settings))
        self.cam.detector_changed.set()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cam.detectors_running -= 1
        self.cam.detector_calls.append(("exit", self.settings))
        self.cam.detector_changed.set()


class FakeMotionCamera(FakeCamera):
    """A `FakeCamera` with a stream and ``motion(...)``, like `SoftwareMotionCamera`."""

    def __init__(self, camera_id: str = "cam-1", **options: Any) -> None:
        options.setdefault(
            "capabilities",
            Capability.EVENTS | Capability.SNAPSHOT | Capability.PTZ | Capability.STREAM,
        )
        super().__init__(camera_id, **options)
        self.detectors_running = 0
        self.detector_calls: list[tuple[str, dict[str, Any]]] = []
        self.detector_changed = asyncio.Event()

    def motion(
        self, *, sensitivity: float = 0.5, fps: float = 2.0, purpose: str = ""
    ) -> FakeDetector:
        return FakeDetector(self, {"sensitivity": sensitivity, "fps": fps, "purpose": purpose})

    async def wait_detectors(self, running: int) -> None:
        """Wait until ``running`` detectors are entered (bound it with ``fail_after``)."""
        while self.detectors_running != running:
            self.detector_changed.clear()
            await self.detector_changed.wait()


class Listener:
    """An MQTT client that records what it receives and waits for what a test expects."""

    def __init__(self, port: int, *topics: str, **client_args: Any) -> None:
        self.port = port
        self.topics = topics
        self.client_args = client_args
        self.received: list[aiomqtt.Message] = []
        self._backlog: list[aiomqtt.Message] = []
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Listener:
        self._client = aiomqtt.Client("127.0.0.1", self.port, **self.client_args)
        await self._client.__aenter__()
        if self.topics:
            # QoS 2 on the subscription shows the QoS each message was published with.
            await self._client.subscribe([(t, 2) for t in self.topics])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.__aexit__(exc_type, exc, tb)

    @property
    def client(self) -> aiomqtt.Client:
        assert self._client is not None
        return self._client

    async def wait_for(
        self, topic: str, predicate: Callable[[aiomqtt.Message], bool] = lambda m: True
    ) -> aiomqtt.Message:
        """The first not yet returned message on ``topic`` matching ``predicate``.

        Callers bound the wait with ``anyio.fail_after``.
        """
        for i, msg in enumerate(self._backlog):
            if msg.topic.value == topic and predicate(msg):
                del self._backlog[i]
                return msg
        async for msg in self.client.messages:
            self.received.append(msg)
            if msg.topic.value == topic and predicate(msg):
                return msg
            self._backlog.append(msg)
        raise AssertionError("message stream ended")

    async def wait_for_any(self) -> aiomqtt.Message:
        """The next not yet returned message, on any topic."""
        if self._backlog:
            return self._backlog.pop(0)
        async for msg in self.client.messages:
            self.received.append(msg)
            return msg
        raise AssertionError("message stream ended")

    async def wait_payload(self, topic: str, payload: bytes) -> aiomqtt.Message:
        return await self.wait_for(topic, lambda m: m.payload == payload)

    async def wait_json(
        self, topic: str, predicate: Callable[[dict[str, Any]], bool] = lambda d: True
    ) -> dict[str, Any]:
        msg = await self.wait_for(topic, lambda m: predicate(json.loads(m.payload)))  # type: ignore[arg-type]
        data: dict[str, Any] = json.loads(msg.payload)  # type: ignore[arg-type]
        return data


class FakePrivacyCamera(FakeMotionCamera):
    """A `FakeMotionCamera` whose device has a privacy mode, like `PrivacyModeCamera`.

    Switching is a ``config`` action (refused when ``Action.CONFIG`` is in
    ``denied``) and needs ``Capability.PRIVACY_MODE``, as on `camsdk.Camera`.
    """

    def __init__(
        self, camera_id: str = "cam-1", *, privacy: bool | None = False, **options: Any
    ) -> None:
        options.setdefault(
            "capabilities",
            Capability.EVENTS | Capability.SNAPSHOT | Capability.PTZ | Capability.STREAM
            | Capability.PRIVACY_MODE,
        )  # fmt: skip
        super().__init__(camera_id, **options)
        self._privacy = privacy
        self.privacy_calls: list[tuple[bool, str]] = []

    @property
    def privacy_mode(self) -> bool | None:
        return self._privacy

    async def set_privacy_mode(self, on: bool, *, purpose: str = "") -> None:
        if Capability.PRIVACY_MODE not in self.capabilities:
            raise UnsupportedCapabilityError("no privacy mode")
        self.check(Action.CONFIG)
        self.privacy_calls.append((on, purpose))
        self._privacy = on


def bridge_settings(mosquitto: Any, topic_prefix: str, **overrides: Any) -> dict[str, Any]:
    """`MqttBridge` keywords for a test: the loopback broker, the test's own topic prefix and
    a fast reconnect backoff, with ``overrides`` on top."""
    settings: dict[str, Any] = {
        "hostname": "127.0.0.1", "port": mosquitto.port, "prefix": topic_prefix,
        "backoff_base": 0.05, "backoff_cap": 0.3,
    }  # fmt: skip
    return settings | overrides
