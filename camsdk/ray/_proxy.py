"""Proxies: the local facade's API shapes, served by the camera's actor wherever it runs.

``async with fleet.camera("door") as cam`` gives a `CameraProxy`:
``await cam.snapshot()``, ``async with cam.events() as ev``, ``async with
cam.stream() as s, s.packets() as p``, ``s.frames()``, ``await
cam.record(...)``, ``await cam.ptz.move(...)``. Every call carries the
proxy's principal and grants; the actor decides it with the real facade.

Failover: when the actor is gone (its node died, it crashed), a call waits
(up to ``failover_timeout``) for the supervisor or Ray to start it again and
retries; an open iterator reopens on the new actor and yields a
`Discontinuity` (``reconnect``) first, with timestamps shifted so that they
keep increasing. Events are not replayed (Ray is not a durable log).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import ActorUnschedulableError, RayActorError

from .._access import Principal
from .._errors import CameraClosedError, CameraUnreachableError, ConfigurationError
from .._lifecycle import AsyncResource
from .._log import get_logger
from .._media import Discontinuity, MediaPacket, StreamInfo
from .._models import CameraEvent, CameraInfo, Capability, EventKind, OverflowPolicy
from ._caller import Caller
from ._wire import FleetFrame, Reply, unwrap

if TYPE_CHECKING:  # pragma: no cover
    from ._fleet import Fleet

__all__ = ["CameraProxy", "RemoteIterator", "RemotePTZ", "RemoteStream"]

log = get_logger("camsdk.ray")

_ACTOR_GONE = (RayActorError, ActorUnschedulableError)
_READ_WAIT = 1.0


class _Lost(Exception):
    """The actor, or the handle in it, is gone: reopen."""


class CameraProxy(AsyncResource):
    """One camera of the fleet, for one principal (see the module docstring)."""

    def __init__(
        self, fleet: Fleet, name: str, *, principal: Principal, grants: Iterable[Any] = ()
    ) -> None:
        self._fleet = fleet
        self.name = name
        self._spec = fleet.config.camera(name)
        self._group = fleet.config.group_of(self._spec)
        self._caller = Caller(principal, tuple(grants))
        self._described: dict[str, Any] | None = None
        self._open: set[RemoteStream | RemoteIterator] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<CameraProxy {self.name} for {self._caller.principal.id}>"

    @property
    def principal(self) -> Principal:
        """Who this proxy's calls are decided for."""
        return self._caller.principal

    # -- calling the actor, with failover ----------------------------------------------

    async def _reply(self, method: str, *args: Any, retry: bool = True) -> Reply[Any]:
        """Call ``method`` on the camera's actor; wait for a moved actor and retry."""
        if self._closed:
            raise CameraClosedError(f"fleet camera {self.name!r} proxy is closed")
        deadline = time.monotonic() + self._fleet.config.fleet.failover_timeout
        while True:
            handle = await self._fleet._actor(self._group, deadline)
            try:
                reply: Reply[Any] = await getattr(handle, method).remote(*args)
                return reply
            except _ACTOR_GONE as exc:
                self._fleet._forget(self._group, handle)
                if not retry:
                    raise _Lost() from exc
                if time.monotonic() >= deadline:
                    raise CameraUnreachableError(
                        f"fleet camera {self.name!r}: its actor did not come back within "
                        f"{self._fleet.config.fleet.failover_timeout:.0f} s"
                    ) from exc

    async def _call(self, method: str, *args: Any, retry: bool = True) -> Any:
        reply = await self._reply(method, self.name, self._caller, *args, retry=retry)
        if reply.status == "lost":
            raise _Lost()
        return unwrap(reply)

    # -- lifecycle and identity --------------------------------------------------------

    async def connect(self) -> CameraProxy:
        """Reach the camera's actor and read what the camera said about itself."""
        self._described = await self._call("describe")
        return self

    async def _on_enter(self) -> None:
        await self.connect()

    async def aclose(self) -> None:
        """Close every stream and subscription opened through this proxy. Idempotent."""
        for item in list(self._open):
            await item.aclose()
        self._closed = True

    def _described_value(self, key: str) -> Any:
        if self._described is None:
            raise CameraClosedError(f"fleet camera {self.name!r}: use `async with` first")
        return self._described[key]

    @property
    def id(self) -> str:
        """The camera's stable id (as the policy and the audit log know it)."""
        return str(self._described_value("id"))

    @property
    def info(self) -> CameraInfo:
        """What the device said about itself."""
        info: CameraInfo = self._described_value("info")
        return info

    @property
    def capabilities(self) -> Capability:
        """What the camera can do."""
        caps: Capability = self._described_value("capabilities")
        return caps

    @property
    def node_id(self) -> str:
        """The Ray node the camera's actor ran on when last asked."""
        return str(self._described_value("node_id"))

    # -- egress ------------------------------------------------------------------------

    async def snapshot(
        self, *, max_age: float | None = None, profile: str | None = None, purpose: str = "",
        source: str = "auto", wake: bool = False,
    ) -> Any:
        """`camsdk.Camera.snapshot`, decided and taken on the camera's node."""
        kwargs = {"max_age": max_age, "profile": profile, "purpose": purpose, "source": source,
                  "wake": wake}
        return await self._call("snapshot", kwargs)

    async def record(
        self, path: str, duration: float, pre_roll: float = 0.0, *, profile: str | None = None,
        audio: bool = True, purpose: str = "", transcode: bool = False,
    ) -> Any:
        """`camsdk.Camera.record`; ``path`` is on the camera's node. Not retried on failover."""
        kwargs = {"profile": profile, "audio": audio, "purpose": purpose, "transcode": transcode}
        try:
            return await self._call("record", str(path), duration, pre_roll, kwargs, retry=False)
        except _Lost:
            raise CameraUnreachableError(
                f"fleet camera {self.name!r}: its actor was lost while recording"
            ) from None

    async def publish_event(self, event: CameraEvent) -> None:
        """Inject an event into the camera's pipeline (the owner only)."""
        await self._call("publish_events", [event])

    async def publish_events(self, events: Iterable[CameraEvent]) -> None:
        """Inject several events in one call, in order (the owner only)."""
        await self._call("publish_events", list(events))

    @property
    def ptz(self) -> RemotePTZ:
        """PTZ calls, made on the camera's node."""
        return RemotePTZ(self)

    def stream(
        self, profile: str | None = None, *, audio: bool = True, purpose: str = ""
    ) -> RemoteStream:
        """A handle on the camera's shared stream; use ``async with``."""
        return RemoteStream(self, {"profile": profile, "audio": audio, "purpose": purpose})

    def events(
        self,
        kinds: EventKind | str | Iterable[EventKind | str] | None = None,
        *,
        min_score: float | None = None,
        zones: Collection[str] | None = None,
        with_snapshot: bool = False,
        purpose: str = "",
        batch: int = 64,
    ) -> RemoteIterator:
        """Subscribe to the camera's events (``async with`` / ``async for``)."""
        if kinds is not None and not isinstance(kinds, EventKind | str):
            kinds = list(kinds)
        args = {"kinds": kinds, "min_score": min_score,
                "zones": None if zones is None else list(zones),
                "with_snapshot": with_snapshot, "purpose": purpose}
        return RemoteIterator(self, "events", {}, args, batch=batch)


