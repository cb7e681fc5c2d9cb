"""``camsdk bridge CONFIG.toml [--shard i/N]``: run an MQTT bridge from a config file.

The TOML file names the broker and the cameras; secrets are never in it,
only the names of environment variables that hold them::

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

Every camera is opened with the bridge's principal (``mqtt:<client_id>``)
and a policy that allows exactly the actions in its ``allow`` list (default:
events and snapshots, no PTZ), so MQTT commands pass the same access check
and audit as any other caller. ``--shard i/N`` bridges only the cameras whose
stable hash (SHA-256 of the camera name, mod N) is ``i``, so N processes
split a fleet without coordinating.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import signal
import ssl
import tomllib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from .._access import AccessPolicy, AccessRequest, Action, AuditSink, Decision, Principal
from .._errors import (
    CameraConnectionError,
    ConfigurationError,
    DriverUnavailableError,
)
from .._log import get_logger, scrub
from .._models import CameraEvent, CameraInfo, Capability, Credentials, Snapshot
from ._ha_discovery import topic_slug
from ._types import BridgeCamera, EventStream, PTZControl

__all__ = [
    "BridgeConfig",
    "BrokerSettings",
    "CameraSettings",
    "ActionPolicy",
    "add_bridge_command",
    "load_bridge_config",
    "parse_shard",
    "run_bridge_from_config",
    "shard_of",
]

_log = get_logger(__name__)

_DEFAULT_ALLOW = (Action.EVENTS_SUBSCRIBE, Action.SNAPSHOT)


class BrokerSettings(BaseModel):
    """The ``[broker]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hostname: str
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_env: str | None = None
    client_id: str | None = None
    prefix: str = "camsdk"
    discovery_prefix: str = Field(default="homeassistant", min_length=1)
    #: Publish Home Assistant discovery configs.
    discovery: bool = True
    publish_snapshots: bool = True
    keepalive: int = Field(default=30, ge=5)
    queue_size: int = Field(default=1000, ge=16)
    tls: bool = False
    ca_file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("put the broker password in an environment variable (password_env)")
        return data


class CameraSettings(BaseModel):
    """One ``[[cameras]]`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: str
    username: str | None = None
    password_env: str | None = None
    allow: tuple[Action, ...] = _DEFAULT_ALLOW
    #: Driver options, as for ``camsdk.open(url, **options)``.
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    #: `camsdk.CameraConfig` fields (timeouts, backoff ...).
    config: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("put camera passwords in environment variables (password_env)")
        return data


class BridgeConfig(BaseModel):
    """A whole bridge config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    broker: BrokerSettings
    cameras: tuple[CameraSettings, ...] = ()

    @model_validator(mode="after")
    def _unique_topics(self) -> BridgeConfig:
        seen: dict[str, str] = {}
        for cam in self.cameras:
            slug = topic_slug(cam.name)
            if slug in seen:
                raise ValueError(f"cameras {seen[slug]!r} and {cam.name!r} share topic {slug!r}")
            seen[slug] = cam.name
        return self


def load_bridge_config(path: Path) -> BridgeConfig:
    """Read and validate a bridge TOML file; raise `ConfigurationError` when invalid."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read bridge config {path}: {exc}") from exc
    try:
        return BridgeConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"invalid bridge config {path}: {problems}") from None


def shard_of(name: str, count: int) -> int:
    """The shard (0..count-1) of camera ``name``: stable across processes and hosts."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"i/N"`` (0 <= i < N) for ``--shard``."""
    try:
        index_text, count_text = text.split("/", 1)
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like i/N, not {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"shard {text!r}: need 0 <= i < N")
    return index, count


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

    async def aclose(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            await cam.aclose()


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


def _tls_context(broker: BrokerSettings) -> ssl.SSLContext | None:
    if not broker.tls:
        return None
    return ssl.create_default_context(cafile=str(broker.ca_file) if broker.ca_file else None)


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
    try:
        from .mqtt import MqttBridge
    except ImportError as exc:
        raise DriverUnavailableError(
            "the MQTT bridge needs aiomqtt", hint="pip install 'camsdk[mqtt]'"
        ) from exc
    entries = list(config.cameras)
    if shard is not None:
        index, count = shard
        entries = [c for c in entries if shard_of(c.name, count) == index]
    broker = config.broker
    password = _secret_from_env(broker.password_env, "broker")
    if not entries:
        _log.warning("bridge config %s: no cameras for shard %s", path, shard)
    client_id = broker.client_id or f"camsdk-bridge-{shard[0] if shard else 0}"
    principal = Principal(f"mqtt:{client_id}", "MQTT bridge")
    cameras = [_SupervisedCamera(entry, principal, audit) for entry in entries]
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
        bridge = MqttBridge(
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
            keepalive=broker.keepalive,
            queue_size=broker.queue_size,
            tls_context=_tls_context(broker),
        )
        async with bridge:
            if stop is None:
                await asyncio.Event().wait()
            else:
                await stop.wait()
    finally:
        for cam in cameras:
            with contextlib.suppress(Exception):
                await cam.aclose()


async def _cmd_bridge(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await run_bridge_from_config(Path(args.config), shard=args.shard, stop=stop)
    return 0


def add_bridge_command(subparsers: Any) -> None:
    """Add ``bridge CONFIG.toml [--shard i/N]`` to the ``camsdk`` command's subparsers."""
    parser = subparsers.add_parser(
        "bridge",
        help="bridge cameras to MQTT (Home Assistant discovery included)",
        description="Publish camera events, states and snapshots to MQTT and take commands.",
    )
    parser.add_argument("config", help="bridge config file (TOML)")
    parser.add_argument(
        "--shard",
        type=parse_shard,
        default=None,
        metavar="i/N",
        help="bridge only shard i of N (stable hash of the camera name)",
    )
    parser.set_defaults(func=_cmd_bridge)


if TYPE_CHECKING:  # pragma: no cover - keeps the protocol honest for mypy
    from .._camera import Camera

    _supervised: type[BridgeCamera] = _SupervisedCamera
    _facade: type[BridgeCamera] = Camera
