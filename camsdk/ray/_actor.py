"""`CameraActor`: a Ray actor that owns a group of cameras, on the node that can reach them.

One asyncio actor per camera group (see `FleetConfig.group_of`). It holds
each camera's driver behind a real `Camera` facade, so the owner's controls
stay where the camera is: the policy is decided here for the caller of each
method (`CallerGate`), and the audit log written is this node's own file,
``<audit_dir>/node-<node id>/<group>.jsonl``. Media stays here too: a
stream's shared session, decoder and keyframe cache live in this process;
packets may leave for any node, decoded frames only for consumers on this
node (through Ray's object store, zero-copy).

When the fleet config has a ``[nats]`` table, the actor also forwards every
event of its cameras to that JetStream stream (one `JetStreamSink` per
actor, subscribed as the owner), so events survive the actor's crash.

Every method takes the `Caller` and returns a `Reply`; see `camsdk.ray._wire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import ray

import camsdk

from .._camera import Camera
from .._errors import (
    AccessDeniedError,
    AuthenticationError,
    CameraClosedError,
    CameraTimeoutError,
    CamError,
    ConfigurationError,
    UnsupportedCapabilityError,
)
from .._log import get_logger
from .._media import VideoFrame
from .._models import CameraEvent, Credentials
from ..privacy import AuditLog
from ..sinks._nats_config import pump_events
from ._caller import Caller, CallerGate, CallerPolicy, serving
from ._config import FleetCamera, FleetConfig
from ._handles import MAX_BUFFER, HandleTable
from ._wire import FleetFrame, Reply

__all__ = ["CameraActor", "audit_path"]

log = get_logger("camsdk.ray")
T = TypeVar("T")

_PTZ_CALLS = frozenset(
    {"move", "stop", "absolute", "relative", "status", "presets", "goto_preset", "set_preset",
     "home"}
)
_MAX_BATCH = MAX_BUFFER
_MAX_READ_WAIT = 10.0


def audit_path(audit_dir: Path, node_id: str, group: str) -> Path:
    """Where the actor of ``group`` on node ``node_id`` writes its audit log."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", group)
    return audit_dir / f"node-{node_id[:16]}" / f"{safe}.jsonl"


