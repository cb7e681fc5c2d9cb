"""The fleet's config (``site.toml``): cameras, where they may run, the owner's policy.

```toml
[fleet]
name = "site-a"                 # actor names and the Ray namespace derive from it
groups = 0                      # camera actors per label set; 0: one actor per camera
node_labels = { "camsdk.io/role" = "camera" }   # nodes that may hold cameras
audit_dir = "/var/lib/camsdk/audit"             # each node writes under <dir>/<node id>/

[policy]
owner = "owner"
trusted_keys = ["<Ed25519 public key, hex/base64/PEM>"]   # callers' grants must be signed

[[cameras]]
name = "front-door"
url = "rtsp://10.0.0.5/stream1"
username = "viewer"
password_env = "FRONT_DOOR_PASSWORD"     # read on the camera's node, never shipped
labels = { site = "a" }                  # only nodes with these labels can reach it

[nats]                                   # optional: every camera's events, durably
servers = ["nats://nats.local:4222"]     # (see docs/nats.md for every key)
ensure_stream = true
```

Grouping is a hash of the camera name, independent of the nodes, so a
camera's group never changes while the cluster does; the hash ring places
groups on nodes.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from .._config_secrets import password_by_reference
from .._errors import ConfigurationError
from ..privacy import Grant
from ..sinks._nats_config import NatsSettings
from ._ring import ring_hash

__all__ = [
    "FleetAccount",
    "FleetCamera",
    "FleetConfig",
    "FleetSettings",
    "PolicySettings",
    "load_fleet_config",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _plain_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("use letters, digits, '.', '_' and '-' (at most 64)")
    return value


#: A fleet or camera name: it becomes part of Ray actor names.
_PlainName = Annotated[str, AfterValidator(_plain_name)]


class FleetSettings(BaseModel):
    """The ``[fleet]`` table: naming, placement and supervision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _PlainName = "camsdk"
    #: Camera actors per label set; 0 gives every camera its own actor.
    groups: int = Field(default=0, ge=0, le=100_000)
    #: Labels a node needs to hold any camera (on top of the camera's own).
    node_labels: dict[str, str] = Field(default_factory=dict)
    vnodes: int = Field(default=64, ge=1, le=4096)
    #: Ray restarts a crashed camera actor in place this many times (-1: always).
    max_restarts: int = Field(default=-1, ge=-1)
    #: CPUs each camera actor reserves (0: I/O-bound; decoding uses threads).
    num_cpus: float = Field(default=0.0, ge=0.0)
    #: Move groups to a node that joins when the ring says so (else only on loss).
    rebalance: bool = True
    #: Seconds between the supervisor's looks at the cluster.
    poll_interval: float = Field(default=0.5, gt=0.0, le=60.0)
    #: How long a proxy waits for a moved camera before giving up.
    failover_timeout: float = Field(default=60.0, gt=0.0)
    #: A remote stream or subscription nobody read for this long is closed.
    idle_timeout: float = Field(default=30.0, gt=0.0)
    audit_dir: Path | None = None


class PolicySettings(BaseModel):
    """The ``[policy]`` table: the owner's principal and which grants count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str = Field(default="owner", min_length=1)
    #: Public keys (hex, base64 or PEM text) whose signed grants callers may present.
    trusted_keys: tuple[str, ...] = ()
    #: Grants every camera actor holds (the owner's own decisions).
    grants: tuple[Grant, ...] = ()


class FleetCamera(BaseModel):
    """One ``[[cameras]]`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: _PlainName
    url: str
    username: str | None = None
    #: The environment variable holding the password, read on the camera's node.
    password_env: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)

    _no_plaintext_password = password_by_reference(
        "put the camera password in an environment variable (password_env)"
    )


class FleetAccount(BaseModel):
    """One ``[[accounts]]`` entry: a cloud account whose tokens and limits the cluster shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheme: str = Field(min_length=1)
    account: str = Field(min_length=1)
    #: A `FileTokenStore` directory every node that may run the account actor can reach.
    token_dir: Path
    #: The vendor's refresh call, ``"package.module:function"`` (tokens -> next tokens).
    refresh: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    rate: float = Field(default=5.0, gt=0.0)
    burst: int = Field(default=10, ge=1)
    spacing: dict[str, float] = Field(default_factory=dict)
    refresh_margin: float = Field(default=60.0, ge=0.0)
    max_restarts: int = Field(default=-1, ge=-1)


class FleetConfig(BaseModel):
    """The whole fleet: settings, policy and cameras (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fleet: FleetSettings = Field(default_factory=FleetSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    cameras: tuple[FleetCamera, ...] = ()
    accounts: tuple[FleetAccount, ...] = ()
    #: A NATS JetStream stream that each camera actor forwards its cameras' events to.
    nats: NatsSettings | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> FleetConfig:
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.name in seen:
                raise ValueError(f"camera name {camera.name!r} is used twice")
            seen.add(camera.name)
        return self

    @property
    def namespace(self) -> str:
        """The Ray namespace of this fleet's actors."""
        return f"camsdk-{self.fleet.name}"

    def camera(self, name: str) -> FleetCamera:
        """The camera called ``name``; `ConfigurationError` if there is none."""
        for camera in self.cameras:
            if camera.name == name:
                return camera
        raise ConfigurationError(f"no camera {name!r} in fleet {self.fleet.name!r}")

    def requirements(self, camera: FleetCamera) -> dict[str, str]:
        """Every label a node needs to hold ``camera``."""
        return {**self.fleet.node_labels, **camera.labels}

    def group_of(self, camera: FleetCamera) -> str:
        """The camera's group: a stable name, the same whatever nodes the cluster has."""
        labels = self.requirements(camera)
        suffix = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        if self.fleet.groups == 0:
            base = f"cam-{camera.name}"
        else:
            base = f"g{ring_hash(camera.name) % self.fleet.groups:03d}"
        return f"{base}@{suffix}" if suffix else base

    def groups(self) -> dict[str, tuple[FleetCamera, ...]]:
        """Group name -> its cameras, in config order."""
        found: dict[str, list[FleetCamera]] = {}
        for camera in self.cameras:
            found.setdefault(self.group_of(camera), []).append(camera)
        return {name: tuple(cams) for name, cams in found.items()}

    def group_labels(self, group: str) -> dict[str, str]:
        """The labels a node needs to hold ``group``."""
        cams = self.groups().get(group)
        if not cams:
            raise ConfigurationError(f"no group {group!r} in fleet {self.fleet.name!r}")
        return self.requirements(cams[0])

    def actor_name(self, group: str) -> str:
        """The Ray actor name of ``group``'s camera actor."""
        return f"camera:{group}"


def load_fleet_config(source: str | Path | Mapping[str, Any]) -> FleetConfig:
    """Read a fleet config from a TOML file or a mapping; `ConfigurationError` if invalid."""
    if isinstance(source, Mapping):
        data: Mapping[str, Any] = source
        where = "fleet config"
    else:
        path = Path(source)
        where = str(path)
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read {where}: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{where} is not valid TOML: {exc}") from None
    try:
        return FleetConfig.model_validate(dict(data))
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3]
        )
    # Outside the except clause: pydantic's message quotes inputs.
    raise ConfigurationError(f"invalid fleet config {where}: {problem}")
