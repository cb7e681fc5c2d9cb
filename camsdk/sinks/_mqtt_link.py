"""One camera's side of the MQTT bridge: its queue, broker session, states and commands.

`MqttBridge` (in `camsdk.sinks.mqtt`) owns one `CameraLink` per camera; the
module docstring there describes the topics.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._errors import AccessDeniedError, UnsupportedCapabilityError
from .._events import STATE_KINDS, raise_if_cancelling
from .._log import get_logger, scrub
from .._models import CameraEvent, CameraInfo, Capability, EventKind, StreamState, StreamStats
from ._ha_discovery import (
    EVENT_ENTITY_KINDS,
    SENSOR_KINDS,
    binary_sensor_config,
    config_topic,
    configuration_url_for,
    device_block,
    event_config,
    hub_link_config,
    image_config,
    motion_switch_config,
    privacy_switch_config,
    stream_fps_config,
    stream_state_config,
)
from ._mqtt_controls import MotionSwitch, PrivacySwitch, StreamWatch, error_code
from ._mqtt_session import BrokerSession
from ._queue import AckQueue
from ._types import BridgeCamera, BridgeCameraOptions, has_privacy_mode, has_software_motion

if TYPE_CHECKING:  # pragma: no cover
    from .mqtt import MqttBridge

__all__ = ["CameraLink", "CommandName", "PtzCommand"]

_log = get_logger("camsdk.sinks.mqtt")

# Command payloads are tiny JSON objects; anything bigger is refused unparsed.
_MAX_COMMAND_BYTES = 4096

#: What an ``error`` report names in ``command``: always a topic under
#: ``<prefix>/<slug>/``, that of the command (``ptz/set``, ...) or, for the
#: bridge's own subscriptions, of the output that stopped (``events``,
#: ``stream/state``).
CommandName = Literal[
    "ptz/set", "snapshot/request", "software_motion/set", "privacy_mode/set", "events",
    "stream/state",
]

_STREAM_STATES = frozenset(state.value for state in StreamState)


@dataclass(frozen=True, slots=True)
class Publish:
    """One outgoing MQTT message."""

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


class InvalidCommand(ValueError):
    """A command payload that does not parse or validate."""


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _event_json(event: CameraEvent) -> bytes:
    try:
        return event.model_dump_json().encode()
    except Exception:  # a driver put something odd in ``extra``
        return event.model_dump_json(fallback=str).encode()


class CameraLink:
    """One camera's side of the bridge: its queue, its broker session, its workers."""

    def __init__(
        self,
        bridge: MqttBridge,
        cam: BridgeCamera,
        slug: str,
        name: str | None,
        options: BridgeCameraOptions,
    ) -> None:
        self.bridge = bridge
        self.cam = cam
        self.slug = slug
        self.name = name
        self.options = options
        self.base = base = f"{bridge.prefix}/{slug}"
        self.t_availability = f"{base}/availability"
        self.t_events = f"{base}/events"
        self.t_snapshot = f"{base}/snapshot"
        self.t_error = f"{base}/error"
        self.t_stream_state = f"{base}/stream/state"
        self.t_stream_fps = f"{base}/stream/fps"
        self.t_motion = f"{base}/software_motion"
        self.t_privacy = f"{base}/privacy_mode"
        self.t_ha_status = f"{bridge.discovery_prefix}/status" if bridge.discovery_prefix else None
        self.queue: AckQueue[Publish] = AckQueue(bridge.queue_size)
        self.connected = asyncio.Event()
        self.camera_online = False
        self._changed = asyncio.Event()
        self.announced: set[EventKind] = set()
        #: Discovery configs announced so far (topic -> payload), for removal
        #: and to re-announce only what changed.
        self.configs: dict[str, bytes] = {}
        self.discovery_removed = False
        self.active: dict[EventKind, set[str]] = {}
        self.stream_state: str | None = None
        self.stream_fps: float | None = None
        self.snapshot_wanted = asyncio.Event()
        self.snapshot_requested = False
        self.commands_queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
        self.motion = MotionSwitch(self, cam) if has_software_motion(cam) else None
        self.privacy = PrivacySwitch(self, cam) if has_privacy_mode(cam) else None
        self.stream_watch = StreamWatch(self) if options.watch_stream else None
        self.commands: dict[str, CommandName] = {f"{base}/ptz/set": "ptz/set"}
        if bridge.publish_snapshots:
            self.commands[f"{base}/snapshot/request"] = "snapshot/request"
        if self.motion is not None:
            self.commands[f"{base}/software_motion/set"] = "software_motion/set"
        if self.privacy is not None:
            self.commands[f"{base}/privacy_mode/set"] = "privacy_mode/set"
        self.reconnects = 0
        self.received_commands = 0
        self.denied = 0
        self.errors = 0

    # -- state changes the workers wait for ---------------------------------------------

    def notify(self) -> None:
        """Wake every `wait_until` to check its condition again."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds (checked again at each `notify`)."""
        while not condition():
            await self._changed.wait()

    # -- outgoing ---------------------------------------------------------------------

    def put(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        self.queue.put(Publish(topic, payload, qos, retain))

    def set_camera_online(self, online: bool) -> None:
        if online == self.camera_online:
            return
        self.camera_online = online
        self.notify()
        self.put(self.t_availability, b"online" if online else b"offline", qos=1, retain=True)
        if online:
            # Connected now: announce what the device told us (vendor, model,
            # capabilities) where it changes a config announced before.
            announced = dict(self.configs)
            for topic, payload in self.discovery_messages():
                if announced.get(topic, b"") != payload:  # (b"": a removal, already sent)
                    self.put(topic, payload, qos=1, retain=True)
            if self.privacy is not None:
                self.privacy.publish_state()
            return
        # Ends may be lost while the camera is away: say "off", not a stale "on".
        for kind, ids in self.active.items():
            if ids:
                ids.clear()
                self.put(f"{self.base}/{kind.value}", b"OFF", qos=1, retain=True)

    def report_error(self, command: CommandName, error: str, message: str) -> None:
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

    def refused(self, command: CommandName, exc: AccessDeniedError, report: bool = True) -> None:
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

    def publish_motion_state(self, running: bool) -> None:
        self.put(self.t_motion, b"ON" if running else b"OFF", qos=1, retain=True)

    def publish_stream(self, state: str | None, fps: float | None) -> None:
        """Publish the stream state and fps sensors when they changed."""
        if state is not None and state != self.stream_state:
            self.stream_state = state
            self.put(self.t_stream_state, state.encode(), qos=1, retain=True)
            if fps is None and state != StreamState.STREAMING.value:
                fps = 0.0  # not streaming: no frames, whatever the last rate was
        if fps is not None and math.isfinite(fps):
            fps = round(max(0.0, fps), 1)
            if fps != self.stream_fps:
                self.stream_fps = fps
                self.put(self.t_stream_fps, f"{fps:g}".encode(), qos=1, retain=True)

    def on_stream_stats(self, stats: StreamStats) -> None:
        self.publish_stream(stats.state.value, stats.fps)

    # -- discovery ------------------------------------------------------------------------

    def _info(self) -> CameraInfo | None:
        try:
            return self.cam.info
        except Exception:  # not connected yet: announce what we know
            return None

    def _capabilities(self) -> Capability:
        try:
            return self.cam.capabilities
        except Exception:
            return Capability.NONE

    def _configuration_url(self) -> str | None:
        url = self.options.configuration_url
        if url == "":
            return None
        if url is None:
            try:
                url = self.cam.url
            except Exception:
                return None
        return configuration_url_for(url)

    def initial_kinds(self) -> set[EventKind]:
        if Capability.EVENTS not in self._capabilities():
            return set()
        info = self._info()
        declared = (info.extra.get("event_kinds", "") if info is not None else "").split(",")
        known = {k.value for k in EventKind}
        kinds = {EventKind(k.strip()) for k in declared if k.strip() in known}
        kinds &= SENSOR_KINDS
        # Motion is what nearly every camera reports; other kinds are announced
        # the first time one is seen, so HA does not list sensors a camera lacks.
        return kinds or {EventKind.MOTION}

    def _kind_config(self, kind: EventKind, device: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        prefix = self.bridge.discovery_prefix
        assert prefix is not None
        build = event_config if kind in EVENT_ENTITY_KINDS else binary_sensor_config
        return build(kind, discovery_prefix=prefix, slug=self.slug, base=self.base, device=device)

    def discovery_messages(self) -> Iterator[tuple[str, bytes]]:
        prefix = self.bridge.discovery_prefix
        if prefix is None or self.discovery_removed:
            return
        url = self._configuration_url()
        hub = self.options.hub
        device = device_block(self._info(), self.slug, self.name, configuration_url=url, hub=hub)
        where = {"discovery_prefix": prefix, "slug": self.slug, "base": self.base}
        configs: list[tuple[str, dict[str, Any]]] = []
        if hub is not None:
            # First, so that the hub device exists before a camera names it.
            configs.append(
                hub_link_config(
                    hub, discovery_prefix=prefix, slug=self.slug, base=self.base,
                    camera_name=self.name or device["name"], configuration_url=url,
                )
            )  # fmt: skip
        if self.bridge.publish_snapshots:
            configs.append(image_config(**where, device=device))
        for kind in sorted(self.announced, key=lambda k: k.value):
            configs.append(self._kind_config(kind, device))
        streams = Capability.STREAM in self._capabilities()
        if streams:
            configs.append(stream_state_config(**where, device=device))
            configs.append(stream_fps_config(**where, device=device))
        if streams and self.motion is not None:
            configs.append(motion_switch_config(**where, device=device))
        if self.privacy is not None and Capability.PRIVACY_MODE in self._capabilities():
            configs.append(privacy_switch_config(**where, device=device))
        for topic, payload in configs:
            data = json.dumps(payload).encode()
            self.configs[topic] = data
            yield topic, data
        for kind in self.announced & EVENT_ENTITY_KINDS.keys():
            # Earlier versions announced these as binary sensors: remove those.
            yield config_topic(prefix, "binary_sensor", self.slug, kind.value), b""

    def announce_kind(self, kind: EventKind) -> None:
        self.announced.add(kind)
        if self.bridge.discovery_prefix is None or self.discovery_removed:
            return
        device = device_block(
            self._info(), self.slug, self.name,
            configuration_url=self._configuration_url(), hub=self.options.hub,
        )  # fmt: skip
        topic, payload = self._kind_config(kind, device)
        self.configs[topic] = data = json.dumps(payload).encode()
        self.put(topic, data, qos=1, retain=True)

    def remove_discovery(self, *, purge: bool) -> None:
        for topic in sorted(self.configs):
            self.put(topic, b"", qos=1, retain=True)
        self.discovery_removed = True
        if purge:
            for topic in (
                self.t_snapshot,
                self.t_availability,
                self.t_stream_state,
                self.t_stream_fps,
                self.t_motion,
                self.t_privacy,
                *(f"{self.base}/{k.value}" for k in self.announced),
            ):
                self.put(topic, b"", qos=1, retain=True)

    def republish_states(self) -> None:
        """Current retained states again (after Home Assistant restarted)."""
        for kind in self.announced:
            state = b"ON" if self.active.get(kind) else b"OFF"
            self.put(f"{self.base}/{kind.value}", state, qos=1, retain=True)
        if self.motion is not None:
            self.publish_motion_state(self.motion.running)
        if self.privacy is not None and self.camera_online:
            self.privacy.publish_state()
        if self.stream_state is not None:
            self.put(self.t_stream_state, self.stream_state.encode(), qos=1, retain=True)
        if self.stream_fps is not None:
            self.put(self.t_stream_fps, f"{self.stream_fps:g}".encode(), qos=1, retain=True)

    # -- workers ---------------------------------------------------------------------------

    async def run(self) -> None:
        self.announced |= self.initial_kinds()
        if self.bridge.publish_snapshots:
            self.snapshot_wanted.set()  # give HA a picture before the first event
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._camera_loop())
            tg.create_task(BrokerSession(self).run())
            tg.create_task(self._snapshot_loop())
            tg.create_task(self._command_loop())
            if self.motion is not None:
                tg.create_task(self.motion.run())
            if self.privacy is not None:
                tg.create_task(self.privacy.run())
            if self.stream_watch is not None:
                tg.create_task(self.stream_watch.run())

    async def _camera_loop(self) -> None:
        attempt = 0
        while True:
            try:
                async with self.cam.events() as events:
                    _log.info("events of %s: subscribed", self.slug)
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
            # Warn once per outage; the retries after it are INFO (``-v``).
            log, what = (_log.warning, "lost") if attempt == 0 else (_log.info, "still failing")
            attempt += 1
            log("events of %s %s (%s); retrying in %.1fs", self.slug, what, scrub(reason), delay)
            await asyncio.sleep(delay)

    def on_event(self, event: CameraEvent) -> None:
        self.put(self.t_events, _event_json(event), qos=1, retain=False)
        kind = event.kind
        if kind is EventKind.CONNECTION:
            self.set_camera_online(event.active)
            return
        if kind is EventKind.STREAM_STATE:
            self._on_stream_event(event)
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
        if is_new and kind in EVENT_ENTITY_KINDS:
            _, event_types = EVENT_ENTITY_KINDS[kind]
            body = {"event_type": event_types[0], "event_id": event.event_id}
            if event.zone:
                body["zone"] = event.zone
            self.put(f"{self.base}/{kind.value}/event", json.dumps(body).encode(), qos=1,
                     retain=False)  # fmt: skip
        if is_new and self.bridge.publish_snapshots:
            self.snapshot_wanted.set()

    def _on_stream_event(self, event: CameraEvent) -> None:
        if self.privacy is not None:
            # A stream that ended for privacy mode is how the camera learns the device
            # was switched from elsewhere (its app, a schedule): show it.
            self.privacy.publish_state(changed_only=True)
        extra = event.extra
        wanted_profile = self.options.stream_profile
        if wanted_profile is not None and extra.get("profile") != wanted_profile:
            return
        state = extra.get("state")
        fps = extra.get("fps")
        self.publish_stream(
            state if state in _STREAM_STATES else None,
            float(fps) if isinstance(fps, int | float) and not isinstance(fps, bool) else None,
        )

    async def _snapshot_loop(self) -> None:
        while True:
            await self.snapshot_wanted.wait()
            # Requests that arrive while one is being taken coalesce into the next.
            self.snapshot_wanted.clear()
            requested, self.snapshot_requested = self.snapshot_requested, False
            if Capability.SNAPSHOT not in self._capabilities():
                # Do not ask, and log, on every event for what the camera cannot do.
                if requested:
                    self.report_error("snapshot/request", "unsupported", "camera has no snapshots")
                continue
            try:
                async with asyncio.timeout(self.bridge.command_timeout):
                    snap = await self.cam.snapshot(max_age=self.bridge.snapshot_max_age)
            except AccessDeniedError as exc:
                self.refused("snapshot/request", exc, requested)
                continue
            except Exception as exc:  # a failing snapshot must not take the events down
                raise_if_cancelling(exc)
                if requested:
                    self.report_error("snapshot/request", error_code(exc), str(exc))
                _log.info(
                    "snapshot of %s failed: %s: %s", self.slug, type(exc).__name__, scrub(str(exc))
                )
                continue
            self.put(self.t_snapshot, snap.jpeg, qos=0, retain=True)

    def on_command(self, topic: str, payload: bytes, retained: bool) -> None:
        name = self.commands[topic]
        if retained:
            # A retained command would replay on every reconnect; refuse it.
            self.report_error(name, "retained_command", "command messages must not be retained")
            return
        self.received_commands += 1
        _log.debug("MQTT %s on %s: %d bytes", name, self.slug, len(payload))
        if name == "snapshot/request":
            self.snapshot_requested = True
            self.snapshot_wanted.set()
        elif name == "software_motion/set":
            assert self.motion is not None
            self.motion.command(payload)
        elif name == "privacy_mode/set":
            assert self.privacy is not None
            self.privacy.command(payload)
        else:
            try:
                self.commands_queue.put_nowait(payload)
            except asyncio.QueueFull:
                self.report_error("ptz/set", "busy", "too many PTZ commands waiting")

    async def _command_loop(self) -> None:
        while True:
            payload = await self.commands_queue.get()
            try:
                async with asyncio.timeout(self.bridge.command_timeout):
                    await self._execute_ptz(payload)
            except AccessDeniedError as exc:
                self.refused("ptz/set", exc)
            except InvalidCommand as exc:
                self.report_error("ptz/set", "invalid_command", str(exc))
            except Exception as exc:  # one failing command must not stop the next
                raise_if_cancelling(exc)
                self.report_error("ptz/set", error_code(exc), str(exc))
                _log.info(
                    "MQTT ptz/set on %s failed: %s: %s",
                    self.slug,
                    type(exc).__name__,
                    scrub(str(exc)),
                )

    async def _execute_ptz(self, payload: bytes) -> None:
        if len(payload) > _MAX_COMMAND_BYTES:
            raise InvalidCommand(f"payload larger than {_MAX_COMMAND_BYTES} bytes")
        try:
            command = PtzCommand.model_validate_json(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidCommand(problems) from None
        ptz = self.cam.ptz
        if command.stop:
            await ptz.stop()
        elif command.preset is not None:
            await ptz.goto_preset(command.preset)
        else:
            await ptz.move(command.pan or 0.0, command.tilt or 0.0, command.zoom or 0.0)
