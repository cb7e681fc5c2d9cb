"""MQTT bridge: camera events, states, snapshots and commands over an MQTT broker.

`MqttBridge` publishes, per camera, under ``<prefix>/<slug>/``:

=====================  ==========================  ====  ======
topic                  payload                     QoS   retain
=====================  ==========================  ====  ======
``availability``       ``online`` / ``offline``    1     yes (and the last will)
``events``             `CameraEvent` JSON          1     no
``<kind>``             ``ON`` / ``OFF``            1     yes
``doorbell/event``     ``{"event_type": "ring"}``  1     no
``snapshot``           JPEG bytes                  0     yes
``stream/state``       a `StreamState` value       1     yes
``stream/fps``         frames per second           1     yes
``software_motion``    ``ON`` / ``OFF``            1     yes
``error``              JSON error report           1     no
=====================  ==========================  ====  ======

and subscribes to the command topics ``ptz/set`` (JSON:
``{"pan": 0.1, "tilt": 0, "zoom": 0}``, ``{"preset": "1"}`` or
``{"stop": true}``), ``snapshot/request`` and, for cameras with a software
motion detector, ``software_motion/set`` (``ON``/``OFF``). Commands are
executed through the camera's own API, so its access policy decides and its
audit log records them; a refused command is reported on ``error`` (whose
``command`` is always the command's topic under ``<prefix>/<slug>/``) and
logged without secrets. Home Assistant discovery configs (see
`camsdk.sinks._ha_discovery`) are published under ``<discovery_prefix>``.

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
import logging
import secrets
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiomqtt
from pydantic import SecretStr

from .._access import Principal
from .._errors import ConfigurationError
from .._events import backoff_delay
from .._log import get_logger, register_secret
from ._ha_discovery import topic_slug
from ._mqtt_link import CameraLink, PtzCommand
from ._types import BridgeCamera, BridgeCameraOptions

__all__ = ["BridgeCameraOptions", "BridgeStats", "MqttBridge", "PtzCommand"]

_log = get_logger(__name__)


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


class MqttBridge:
    """Bridges cameras to an MQTT broker (see the module docstring for topics).

    ``cameras`` should already be connected (entered). The bridge calls their
    API as whoever opened them: open them with ``principal=bridge.principal``
    (`run_bridge_from_config` does) so the access policy decides MQTT commands
    for the MQTT client, not for the camera owner. ``password`` may be a
    `SecretStr`; it is never logged or shown in ``repr``. ``topic_names``
    and ``camera_options`` (`BridgeCameraOptions`: hub, device page, motion
    switch and stream stats settings) are keyed by camera id.

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
        camera_options: Mapping[str, BridgeCameraOptions] | None = None,
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
        options = dict(camera_options or {})
        self._links: list[CameraLink] = []
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
            link = CameraLink(self, cam, slug, name, options.get(cam.id, BridgeCameraOptions()))
            self._links.append(link)
        self._task: asyncio.Task[None] | None = None

    # -- introspection ---------------------------------------------------------

    def base_topic(self, camera_id: str) -> str:
        """``<prefix>/<slug>`` of the camera with id ``camera_id``."""
        return self._link(camera_id).base

    @property
    def tls(self) -> bool:
        """Whether the broker connection uses TLS."""
        return self.tls_context is not None

    def _link(self, camera_id: str) -> CameraLink:
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
            commands=sum(x.received_commands for x in links),
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

    def _new_client(self, link: CameraLink) -> aiomqtt.Client:
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


# Quieten paho's own logger by default: its reconnect chatter duplicates ours.
# A level set before this import (``camsdk bridge -vvv``) is kept.
_client_logger = logging.getLogger("camsdk.sinks.mqtt.client")
if _client_logger.level == logging.NOTSET:
    _client_logger.setLevel(logging.WARNING)
