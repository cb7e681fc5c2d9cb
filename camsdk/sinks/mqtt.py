"""MQTT bridge: camera events, states, snapshots and commands over an MQTT broker.

`MqttBridge` publishes, per camera, under ``<prefix>/<slug>/``:

===================  ==========================  ====  ======
topic                payload                     QoS   retain
===================  ==========================  ====  ======
``availability``     ``online`` / ``offline``    1     yes (and the last will)
``events``           `CameraEvent` JSON          1     no
``<kind>``           ``ON`` / ``OFF``            1     yes
``snapshot``         JPEG bytes                  0     yes
``error``            JSON error report           1     no
===================  ==========================  ====  ======

and subscribes to the command topics ``ptz/set`` (JSON:
``{"pan": 0.1, "tilt": 0, "zoom": 0}``, ``{"preset": "1"}`` or
``{"stop": true}``) and ``snapshot/request``. Commands are executed through
the camera's own API, so its access policy and audit log decide and record
them; a refused command is reported on ``error`` and logged without secrets.
Home Assistant discovery configs (an ``image`` entity and a ``binary_sensor``
per event kind) are published under ``<discovery_prefix>``.

Each camera has its own broker connection. MQTT allows one last will per
connection, and a per-camera connection is what lets *every* camera's
``availability`` topic flip to ``offline`` when the bridge dies abruptly; it
also keeps one camera's burst (or a stalled snapshot upload) from delaying
another's events. Delivery of QoS 1 messages is at-least-once: a message
leaves the bounded outgoing queue only when the broker acknowledged it and
is re-sent after a reconnect otherwise, so consumers should treat
``event_id`` as an idempotency key. The queue never grows past
``queue_size``; when a long outage fills it the oldest messages are dropped
and counted.

Requires the ``mqtt`` extra (``pip install camsdk[mqtt]``, which installs
aiomqtt).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import aiomqtt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from .._access import Principal
from .._errors import AccessDeniedError, CamError, ConfigurationError, UnsupportedCapabilityError
from .._events import STATE_KINDS, backoff_delay, raise_if_cancelling
from .._log import get_logger, register_secret, scrub
from .._models import CameraEvent, CameraInfo, Capability, EventKind
from ._ha_discovery import (
    SENSOR_KINDS,
    binary_sensor_config,
    config_topic,
    device_block,
    image_config,
    topic_slug,
)
from ._queue import AckQueue, OutgoingMessage
from ._types import BridgeCamera

__all__ = ["BridgeStats", "MqttBridge", "PtzCommand"]

_log = get_logger(__name__)

# Command payloads are tiny JSON objects; anything bigger is refused unparsed.
_MAX_COMMAND_BYTES = 4096


@dataclass(frozen=True, slots=True)
class _Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class PtzCommand(BaseModel):
    """A ``ptz/set`` payload: exactly one of a move (speeds), a preset, or stop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pan: float | None = Field(default=None, ge=-1.0, le=1.0)
    tilt: float | None = Field(default=None, ge=-1.0, le=1.0)
    zoom: float | None = Field(default=None, ge=-1.0, le=1.0)
    preset: str | None = Field(default=None, min_length=1, max_length=64)
    stop: bool = False

    @model_validator(mode="after")
    def _exactly_one_action(self) -> Self:
        moving = any(v is not None for v in (self.pan, self.tilt, self.zoom))
        if sum((moving, self.preset is not None, self.stop)) != 1:
            raise ValueError("give exactly one of: pan/tilt/zoom speeds, preset, stop")
        return self


@dataclass(frozen=True, slots=True)
class BridgeStats:
    """Counters of a bridge, summed over its cameras."""

    #: Messages the broker acknowledged (QoS 1) or accepted (QoS 0).
    published: int
    #: Messages discarded because an outgoing queue was full.
    dropped: int
    #: Messages waiting or in flight.
    queued: int
    #: Broker connections lost or refused.
    reconnects: int
    #: Commands received on command topics.
    commands: int
    #: Commands the access policy refused.
    denied: int
    #: Error reports published on ``error`` topics.
    errors: int


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _payload_bytes(payload: object) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode()


def _event_json(event: CameraEvent) -> bytes:
    try:
        return event.model_dump_json().encode()
    except Exception:  # a driver put something odd in ``extra``
        return event.model_dump_json(fallback=str).encode()


