"""A fake camera implementing the bridge's `BridgeCamera` protocol, and an MQTT listener."""

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
from camsdk._models import CameraEvent, CameraInfo, Capability, EventKind, PTZPreset, Snapshot

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


class FakeCamera:
    """Events come from `emit`; access is refused for the actions in ``denied``."""

    def __init__(
        self,
        camera_id: str = "cam-1",
        *,
        capabilities: Capability = Capability.EVENTS | Capability.SNAPSHOT | Capability.PTZ,
        denied: set[Action] | None = None,
        event_kinds: str = "",
    ) -> None:
        self._id = camera_id
        self._caps = capabilities
        self.denied = denied or set()
        self.pipeline = EventPipeline(camera_id=camera_id, source=None)
        self.subscribed = asyncio.Event()
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

    async def emit(self, kind: EventKind = EventKind.MOTION, **fields: Any) -> None:
        await self.pipeline.publish(CameraEvent(kind=kind, **fields))

    async def aclose(self) -> None:
        await self.pipeline.aclose()


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

    async def wait_payload(self, topic: str, payload: bytes) -> aiomqtt.Message:
        return await self.wait_for(topic, lambda m: m.payload == payload)

    async def wait_json(
        self, topic: str, predicate: Callable[[dict[str, Any]], bool] = lambda d: True
    ) -> dict[str, Any]:
        msg = await self.wait_for(topic, lambda m: predicate(json.loads(m.payload)))  # type: ignore[arg-type]
        data: dict[str, Any] = json.loads(msg.payload)  # type: ignore[arg-type]
        return data