class RemotePTZ:
    """`camsdk.PTZControl`'s calls, forwarded to the camera's actor."""

    def __init__(self, proxy: CameraProxy) -> None:
        self._proxy = proxy

    async def _do(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await self._proxy._call("ptz", name, args, kwargs)

    async def move(self, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0, *,
                   duration: float | None = None, purpose: str = "") -> None:
        """Continuous move at the given speeds (-1..1), for ``duration`` s if given."""
        await self._do("move", pan=pan, tilt=tilt, zoom=zoom, duration=duration, purpose=purpose)

    async def stop(self, *, purpose: str = "") -> None:
        """Stop moving."""
        await self._do("stop", purpose=purpose)

    async def absolute(self, pan: float, tilt: float, zoom: float, *, purpose: str = "") -> None:
        """Move to an absolute position."""
        await self._do("absolute", pan, tilt, zoom, purpose=purpose)

    async def relative(self, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0, *,
                       purpose: str = "") -> None:
        """Move by an offset."""
        await self._do("relative", pan=pan, tilt=tilt, zoom=zoom, purpose=purpose)

    async def status(self, *, purpose: str = "") -> Any:
        """Position and motion state."""
        return await self._do("status", purpose=purpose)

    async def presets(self, *, purpose: str = "") -> Any:
        """The stored presets."""
        return await self._do("presets", purpose=purpose)

    async def goto_preset(self, token: str, *, purpose: str = "") -> None:
        """Move to a preset."""
        await self._do("goto_preset", token, purpose=purpose)

    async def set_preset(self, name: str, *, purpose: str = "") -> Any:
        """Store the current position as a preset named ``name``."""
        return await self._do("set_preset", name, purpose=purpose)

    async def home(self, *, purpose: str = "") -> None:
        """Move to the home position."""
        await self._do("home", purpose=purpose)


class RemoteStream(AsyncResource):
    """A stream opened on the camera's actor; iterators come from `packets` and `frames`."""

    def __init__(self, proxy: CameraProxy, stream_args: dict[str, Any]) -> None:
        self._proxy = proxy
        self._args = stream_args
        self._handle: str | None = None
        self._info: StreamInfo | None = None
        self._closed = False

    @property
    def info(self) -> StreamInfo:
        """Codec, size, frame rate and time base of the stream."""
        if self._info is None:
            raise CameraClosedError("stream is not open: use `async with cam.stream() as s`")
        return self._info

    async def open(self) -> RemoteStream:
        """Open the stream on the actor (``stream.open`` decided there)."""
        if self._closed:
            raise CameraClosedError("a closed stream cannot be reopened")
        a = self._args
        self._handle, self._info = await self._proxy._call(
            "open_stream", a["profile"], a["audio"], a["purpose"])
        self._proxy._open.add(self)
        return self

    async def _on_enter(self) -> None:
        await self.open()

    async def aclose(self) -> None:
        """Close the stream on the actor. Idempotent; never raises for a lost actor."""
        if self._closed:
            return
        self._closed = True
        self._proxy._open.discard(self)
        handle, self._handle = self._handle, None
        if handle is not None:
            await _close_quietly(self._proxy, handle)

    def packets(
        self, *, audio: bool | None = None, queue_size: int | None = None,
        overflow: OverflowPolicy | None = None, purpose: str | None = None, batch: int = 16,
    ) -> RemoteIterator:
        """Encoded packets from the actor (they may cross nodes), up to ``batch`` per call.

        A slow consumer holds at most about ``batch`` items in the actor and
        two batches here; the rest is the camera queue's (``queue_size``,
        ``overflow``), exactly as for a local consumer.
        """
        args = {"audio": audio, "queue_size": queue_size, "overflow": overflow,
                "purpose": purpose}
        return RemoteIterator(self._proxy, "packets", self._args, args, batch=batch)

    def frames(
        self, *, fps: float | None = None, keyframes_only: bool = False, format: str | None = None,
        queue_size: int | None = None, overflow: OverflowPolicy | None = None,
        purpose: str | None = None, batch: int = 4,
    ) -> RemoteIterator:
        """Decoded frames as `FleetFrame`; only for a consumer on the camera's node."""
        args = {"fps": fps, "keyframes_only": keyframes_only, "format": format,
                "queue_size": queue_size, "overflow": overflow, "purpose": purpose}
        return RemoteIterator(self._proxy, "frames", self._args, args, batch=batch)


class RemoteIterator(AsyncResource):
    """Packets, frames or events pulled from the actor in batches, one batch ahead.

    Back pressure: at most one batch is buffered here and one requested; the
    rest waits in the actor's bounded queue, under its overflow policy.
    """

    def __init__(
        self, proxy: CameraProxy, kind: str, stream_args: dict[str, Any],
        iter_args: dict[str, Any], *, batch: int,
    ) -> None:
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigurationError("batch must be a positive integer")
        self._proxy = proxy
        self.kind = kind
        self._stream_args = stream_args
        self._iter_args = iter_args
        self._batch = batch
        self._handle: str | None = None
        self._items: collections.deque[Any] = collections.deque()
        self._pending: Any = None
        self._ended = False
        self._closed = False
        self._rebase = _Rebase()
        #: Times this iterator reopened on a new actor.
        self.failovers = 0

    async def _open(self) -> None:
        consumer = ray.get_runtime_context().get_node_id() if self.kind == "frames" else None
        self._handle, _ = await self._proxy._call(
            "open_iterator", self.kind, self._stream_args, self._iter_args, consumer, self._batch)
        self._proxy._open.add(self)

    async def _on_enter(self) -> None:
        if self._handle is None and not self._closed:
            await self._open()

    def __aiter__(self) -> RemoteIterator:
        return self

    async def __anext__(self) -> Any:
        while not self._items:
            if self._closed or self._ended:
                raise StopAsyncIteration
            if self._handle is None:
                await self._open()
            await self._fill()
        return self._items.popleft()

    def _read(self) -> Any:
        handle = self._proxy._fleet._cached_actor(self._proxy._group)
        if handle is None:
            return None
        return handle.read.remote(self._handle, self._batch, _READ_WAIT)

    async def _fill(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            pending = self._read()
        try:
            if pending is None:
                raise _Lost()
            reply: Reply[Any] = await pending
            if reply.status == "lost":
                raise _Lost()
        except (*_ACTOR_GONE, _Lost):
            await self._failover()
            return
        items, ended = unwrap(reply)
        self._items.extend(self._rebase(item) for item in items)
        if ended:
            self._ended = True
            await self.aclose()
        else:
            self._pending = self._read()  # one batch ahead

    async def _failover(self) -> None:
        self._proxy._fleet._forget(self._proxy._group, None)
        self._handle = None
        self.failovers += 1
        log.info("fleet camera %s: %s reopening after its actor was lost", self._proxy.name,
                 self.kind)
        await self._open()
        if self.kind != "events":
            self._rebase.restart()
            self._items.append(Discontinuity("reconnect"))

    async def aclose(self) -> None:
        """Close the iterator on the actor. Idempotent; never raises for a lost actor."""
        if self._closed:
            return
        self._closed = True
        self._proxy._open.discard(self)
        self._pending = None
        handle, self._handle = self._handle, None
        if handle is not None:
            await _close_quietly(self._proxy, handle)


class _Rebase:
    """Keeps timestamps increasing across a failover (a new actor starts its own clock)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._offset: dict[str, int] = {}
        self._restarted: set[str] = set()

    def restart(self) -> None:
        self._restarted = set(self._last)

    def __call__(self, item: Any) -> Any:
        kind: str
        if isinstance(item, MediaPacket):
            kind, stamp = item.kind, item.dts if item.dts is not None else item.pts
        elif isinstance(item, FleetFrame):
            kind, stamp = "frame", item.pts
        else:
            return item
        if stamp is None:
            return item
        if kind in self._restarted:
            self._restarted.discard(kind)
            shifted = stamp + self._offset.get(kind, 0)
            if shifted <= self._last[kind]:
                step = item.duration if isinstance(item, MediaPacket) and item.duration else 1
                self._offset[kind] = self._last[kind] + step - stamp
        offset = self._offset.get(kind, 0)
        if offset:
            if isinstance(item, MediaPacket):
                item = dataclasses.replace(
                    item, pts=None if item.pts is None else item.pts + offset,
                    dts=None if item.dts is None else item.dts + offset)
            else:
                item = dataclasses.replace(item, pts=stamp + offset)
        self._last[kind] = stamp + offset
        return item


async def _close_quietly(proxy: CameraProxy, handle_id: str) -> None:
    actor = proxy._fleet._cached_actor(proxy._group)
    if actor is None:
        return
    try:
        await asyncio.wait_for(actor.close.remote(handle_id), 10.0)
    except (*_ACTOR_GONE, TimeoutError):
        pass  # the actor is gone, and the handle with it (or its idle timer will end it)