class MqttBridge:
    """Bridges cameras to an MQTT broker (see the module docstring for topics).

    ``cameras`` should already be connected (entered). The bridge calls their
    API as whoever opened them: open them with ``principal=bridge.principal``
    (`run_bridge_from_config` does) so the access policy decides MQTT commands
    for the MQTT client, not for the camera owner. ``password`` may be a
    `SecretStr`; it is never logged or shown in ``repr``.

    Use ``async with bridge:`` (runs in the background until the block ends)
    or ``await bridge.run()`` (runs until cancelled).
    """

    def __init__(
        self,
        cameras: Sequence[BridgeCamera],
        *,
        hostname: str,
        port: int = 1883,
        username: str | None = None,
        password: str | SecretStr | None = None,
        prefix: str = "camsdk",
        discovery_prefix: str | None = "homeassistant",
        publish_snapshots: bool = True,
        client_id: str | None = None,
        principal: Principal | None = None,
        topic_names: Mapping[str, str] | None = None,
        queue_size: int = 1000,
        inflight: int = 32,
        keepalive: int = 30,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        command_timeout: float = 10.0,
        publish_timeout: float = 10.0,
        snapshot_max_age: float | None = 1.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not prefix or any(c in prefix for c in "+#") or prefix.endswith("/"):
            raise ConfigurationError(f"invalid MQTT topic prefix {prefix!r}")
        if discovery_prefix is not None and (
            not discovery_prefix or any(c in discovery_prefix for c in "+#")
        ):
            raise ConfigurationError(f"invalid discovery prefix {discovery_prefix!r}")
        if queue_size < 2 or inflight < 1 or inflight >= queue_size:
            raise ConfigurationError("need queue_size >= 2 and 1 <= inflight < queue_size")
        self.hostname = hostname
        self.port = port
        self.username = username
        if isinstance(password, str):
            password = SecretStr(password)
        self._password = password
        if password is not None:
            register_secret(password.get_secret_value())
        self.prefix = prefix
        self.discovery_prefix = discovery_prefix
        self.publish_snapshots = publish_snapshots
        self.client_id = client_id or f"camsdk-{secrets.token_hex(4)}"
        self.principal = principal or Principal(f"mqtt:{self.client_id}", "MQTT bridge")
        self.queue_size = queue_size
        self.inflight = inflight
        self.keepalive = keepalive
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.command_timeout = command_timeout
        self.publish_timeout = publish_timeout
        self.snapshot_max_age = snapshot_max_age
        self.tls_context = tls_context
        names = dict(topic_names or {})
        self._links: list[_CameraLink] = []
        seen: dict[str, str] = {}
        for cam in cameras:
            name = names.get(cam.id)
            try:
                slug = topic_slug(name or cam.id)
            except ValueError as exc:
                raise ConfigurationError(str(exc)) from None
            if slug in seen:
                raise ConfigurationError(
                    f"cameras {seen[slug]!r} and {cam.id!r} map to the same topic {slug!r}; "
                    "give them distinct topic names"
                )
            seen[slug] = cam.id
            self._links.append(_CameraLink(self, cam, slug, name))
        self._task: asyncio.Task[None] | None = None

    # -- introspection ---------------------------------------------------------

    def base_topic(self, camera_id: str) -> str:
        """``<prefix>/<slug>`` of the camera with id ``camera_id``."""
        return self._link(camera_id).base

    def _link(self, camera_id: str) -> _CameraLink:
        for link in self._links:
            if link.cam.id == camera_id:
                return link
        raise KeyError(camera_id)

    def stats(self) -> BridgeStats:
        """Counters summed over every camera."""
        links = self._links
        return BridgeStats(
            published=sum(x.queue.acked for x in links),
            dropped=sum(x.queue.dropped for x in links),
            queued=sum(len(x.queue) for x in links),
            reconnects=sum(x.reconnects for x in links),
            commands=sum(x.commands for x in links),
            denied=sum(x.denied for x in links),
            errors=sum(x.errors for x in links),
        )

    def __repr__(self) -> str:
        return (
            f"<MqttBridge {self.hostname}:{self.port} client_id={self.client_id!r} "
            f"cameras={len(self._links)}>"
        )

    # -- lifecycle -----------------------------------------------------------------

    async def run(self) -> None:
        """Bridge every camera until cancelled. Reconnects to the broker forever."""
        async with asyncio.TaskGroup() as tg:
            for link in self._links:
                tg.create_task(link.run(), name=f"camsdk-mqtt-{link.slug}")

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("MqttBridge is not reentrant")
        self._task = asyncio.get_running_loop().create_task(self.run(), name="camsdk-mqtt")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        if exc_type is None and not task.done() and all(x.connected.is_set() for x in self._links):
            # A clean exit gets what is queued out first, within a short bound.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), timeout=2.0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def wait_connected(self) -> None:
        """Wait until every camera's broker session is up and announced."""
        for link in self._links:
            await link.connected.wait()

    async def flush(self) -> None:
        """Wait until everything queued so far was acknowledged by the broker (or dropped)."""
        for link in self._links:
            await link.queue.wait_done()

    async def remove_discovery(self, *, purge: bool = False) -> None:
        """Remove the Home Assistant entities: empty retained configs, then `flush`.

        With ``purge`` the retained state, snapshot and availability messages
        are cleared too. The bridge stops re-announcing afterwards.
        """
        for link in self._links:
            link.remove_discovery(purge=purge)
        await self.flush()

    # -- helpers for links ---------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_cap)

    def _new_client(self, link: _CameraLink) -> aiomqtt.Client:
        client = aiomqtt.Client(
            self.hostname,
            self.port,
            username=self.username,
            password=self._password.get_secret_value() if self._password is not None else None,
            identifier=f"{self.client_id}-{link.slug}",
            will=aiomqtt.Will(link.t_availability, b"offline", qos=1, retain=True),
            # Commands are not worth keeping while we are away: a stale PTZ
            # move replayed minutes later is worse than a lost one.
            clean_session=True,
            keepalive=self.keepalive,
            timeout=self.publish_timeout,
            max_inflight_messages=self.inflight,
            max_queued_outgoing_messages=self.inflight + 8,
            tls_context=self.tls_context,
            logger=get_logger("camsdk.sinks.mqtt.client"),
        )
        # Our own window bounds pending publishes; aiomqtt's warning would fire
        # below it (its default threshold is 10).
        client.pending_calls_threshold = self.inflight + 8
        return client


class _CameraLink:
    """One camera's side of the bridge: its queue, its broker session, its workers."""

    def __init__(self, bridge: MqttBridge, cam: BridgeCamera, slug: str, name: str | None) -> None:
        self.bridge = bridge
        self.cam = cam
        self.slug = slug
        self.name = name
        self.base = f"{bridge.prefix}/{slug}"
        self.t_availability = f"{self.base}/availability"
        self.t_events = f"{self.base}/events"
        self.t_snapshot = f"{self.base}/snapshot"
        self.t_error = f"{self.base}/error"
        self.t_ptz = f"{self.base}/ptz/set"
        self.t_snapshot_request = f"{self.base}/snapshot/request"
        self.t_ha_status = f"{bridge.discovery_prefix}/status" if bridge.discovery_prefix else None
        self.queue: AckQueue[_Publish] = AckQueue(bridge.queue_size)
        self.connected = asyncio.Event()
        self.camera_online = False
        self.announced: set[EventKind] = set()
        self.discovery_removed = False
        self.active: dict[EventKind, set[str]] = {}
        self.snapshot_wanted = asyncio.Event()
        self.snapshot_requested = False
        self.commands_queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=16)
        self.reconnects = 0
        self.commands = 0
        self.denied = 0
        self.errors = 0

    # -- outgoing ---------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        self.queue.put(_Publish(topic, payload, qos, retain))

    def set_camera_online(self, online: bool) -> None:
        if online == self.camera_online:
            return
        self.camera_online = online
        self.put(self.t_availability, b"online" if online else b"offline", qos=1, retain=True)
        if not online:
            # Ends may be lost while the camera is away: say "off", not a stale "on".
            for kind, ids in self.active.items():
                if ids:
                    ids.clear()
                    self.put(f"{self.base}/{kind.value}", b"OFF", qos=1, retain=True)

    def report_error(self, command: str, error: str, message: str) -> None:
        self.errors += 1
        body = {
            "command": command,
            "error": error,
            "message": scrub(message),
            "principal": self.bridge.principal.id,
            "camera": self.slug,
            "at": _now_iso(),
        }
        self.put(self.t_error, json.dumps(body).encode(), qos=1, retain=False)

    # -- discovery ------------------------------------------------------------------------

    def _info(self) -> CameraInfo | None:
        try:
            return self.cam.info
        except Exception:  # not connected yet: announce what we know
            return None

    def initial_kinds(self) -> set[EventKind]:
        try:
            if Capability.EVENTS not in self.cam.capabilities:
                return set()
        except Exception:
            return set()
        info = self._info()
        declared = (info.extra.get("event_kinds", "") if info is not None else "").split(",")
        known = {k.value for k in EventKind}
        kinds = {EventKind(k.strip()) for k in declared if k.strip() in known}
        kinds &= SENSOR_KINDS
        # Motion is what nearly every camera reports; other kinds are announced
        # the first time one is seen, so HA does not list sensors a camera lacks.
        return kinds or {EventKind.MOTION}

    def discovery_messages(self) -> Iterator[tuple[str, bytes]]:
        prefix = self.bridge.discovery_prefix
        if prefix is None or self.discovery_removed:
            return
        device = device_block(self._info(), self.slug, self.name)
        if self.bridge.publish_snapshots:
            topic, payload = image_config(
                discovery_prefix=prefix, slug=self.slug, base=self.base, device=device
            )
            yield topic, json.dumps(payload).encode()
        for kind in sorted(self.announced, key=lambda k: k.value):
            topic, payload = binary_sensor_config(
                kind, discovery_prefix=prefix, slug=self.slug, base=self.base, device=device
            )
            yield topic, json.dumps(payload).encode()

    def announce_kind(self, kind: EventKind) -> None:
        self.announced.add(kind)
        prefix = self.bridge.discovery_prefix
        if prefix is None or self.discovery_removed:
            return
        topic, payload = binary_sensor_config(
            kind,
            discovery_prefix=prefix,
            slug=self.slug,
            base=self.base,
            device=device_block(self._info(), self.slug, self.name),
        )
        self.put(topic, json.dumps(payload).encode(), qos=1, retain=True)

    def remove_discovery(self, *, purge: bool) -> None:
        prefix = self.bridge.discovery_prefix
        if prefix is not None:
            topics = [config_topic(prefix, "image", self.slug, "snapshot")]
            topics += [
                config_topic(prefix, "binary_sensor", self.slug, k.value) for k in self.announced
            ]
            for topic in topics:
                self.put(topic, b"", qos=1, retain=True)
        self.discovery_removed = True
        if purge:
            for topic in (
                self.t_snapshot,
                self.t_availability,
                *(f"{self.base}/{k.value}" for k in self.announced),
            ):
                self.put(topic, b"", qos=1, retain=True)

    # -- workers ---------------------------------------------------------------------------

    async def run(self) -> None:
        self.announced |= self.initial_kinds()
        if self.bridge.publish_snapshots:
            self.snapshot_wanted.set()  # give HA a picture before the first event
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._camera_loop())
            tg.create_task(self._broker_loop())
            tg.create_task(self._snapshot_loop())
            tg.create_task(self._command_loop())

    async def _camera_loop(self) -> None:
        attempt = 0
        while True:
            try:
                async with self.cam.events() as events:
                    self.set_camera_online(True)
                    async for event in events:
                        attempt = 0
                        self.on_event(event)
                reason = "event stream ended"
            except UnsupportedCapabilityError:
                # No events: the camera is still useful for snapshots and PTZ.
                self.set_camera_online(True)
                await asyncio.Event().wait()
                return
            except AccessDeniedError as exc:
                reason = f"events refused: {exc.reason or exc}"
                self.report_error("events", "access_denied", reason)
            except Exception as exc:  # any camera failure: retry
                raise_if_cancelling(exc)
                reason = f"{type(exc).__name__}: {exc}"
            self.set_camera_online(False)
            delay = self.bridge._backoff(attempt)
            attempt += 1
            _log.warning(
                "events of %s lost (%s); retrying in %.1fs", self.slug, scrub(reason), delay
            )
            await asyncio.sleep(delay)

    def on_event(self, event: CameraEvent) -> None:
        self.put(self.t_events, _event_json(event), qos=1, retain=False)
        kind = event.kind
        if kind is EventKind.CONNECTION:
            self.set_camera_online(event.active)
            return
        if kind in STATE_KINDS or kind not in SENSOR_KINDS:
            return
        if kind not in self.announced:
            self.announce_kind(kind)
        ids = self.active.setdefault(kind, set())
        was_on = bool(ids)
        is_new = event.active and event.event_id not in ids
        if event.active:
            ids.add(event.event_id)
        else:
            ids.discard(event.event_id)
        if bool(ids) != was_on:
            self.put(f"{self.base}/{kind.value}", b"ON" if ids else b"OFF", qos=1, retain=True)
        if is_new and self.bridge.publish_snapshots:
            self.snapshot_wanted.set()

    async def _snapshot_loop(self) -> None:
        while True:
            await self.snapshot_wanted.wait()
            # Requests that arrive while one is being taken coalesce into the next.
            self.snapshot_wanted.clear()
            requested, self.snapshot_requested = self.snapshot_requested, False
            if Capability.SNAPSHOT not in self.cam.capabilities:
                # Do not ask, and log, on every event for what the camera cannot do.
                if requested:
                    self.report_error("snapshot/request", "unsupported", "camera has no snapshots")
                continue
            try:
                async with asyncio.timeout(self.bridge.command_timeout):
                    snap = await self.cam.snapshot(max_age=self.bridge.snapshot_max_age)
            except AccessDeniedError as exc:
                self._refused("snapshot/request", exc, requested)
                continue
            except Exception as exc:  # a failing snapshot must not take the events down
                raise_if_cancelling(exc)
                if requested:
                    self.report_error("snapshot/request", _error_code(exc), str(exc))
                _log.info(
                    "snapshot of %s failed: %s: %s", self.slug, type(exc).__name__, scrub(str(exc))
                )
                continue
            self.put(self.t_snapshot, snap.jpeg, qos=0, retain=True)

    def _refused(self, command: str, exc: AccessDeniedError, report: bool = True) -> None:
        self.denied += 1
        _log.warning(
            "MQTT %s on %s refused for %s: %s",
            command,
            self.slug,
            self.bridge.principal.id,
            scrub(exc.reason or str(exc)),
        )
        if report:
            self.report_error(command, "access_denied", exc.reason or str(exc))

    def on_command(self, topic: str, payload: bytes, retained: bool) -> None:
        if retained:
            # A retained command would replay on every reconnect; refuse it.
            self.report_error(topic, "retained_command", "command messages must not be retained")
            return
        self.commands += 1
        if topic == self.t_snapshot_request:
            self.snapshot_requested = True
            self.snapshot_wanted.set()
            return
        try:
            self.commands_queue.put_nowait(("ptz/set", payload))
        except asyncio.QueueFull:
            self.report_error("ptz/set", "busy", "too many PTZ commands waiting")

    async def _command_loop(self) -> None:
        while True:
            name, payload = await self.commands_queue.get()
            try:
                async with asyncio.timeout(self.bridge.command_timeout):
                    await self._execute_ptz(payload)
            except AccessDeniedError as exc:
                self._refused(name, exc)
            except _InvalidCommand as exc:
                self.report_error(name, "invalid_command", str(exc))
            except Exception as exc:  # one failing command must not stop the next
                raise_if_cancelling(exc)
                self.report_error(name, _error_code(exc), str(exc))
                _log.info(
                    "MQTT %s on %s failed: %s: %s",
                    name,
                    self.slug,
                    type(exc).__name__,
                    scrub(str(exc)),
                )

    async def _execute_ptz(self, payload: bytes) -> None:
        if len(payload) > _MAX_COMMAND_BYTES:
            raise _InvalidCommand(f"payload larger than {_MAX_COMMAND_BYTES} bytes")
        try:
            command = PtzCommand.model_validate_json(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
            )
            raise _InvalidCommand(problems) from None
        ptz = self.cam.ptz
        if command.stop:
            await ptz.stop()
        elif command.preset is not None:
            await ptz.goto_preset(command.preset)
        else:
            await ptz.move(command.pan or 0.0, command.tilt or 0.0, command.zoom or 0.0)

    # -- the broker session ------------------------------------------------------------------

    async def _broker_loop(self) -> None:
        attempt = 0
        while True:
            established = False
            try:
                client = self.bridge._new_client(self)
                async with client:
                    try:
                        await self._open_session(client)
                        established = True
                        await self._pump(client)
                    except asyncio.CancelledError:
                        await self._goodbye(client)
                        raise
                reason = "session ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bridge must outlive any broker trouble
                raise_if_cancelling(exc)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self.connected.clear()
                self.queue.requeue_inflight()
            if established:
                attempt = 0
            self.reconnects += 1
            delay = self.bridge._backoff(attempt)
            attempt += 1
            _log.warning(
                "MQTT connection of %s to %s:%s lost (%s); retrying in %.1fs",
                self.slug,
                self.bridge.hostname,
                self.bridge.port,
                scrub(reason),
                delay,
            )
            await asyncio.sleep(delay)

    async def _open_session(self, client: aiomqtt.Client) -> None:
        topics = [(self.t_ptz, 1)]
        if self.bridge.publish_snapshots:
            topics.append((self.t_snapshot_request, 1))
        if self.t_ha_status is not None:
            topics.append((self.t_ha_status, 1))
        await client.subscribe(topics)
        # Current availability first, then discovery: HA may only create the
        # entities now (a broker without persistence lost the retained configs).
        await client.publish(
            self.t_availability,
            b"online" if self.camera_online else b"offline",
            qos=1,
            retain=True,
        )
        for topic, payload in self.discovery_messages():
            await client.publish(topic, payload, qos=1, retain=True)
        self.connected.set()

    async def _pump(self, client: aiomqtt.Client) -> None:
        loop = asyncio.get_running_loop()
        failure: asyncio.Future[None] = loop.create_future()
        tasks = (
            loop.create_task(self._sender(client, failure)),
            loop.create_task(self._receiver(client)),
            loop.create_task(self._watchdog()),
        )
        try:
            done, _ = await asyncio.wait({*tasks, failure}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not failure.done():
                failure.cancel()
        for fut in done:
            exc = fut.exception()
            if exc is not None:
                raise exc
        raise aiomqtt.MqttError("session ended")

    async def _sender(self, client: aiomqtt.Client, failure: asyncio.Future[None]) -> None:
        slots = asyncio.Semaphore(self.bridge.inflight)
        tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        try:
            while True:
                # Take a window slot before a message, so nothing sits "in
                # flight" in our accounting without being handed to the client.
                await slots.acquire()
                msg = await self.queue.get()
                task = loop.create_task(self._publish_one(client, msg, slots, failure))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _watchdog(self) -> None:
        # One periodic check instead of a timer per publish: a broker that
        # stops acknowledging (but keeps the socket open) ends the session.
        limit = self.bridge.publish_timeout
        while True:
            await asyncio.sleep(max(0.05, limit / 4))
            age = self.queue.oldest_inflight_age()
            if age is not None and age > limit:
                raise aiomqtt.MqttError(f"no acknowledgement from the broker within {limit:g} s")

    async def _publish_one(
        self,
        client: aiomqtt.Client,
        msg: OutgoingMessage[_Publish],
        slots: asyncio.Semaphore,
        failure: asyncio.Future[None],
    ) -> None:
        item = msg.item
        try:
            await client.publish(
                item.topic,
                item.payload,
                qos=item.qos,
                retain=item.retain,
                # No per-message timer (it costs a quarter of the CPU per
                # message); `_watchdog` bounds how long an ack may take.
                timeout=math.inf,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure ends this session
            if not failure.done():
                failure.set_exception(exc)
            return
        finally:
            slots.release()
        self.queue.ack(msg)

    async def _receiver(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic.value
            payload = _payload_bytes(message.payload)
            if topic in (self.t_ptz, self.t_snapshot_request):
                self.on_command(topic, payload, bool(message.retain))
            elif topic == self.t_ha_status and payload == b"online":
                # Home Assistant restarted: announce again, with current states.
                for config_topic_, config in self.discovery_messages():
                    self.put(config_topic_, config, qos=1, retain=True)
                for kind in self.announced:
                    state = b"ON" if self.active.get(kind) else b"OFF"
                    self.put(f"{self.base}/{kind.value}", state, qos=1, retain=True)

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        # A clean stop says "offline" itself; the will only covers crashes.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                client.publish(self.t_availability, b"offline", qos=1, retain=True), timeout=2.0
            )


class _InvalidCommand(ValueError):
    """A command payload that does not parse or validate."""


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, UnsupportedCapabilityError):
        return "unsupported"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, CamError):
        return "camera_error"
    return "internal_error"


# Quieten paho's own logger by default: its reconnect chatter duplicates ours.
logging.getLogger("camsdk.sinks.mqtt.client").setLevel(logging.WARNING)
