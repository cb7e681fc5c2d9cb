"""The ``camsdk bridge`` config file: its schema, loading, and sharding.

See `camsdk.sinks._bridge` for the file format and docs/mqtt.md for every key.
"""

from __future__ import annotations

import argparse
import hashlib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._access import Action
from .._config_secrets import password_by_reference
from .._errors import ConfigurationError
from ._ha_discovery import topic_slug
from ._nats_config import NatsSettings
from ._types import BridgeCameraOptions

__all__ = [
    "BridgeConfig",
    "BrokerSettings",
    "CameraSettings",
    "NatsSettings",
    "load_bridge_config",
    "parse_shard",
    "shard_of",
]

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

    _no_plaintext_password = password_by_reference(
        "put the broker password in an environment variable (password_env)"
    )


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
    #: The hub (NVR, account) this camera belongs to: HA shows it "via" that device.
    hub: str | None = Field(default=None, min_length=1)
    #: The device page HA links to; default ``http://<host of url>``, "" for none.
    configuration_url: str | None = None
    #: Settings of the "software motion" switch (needs ``stream.open`` and ``frames``).
    motion_sensitivity: float = Field(default=0.5, ge=0.0, le=1.0)
    motion_fps: float = Field(default=2.0, gt=0.0, le=30.0)
    #: Keep the stream open and publish its state and fps (needs ``stream.open``).
    watch_stream: bool = False
    stream_profile: str | None = None
    stats_interval: float = Field(default=10.0, ge=1.0)

    _no_plaintext_password = password_by_reference(
        "put camera passwords in environment variables (password_env)"
    )

    @model_validator(mode="after")
    def _watching_needs_the_stream(self) -> CameraSettings:
        if self.watch_stream and Action.STREAM_OPEN not in self.allow:
            raise ValueError('watch_stream needs "stream.open" in allow')
        try:
            self.bridge_options()
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return self

    def bridge_options(self) -> BridgeCameraOptions:
        """The `BridgeCameraOptions` these settings ask for."""
        return BridgeCameraOptions(
            hub=self.hub,
            configuration_url=self.configuration_url,
            motion_sensitivity=self.motion_sensitivity,
            motion_fps=self.motion_fps,
            watch_stream=self.watch_stream,
            stream_profile=self.stream_profile,
            stats_interval=self.stats_interval,
        )


class BridgeConfig(BaseModel):
    """A whole bridge config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The hash-chained audit log (`camsdk.privacy.AuditLog`) every camera's access
    #: decisions go to: commands refused or carried out, privacy switches.
    audit_log: Path | None = None
    #: The MQTT broker; optional when events go to NATS JetStream only.
    broker: BrokerSettings | None = None
    #: A NATS JetStream stream that receives every camera's events (durable).
    nats: NatsSettings | None = None
    cameras: tuple[CameraSettings, ...] = ()

    @model_validator(mode="after")
    def _somewhere_to_deliver(self) -> BridgeConfig:
        if self.broker is None and self.nats is None:
            raise ValueError("give a [broker] (MQTT), a [nats] table, or both")
        return self

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
