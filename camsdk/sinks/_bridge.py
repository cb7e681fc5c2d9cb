"""``camsdk bridge CONFIG.toml [--shard i/N]``: run an MQTT bridge from a config file.

The TOML file names the broker and the cameras; secrets are never in it,
only the names of environment variables that hold them::

    audit_log = "bridge-audit.jsonl"     # optional: every access decision, hash-chained

    [broker]
    hostname = "mqtt.local"
    port = 1883
    username = "camsdk"
    password_env = "CAMSDK_MQTT_PASSWORD"
    client_id = "camsdk-bridge-1"

    [[cameras]]
    name = "front_door"                  # unique; the topic is camsdk/front_door/...
    url = "rtsp://192.168.1.20/stream1"
    username = "viewer"
    password_env = "FRONT_DOOR_PASSWORD"
    allow = ["events.subscribe", "snapshot", "ptz"]

A ``[nats]`` table (see `camsdk.sinks._nats_config`) sends every camera's
events to a NATS JetStream stream as well, or instead: ``[broker]`` may
then be left out.

Every camera is opened with the bridge's principal (``mqtt:<client_id>``)
and a policy that allows exactly the actions in its ``allow`` list (default:
events and snapshots, no PTZ), so MQTT commands pass the same access check
and audit as any other caller. Cameras allowed ``stream.open`` and
``frames`` get the "software motion" switch; cameras allowed ``config``
get the "privacy mode" switch when the device reports privacy mode (the
owner gives the bridge that right on purpose: it changes the device);
``hub``, ``configuration_url``,
``watch_stream`` and the motion settings are the `BridgeCameraOptions` (see
docs/mqtt.md).
``--shard i/N`` bridges only the cameras whose stable hash (SHA-256 of the
camera name, mod N) is ``i``, so N processes split a fleet without
coordinating.

The command prints a one-screen summary at start (broker, TLS, cameras,
shard, discovery; never a credential) and logs warnings by default, INFO
with ``-v``, camsdk's DEBUG with ``-vv`` and everyone's with ``-vvv``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import ssl
from collections.abc import AsyncIterator, Sequence
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from .._access import AccessPolicy, AccessRequest, Action, AuditSink, Decision, Principal
from .._errors import (
    CameraConnectionError,
    ConfigurationError,
    DriverUnavailableError,
    UnsupportedCapabilityError,
)
from .._log import get_logger, scrub
from .._models import CameraEvent, CameraInfo, Capability, Credentials, Snapshot
from .._url import redact_url
from ._bridge_config import (
    BridgeConfig,
    BrokerSettings,
    CameraSettings,
    load_bridge_config,
    parse_shard,
    shard_of,
)
from ._ha_discovery import topic_slug
from ._nats_config import NatsSettings, pump_events
from ._types import BridgeCamera, EventStream, MotionRun, PTZControl, StreamHandle

__all__ = [
    "BridgeConfig",
    "BrokerSettings",
    "CameraSettings",
    "ActionPolicy",
    "add_bridge_command",
    "bridge_summary",
    "load_bridge_config",
    "parse_shard",
    "run_bridge",
    "run_bridge_from_config",
    "shard_of",
]

_log = get_logger(__name__)

#: How many cameras the start summary lists before "... and N more".
_SUMMARY_CAMERAS = 20


class ActionPolicy:
    """Allows ``principal`` exactly ``actions`` and denies everything else."""

    def __init__(self, principal: Principal, actions: Sequence[Action]) -> None:
        self.principal = principal
        self.actions = frozenset(actions)

    def decide(self, request: AccessRequest) -> Decision:
        """Allow listed actions for the bridge principal."""
        if request.principal != self.principal:
            return Decision(False, f"principal {request.principal.id!r} is not the bridge")
        if request.action in self.actions:
            return Decision(True, "allowed by bridge config")
        return Decision(False, f"{request.action.value} not in the camera's allow list")


def _secret_from_env(var: str | None, what: str) -> SecretStr | None:
    if var is None:
        return None
    value = os.environ.get(var)
    if value is None:
        raise ConfigurationError(f"{what}: environment variable {var} is not set")
    return SecretStr(value)


class _SupervisedCamera:
    """A `BridgeCamera` that (re)opens its `camsdk.Camera` when it is needed.

    A camera that cannot connect when the bridge starts is retried on the
    bridge's backoff instead of being left out: opening happens inside
    ``events()``, whose failure the bridge already handles by backing off.
    """

    def __init__(self, settings: CameraSettings, principal: Principal, audit: AuditSink | None):
        self.settings = settings
        self._principal = principal
        self._audit = audit
        self._cam: Any = None
        self._lock = asyncio.Lock()

    def _open(self) -> Any:
        from .._factory import open_camera

        s = self.settings
        password = _secret_from_env(s.password_env, f"camera {s.name!r}")
        credentials = None
        if s.username is not None or password is not None:
            credentials = Credentials(s.username or "", password or "")
        policy: AccessPolicy = ActionPolicy(self._principal, s.allow)
        options: dict[str, Any] = dict(s.options)
        return open_camera(
            s.url,
            credentials=credentials,
            config=s.config or None,
            principal=self._principal,
            policy=policy,
            audit=self._audit,
            **options,
        )

    async def ensure_open(self) -> Any:
        async with self._lock:
            cam = self._cam
            if cam is not None and cam.state.value == "open":
                return cam
            if cam is not None:
                await cam.aclose()
            self._cam = None
            cam = self._open()
            await cam.connect()  # a failed connect leaves the camera closed: next time, anew
            self._cam = cam
            return cam

    def _current(self) -> Any:
        cam = self._cam
        if cam is None or cam.state.value != "open":
            raise CameraConnectionError(f"camera {self.settings.name!r} is not connected")
        return cam

    @property
    def id(self) -> str:
        return self.settings.name

    @property
    def url(self) -> str:
        return redact_url(self.settings.url)

    @property
    def info(self) -> CameraInfo:
        try:
            info: CameraInfo = self._current().info
        except CameraConnectionError:
            return CameraInfo(id=self.settings.name, name=self.settings.name)
        return info

    @property
    def capabilities(self) -> Capability:
        try:
            caps: Capability = self._current().capabilities
        except CameraConnectionError:
            # Not connected yet: assume events (so the bridge keeps trying to
            # subscribe, which connects) and snapshots; the device decides later.
            return Capability.EVENTS | Capability.SNAPSHOT
        return caps

    async def snapshot(self, *, max_age: float | None = None) -> Snapshot:
        snap: Snapshot = await self._current().snapshot(max_age=max_age)
        return snap

    def events(self) -> EventStream:
        return _OpeningEventStream(self)

    @property
    def ptz(self) -> PTZControl:
        control: PTZControl = self._current().ptz
        return control

    def stream(
        self, profile: str | None = None, *, audio: bool = True, purpose: str = ""
    ) -> StreamHandle:
        handle: StreamHandle = self._current().stream(profile, audio=audio, purpose=purpose)
        return handle

    async def aclose(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            await cam.aclose()


class _SupervisedMotionCamera(_SupervisedCamera):
    """A `_SupervisedCamera` whose allow list lets the software motion detector run.

    Only these get the "software motion" switch: offering it where the
    policy refuses ``frames`` or ``stream.open`` would give HA a switch that
    always fails.
    """

    def motion(self, *, sensitivity: float = 0.5, fps: float = 2.0, purpose: str = "") -> MotionRun:
        cam = self._current()
        if not hasattr(cam, "motion"):
            raise UnsupportedCapabilityError("this camsdk has no software motion detector")
        run: MotionRun = cam.motion(sensitivity=sensitivity, fps=fps, purpose=purpose)
        return run


class _SupervisedPrivacyCamera(_SupervisedCamera):
    """A `_SupervisedCamera` whose allow list has ``config``: privacy mode may be switched.

    Without ``config`` the switch would always be refused, so it is not offered.
    """

    @property
    def privacy_mode(self) -> bool | None:
        try:
            cam = self._current()
        except CameraConnectionError:
            return None
        state: bool | None = cam.privacy_mode
        return state

    async def set_privacy_mode(self, on: bool, *, purpose: str = "") -> None:
        await self._current().set_privacy_mode(on, purpose=purpose)


class _SupervisedMotionPrivacyCamera(_SupervisedMotionCamera, _SupervisedPrivacyCamera):
    """Both switches: ``stream.open``, ``frames`` and ``config`` are allowed."""


class _OpeningEventStream:
    """``events()`` of a `_SupervisedCamera`: connects first, then subscribes."""

    def __init__(self, owner: _SupervisedCamera) -> None:
        self._owner = owner
        self._inner: Any = None

    async def __aenter__(self) -> AsyncIterator[CameraEvent]:
        cam = await self._owner.ensure_open()
        self._inner = cam.events(purpose="mqtt bridge")
        entered: AsyncIterator[CameraEvent] = await self._inner.__aenter__()
        return entered

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        inner, self._inner = self._inner, None
        if inner is not None:
            await inner.__aexit__(exc_type, exc, tb)
        return None


def _supervise(
    settings: CameraSettings, principal: Principal, audit: AuditSink | None
) -> _SupervisedCamera:
    """The supervised camera for ``settings``, with the switches its allow list permits.

    The motion detector opens the stream and reads frames: both must be
    allowed; privacy mode is a ``config`` action.
    """
    allowed = set(settings.allow)
    motion = {Action.FRAMES, Action.STREAM_OPEN} <= allowed
    privacy = Action.CONFIG in allowed
    kind: type[_SupervisedCamera] = _SupervisedCamera
    if motion and privacy:
        kind = _SupervisedMotionPrivacyCamera
    elif motion:
        kind = _SupervisedMotionCamera
    elif privacy:
        kind = _SupervisedPrivacyCamera
    return kind(settings, principal, audit)


def _tls_context(broker: BrokerSettings) -> ssl.SSLContext | None:
    if not broker.tls:
        return None
    return ssl.create_default_context(cafile=str(broker.ca_file) if broker.ca_file else None)


def _shard_entries(config: BridgeConfig, shard: tuple[int, int] | None) -> list[CameraSettings]:
    entries = list(config.cameras)
    if shard is not None:
        index, count = shard
        entries = [c for c in entries if shard_of(c.name, count) == index]
    return entries


def _client_id(config: BridgeConfig, shard: tuple[int, int] | None) -> str:
    configured = config.broker.client_id if config.broker is not None else None
    return configured or f"camsdk-bridge-{shard[0] if shard else 0}"


def bridge_summary(
    config: BridgeConfig, *, shard: tuple[int, int] | None = None, source: Path | None = None
) -> str:
    """The start summary ``camsdk bridge`` prints: one screen, no credentials."""
    broker = config.broker
    entries = _shard_entries(config, shard)
    try:
        version = metadata.version("camsdk")
    except metadata.PackageNotFoundError:
        version = "?"
    lines = [f"camsdk {version} bridge" + (f" from {source}" if source is not None else "")]
    if broker is not None:
        login = "with a password" if broker.password_env else "without a password"
        lines += [
            f"  broker     {broker.hostname}:{broker.port}, TLS {'on' if broker.tls else 'off'}, "
            f"{login}, client id {_client_id(config, shard)}",
            f"  topics     {broker.prefix}/<camera>/...",
            "  discovery  "
            + (f"Home Assistant, under {broker.discovery_prefix}/" if broker.discovery else "off"),
        ]
    if config.nats is not None:
        lines += [
            f"  nats       {config.nats.describe()}",
            f"  subjects   {config.nats.subject_prefix}.<camera>.<kind>",
        ]
    if config.audit_log is not None:
        lines.append(f"  audit log  {config.audit_log}")
    total = len(config.cameras)
    if shard is None:
        lines.append(f"  shard      none (all {total} cameras)")
    else:
        lines.append(f"  shard      {shard[0]}/{shard[1]}: {len(entries)} of {total} cameras")
    lines.append(f"  cameras    {len(entries)}" + (":" if entries else ""))
    width = max((len(topic_slug(c.name)) for c in entries[:_SUMMARY_CAMERAS]), default=0)
    for cam in entries[:_SUMMARY_CAMERAS]:
        slug = topic_slug(cam.name)
        allowed = ", ".join(a.value for a in cam.allow)
        via = f" via {cam.hub}" if cam.hub else ""
        lines.append(f"    {slug:<{width}}  {cam.name!r}{via}  {redact_url(cam.url)}  [{allowed}]")
    if len(entries) > _SUMMARY_CAMERAS:
        lines.append(f"    ... and {len(entries) - _SUMMARY_CAMERAS} more")
    return "\n".join(lines)


async def run_bridge_from_config(
    path: Path,
    *,
    shard: tuple[int, int] | None = None,
    stop: asyncio.Event | None = None,
    audit: AuditSink | None = None,
) -> None:
    """Run the bridge described by the TOML file at ``path`` until ``stop`` is set.

    ``shard=(i, N)`` keeps only the cameras of shard ``i`` of ``N``; without
    ``stop`` it runs until cancelled. ``audit`` receives the access decisions
    of every camera.
    """
    config = load_bridge_config(path)
    await run_bridge(config, shard=shard, stop=stop, audit=audit, source=path)


async def run_bridge(
    config: BridgeConfig,
    *,
    shard: tuple[int, int] | None = None,
    stop: asyncio.Event | None = None,
    audit: AuditSink | None = None,
    source: Path | None = None,
) -> None:
    """Run the bridge of an already loaded ``config`` (see `run_bridge_from_config`).

    Without an ``audit`` sink, the config's ``audit_log`` (if any) is opened
    as a `camsdk.privacy.AuditLog` for the run.
    """
    if config.broker is not None:
        try:
            from . import mqtt  # noqa: F401  (fail early, before anything is opened)
        except ImportError as exc:
            raise DriverUnavailableError(
                "the MQTT bridge needs aiomqtt", hint="pip install 'camsdk[mqtt]'"
            ) from exc
    with contextlib.ExitStack() as stack:
        if audit is None and config.audit_log is not None:
            from ..privacy import AuditLog

            audit = stack.enter_context(AuditLog(config.audit_log))
        await _run_bridge(config, shard=shard, stop=stop, audit=audit, source=source)


async def _run_bridge(
    config: BridgeConfig,
    *,
    shard: tuple[int, int] | None,
    stop: asyncio.Event | None,
    audit: AuditSink | None,
    source: Path | None,
) -> None:
    entries = _shard_entries(config, shard)
    if not entries:
        _log.warning("bridge config %s: no cameras for shard %s", source or "", shard)
    client_id = _client_id(config, shard)
    if config.broker is not None:
        principal = Principal(f"mqtt:{client_id}", "MQTT bridge")
    else:
        principal = Principal(f"nats:{client_id}", "NATS JetStream bridge")
    cameras = [_supervise(entry, principal, audit) for entry in entries]
    try:
        # Connect up front so HA discovery carries vendor and model; a camera
        # that is down now is retried by the bridge.
        results = await asyncio.gather(*(c.ensure_open() for c in cameras), return_exceptions=True)
        for cam, result in zip(cameras, results, strict=True):
            if isinstance(result, BaseException):
                _log.warning(
                    "camera %r not connected yet (%s); will retry",
                    cam.settings.name,
                    scrub(f"{type(result).__name__}: {result}"),
                )
            else:
                info = cam.info
                _log.info(
                    "camera %r connected: %s", cam.settings.name,
                    " ".join(filter(None, (info.vendor, info.model))) or cam.url,
                )  # fmt: skip
        async with contextlib.AsyncExitStack() as stack:
            if config.nats is not None:
                await stack.enter_async_context(_JetStreamPumps(config.nats, cameras, client_id))
            if config.broker is not None:
                await stack.enter_async_context(
                    _mqtt_bridge(config.broker, cameras, client_id, principal)
                )
            if stop is None:
                await asyncio.Event().wait()
            else:
                await stop.wait()
            _log.info("bridge stopping")
    finally:
        for cam in cameras:
            with contextlib.suppress(Exception):
                await cam.aclose()


def _mqtt_bridge(
    broker: BrokerSettings, cameras: list[_SupervisedCamera], client_id: str, principal: Principal
) -> MqttBridge:
    from .mqtt import MqttBridge

    password = _secret_from_env(broker.password_env, "broker")
    return MqttBridge(
        cameras,
        hostname=broker.hostname,
        port=broker.port,
        username=broker.username,
        password=password,
        prefix=broker.prefix,
        discovery_prefix=broker.discovery_prefix if broker.discovery else None,
        publish_snapshots=broker.publish_snapshots,
        client_id=client_id,
        principal=principal,
        # The config's names are what people call their cameras (and HA shows).
        topic_names={c.id: c.settings.name for c in cameras},
        camera_options={c.id: c.settings.bridge_options() for c in cameras},
        keepalive=broker.keepalive,
        queue_size=broker.queue_size,
        tls_context=_tls_context(broker),
    )


class _JetStreamPumps:
    """The ``[nats]`` side of a bridge: one `JetStreamSink`, fed by every camera's events."""

    def __init__(self, settings: NatsSettings, cameras: list[_SupervisedCamera], client_id: str):
        self._sink = settings.sink(name=client_id)
        self._cameras = cameras
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> _JetStreamPumps:
        await self._sink.__aenter__()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(pump_events(cam, self._sink), name=f"camsdk-nats-{cam.id}")
            for cam in self._cameras
        ]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._sink.aclose(drain=True)