class _Slot:
    """One camera of the group: its spec, its facade once connected, the last failure."""

    def __init__(self, spec: FleetCamera) -> None:
        self.spec = spec
        self.camera: Camera | None = None
        self.error: CamError | None = None
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class CameraActor:
    """Owns the cameras of one group (see the module docstring). Made remote by the fleet."""

    # Ray awaits an async actor's __init__ on the actor's loop, on every (re)start:
    # the cameras connect at once, not at the first call after a restart.
    async def __init__(self, config_json: str, group: str) -> None:  # type: ignore[misc]
        self.config = FleetConfig.model_validate_json(config_json)
        self.group = group
        self.node_id = ray.get_runtime_context().get_node_id()
        self._policy = CallerPolicy(self.config.policy)
        audit = None
        if self.config.fleet.audit_dir is not None:
            path = audit_path(self.config.fleet.audit_dir, self.node_id, group)
            await asyncio.to_thread(path.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
            audit = AuditLog(path)
        self.audit = audit
        self._gate_args: dict[str, Any] = {"policy": self._policy, "owner": self._policy.owner,
                                           "audit": audit}
        cams = self.config.groups().get(group, ())
        self._slots = {cam.name: _Slot(cam) for cam in cams}
        self._handles = HandleTable(self.config.fleet.idle_timeout)
        self._sink: Any = None  # the JetStreamSink, with a [nats] table
        self._forwarding: asyncio.Task[None] | None = None
        self._started = False
        self.started_at = time.time()
        self._ensure_started()

    # -- lifecycle ---------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._started:
            return
        self._started = True
        self._handles.start()
        loop = asyncio.get_running_loop()
        for slot in self._slots.values():
            slot.task = loop.create_task(self._connect(slot))
        if self.config.nats is not None:
            self._forwarding = loop.create_task(self._forward_events())

    async def _forward_events(self) -> None:
        """Send every camera's events to the fleet's JetStream sink (the owner's subscription)."""
        assert self.config.nats is not None
        try:
            sink = self.config.nats.sink(name=f"camsdk-fleet-{self.group}"[:64])
            await sink.__aenter__()
        except CamError as exc:  # bad credentials, no stream: a config problem, said once
            log.warning("fleet group %s: events not forwarded to JetStream: %s", self.group, exc)
            return
        self._sink = sink
        try:
            async with asyncio.TaskGroup() as tasks:
                for slot in self._slots.values():
                    tasks.create_task(self._forward_camera(slot, sink))
        finally:
            await sink.aclose(drain=False)

    async def _forward_camera(self, slot: _Slot, sink: Any) -> None:
        if slot.task is not None:
            await asyncio.wait({slot.task})  # connected, or given up for good
        if slot.camera is not None:
            await pump_events(slot.camera, sink)

    async def _connect(self, slot: _Slot) -> None:
        """Connect ``slot``'s camera, retrying with capped backoff until it works."""
        delay = 0.5
        while slot.camera is None:
            spec = slot.spec
            credentials = None
            if spec.username:
                password = os.environ.get(spec.password_env, "") if spec.password_env else ""
                credentials = Credentials(spec.username, password)
            try:
                options: dict[str, Any] = dict(spec.options)
                camera = camsdk.open(spec.url, credentials=credentials, config=spec.config or None,
                                     principal=self._policy.owner, **options)
                # Every caller is decided here, on this node: the gate follows the call.
                camera._gate = CallerGate(url=camera.url, **self._gate_args)
                await camera.connect()
            except (AuthenticationError, ConfigurationError) as exc:
                # Retrying bad credentials locks accounts out; a bad URL will not improve.
                slot.error = exc
                slot.ready.set()
                log.warning("fleet camera %s: %s; not retrying", spec.name, exc)
                return
            except CamError as exc:
                slot.error = exc
                slot.ready.set()  # waiters see the failure; retries go on
                log.warning("fleet camera %s: %s; retrying in %.1f s", spec.name, exc, delay)
                await asyncio.sleep(delay)
                slot.ready.clear()
                delay = min(delay * 2, 30.0)
                continue
            slot.camera, slot.error = camera, None
            slot.ready.set()

    async def _camera(self, name: str) -> Camera:
        slot = self._slots.get(name)
        if slot is None:
            raise ConfigurationError(f"camera {name!r} is not in group {self.group!r}")
        if slot.camera is None:
            timeout = slot.spec.config.get("connect_timeout", 10.0)
            try:
                await asyncio.wait_for(slot.ready.wait(), float(timeout) + 1.0)
            except TimeoutError:
                raise CameraTimeoutError(f"camera {name!r} is not connected yet") from None
        if slot.camera is None:
            raise slot.error or CameraClosedError(f"camera {name!r} is not connected")
        return slot.camera

    async def _serve(self, caller: Caller, call: Callable[[], Awaitable[T]]) -> Reply[T]:
        self._ensure_started()
        with serving(caller):
            try:
                return Reply("ok", await call())
            except CamError as exc:
                return Reply("error", error=exc)

    async def ready(self, timeout: float = 30.0) -> dict[str, str]:
        """Wait (bounded) for every camera's first connection attempt; camera -> state."""
        self._ensure_started()
        waits = [slot.ready.wait() for slot in self._slots.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
        return {
            name: "open" if slot.camera is not None else f"error: {slot.error}" if slot.error
            else "connecting"
            for name, slot in self._slots.items()
        }

    async def where(self) -> str:
        """The id of the node this actor runs on."""
        self._ensure_started()
        return self.node_id

    async def stats(self) -> dict[str, Any]:
        """Process memory and handle counts (tests and benchmarks read them)."""
        self._ensure_started()
        nats = None if self._sink is None else dataclasses.asdict(self._sink.stats)
        return {"node_id": self.node_id, "pid": os.getpid(), "rss": _rss_bytes(),
                "started_at": self.started_at, "nats": nats, **self._handles.stats()}

    async def shutdown(self) -> None:
        """Close every handle and camera, and the audit log (before the actor is killed)."""
        if self._sink is not None:  # what is queued gets a bounded chance to reach JetStream
            await self._sink.aclose(drain=True, drain_timeout=5.0)
        if self._forwarding is not None:
            self._forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._forwarding
        await self._handles.aclose()
        for slot in self._slots.values():
            if slot.task is not None:
                slot.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await slot.task
            if slot.camera is not None:
                await slot.camera.aclose()
        if self.audit is not None:
            self.audit.close()

    # -- camera calls ------------------------------------------------------------------

    async def describe(self, camera: str, caller: Caller) -> Reply[dict[str, Any]]:
        """Identity, info and capabilities of ``camera`` (no egress, no policy decision)."""

        async def call() -> dict[str, Any]:
            cam = await self._camera(camera)
            return {"id": cam.id, "url": cam.url, "info": cam.info,
                    "capabilities": cam.capabilities, "node_id": self.node_id}

        return await self._serve(caller, call)

    async def snapshot(self, camera: str, caller: Caller, kwargs: dict[str, Any]) -> Reply[Any]:
        """`Camera.snapshot` for the caller."""

        async def call() -> Any:
            return await (await self._camera(camera)).snapshot(**kwargs)

        return await self._serve(caller, call)

    async def record(
        self, camera: str, caller: Caller, path: str, duration: float, pre_roll: float,
        kwargs: dict[str, Any],
    ) -> Reply[Any]:
        """`Camera.record` for the caller; the file is written on this node."""

        async def call() -> Any:
            cam = await self._camera(camera)
            return await cam.record(path, duration, pre_roll, **kwargs)

        return await self._serve(caller, call)

    async def ptz(
        self, camera: str, caller: Caller, name: str, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Reply[Any]:
        """One `PTZControl` call for the caller."""

        async def call() -> Any:
            if name not in _PTZ_CALLS:
                raise UnsupportedCapabilityError(f"no PTZ call {name[:32]!r}")
            cam = await self._camera(camera)
            return await getattr(cam.ptz, name)(*args, **kwargs)

        return await self._serve(caller, call)

    async def publish_events(
        self, camera: str, caller: Caller, events: list[CameraEvent]
    ) -> Reply[None]:
        """Inject events, in order (integrations, tests); only the owner may."""

        async def call() -> None:
            if caller.principal.id != self._policy.owner.id:
                raise AccessDeniedError("only the owner may publish events",
                                        reason="not the owner")
            cam = await self._camera(camera)
            for event in events:
                await cam.publish_event(event)

        return await self._serve(caller, call)

    # -- streams, iterators, subscriptions ----------------------------------------------

    async def open_stream(
        self, camera: str, caller: Caller, profile: str | None, audio: bool, purpose: str
    ) -> Reply[tuple[str, Any]]:
        """Open a stream (``stream.open`` decided for the caller); (handle id, StreamInfo)."""

        async def call() -> tuple[str, Any]:
            cam = await self._camera(camera)
            stream = await cam.stream(profile, audio=audio, purpose=purpose).open()
            handle = self._handles.add_stream(caller, stream.aclose, stream.info)
            return handle.id, stream.info

        return await self._serve(caller, call)

    async def open_iterator(
        self,
        camera: str,
        caller: Caller,
        kind: str,
        stream_args: dict[str, Any],
        iter_args: dict[str, Any],
        consumer_node: str | None,
        batch: int = 16,
    ) -> Reply[tuple[str, Any]]:
        """Open a packet, frame or event iterator for the caller; (handle id, info)."""

        async def call() -> tuple[str, Any]:
            cam = await self._camera(camera)
            if kind == "events":
                events = cam.events(**iter_args)
                handle = self._handles.add_iterator(
                    "events", caller, events, events.aclose, dropped=lambda: events.dropped,
                    buffer_size=batch)
                return handle.id, None
            if kind == "frames" and consumer_node != self.node_id:
                raise ConfigurationError(
                    "decoded frames are served only to consumers on the camera's node; "
                    "place the consumer there (Fleet.consumer_options) or read packets"
                )
            if kind not in ("packets", "frames"):
                raise ConfigurationError(f"unknown iterator kind {kind!r}")
            stream = await cam.stream(**stream_args).open()
            try:
                iterator: Any = (stream.packets(**iter_args) if kind == "packets"
                                 else stream.frames(**iter_args))
            except BaseException:
                await stream.aclose()
                raise

            async def close() -> None:
                await iterator.aclose()
                await stream.aclose()

            convert = _to_fleet_frame if kind == "frames" else _same
            handle = self._handles.add_iterator(
                kind, caller, iterator, close, convert=convert,
                dropped=lambda: int(iterator.dropped), info=stream.info, buffer_size=batch)
            return handle.id, stream.info

        return await self._serve(caller, call)

    async def read(
        self, handle_id: str, max_items: int = 64, timeout: float = 1.0
    ) -> Reply[tuple[list[Any], bool]]:
        """The next items of an iterator handle: (items, ended); ``lost`` for an unknown id."""
        self._ensure_started()
        handle = self._handles.get(handle_id)
        if handle is None:
            return Reply("lost")
        items, ended, error = await self._handles.read(
            handle, max(1, min(max_items, _MAX_BATCH)), max(0.0, min(timeout, _MAX_READ_WAIT)))
        if error is not None and not items:
            return Reply("error", error=error)
        return Reply("ok", (items, ended and error is None))

    async def close(self, handle_id: str) -> Reply[bool]:
        """Close a handle (stream, iterator, subscription). Idempotent."""
        self._ensure_started()
        return Reply("ok", await self._handles.close(handle_id))


def _same(item: Any) -> Any:
    return item


def _to_fleet_frame(item: Any) -> Any:
    if isinstance(item, VideoFrame):
        return FleetFrame(item.width, item.height, item.format, item.pts, item.time_base,
                          item.keyframe, item.received_at, item.to_ndarray())
    return item  # Discontinuity markers pass as they are


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