async def _cmd_bridge(args: argparse.Namespace) -> int:
    path = Path(args.config)
    config = load_bridge_config(path)
    print(bridge_summary(config, shard=args.shard, source=path), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await run_bridge(config, shard=args.shard, stop=stop, source=path)
    return 0


def add_bridge_command(subparsers: Any) -> None:
    """Add ``bridge CONFIG.toml [--shard i/N]`` to the ``camsdk`` command's subparsers."""
    parser = subparsers.add_parser(
        "bridge",
        help="bridge cameras to MQTT (Home Assistant discovery included)",
        description="Publish camera events, states and snapshots to MQTT and take commands.",
    )
    parser.add_argument("config", help="bridge config file (TOML; see docs/mqtt.md)")
    parser.add_argument(
        "--shard",
        type=parse_shard,
        default=None,
        metavar="i/N",
        help="bridge only shard i of N (stable hash of the camera name)",
    )
    # Also accepted after the subcommand (``camsdk bridge conf.toml -v``);
    # SUPPRESS keeps the top-level value when they are not given here.
    parser.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS,
        help="more log output: -v connections and subscriptions, -vv debug, "
        "-vvv also the MQTT client's packets",
    )  # fmt: skip
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
        help="log errors only",
    )  # fmt: skip
    parser.set_defaults(func=_cmd_bridge)


if TYPE_CHECKING:  # pragma: no cover - keeps the protocol honest for mypy
    from .._camera import Camera
    from ._types import PrivacyModeCamera, SoftwareMotionCamera
    from .mqtt import MqttBridge

    _supervised: type[BridgeCamera] = _SupervisedCamera
    _supervised_motion: type[SoftwareMotionCamera] = _SupervisedMotionCamera
    _supervised_privacy: type[PrivacyModeCamera] = _SupervisedPrivacyCamera
    _facade: type[BridgeCamera] = Camera
    _facade_motion: type[SoftwareMotionCamera] = Camera
    _facade_privacy: type[PrivacyModeCamera] = Camera
