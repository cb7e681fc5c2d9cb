"""camsdk on Ray (extra ``ray``): cameras owned by actors, failover, cluster-wide limits.

- `Fleet` places camera groups on nodes by consistent hashing (`HashRing`)
  with node labels, through a supervisor actor; a lost node's cameras move
  to the next nodes of the ring, and only they move.
- `Fleet.camera` returns a `CameraProxy` with the local facade's shapes
  (snapshot, events, stream packets and frames, record, PTZ); the principal
  and grants of each call are decided by the real facade on the camera's
  node, which also writes that node's audit log (``camsdk audit merge``
  joins the nodes' logs).
- `AccountActor` holds a cloud account's token lineage and rate limiter for
  the whole cluster.

Importing `camsdk` never imports Ray; importing this package needs it
(``pip install camsdk[ray]``). See ``docs/scaling.md``.
"""

from __future__ import annotations

try:
    import ray as _ray  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    from .._errors import DriverUnavailableError

    raise DriverUnavailableError(
        "camsdk.ray needs Ray: pip install camsdk[ray]", hint="pip install camsdk[ray]"
    ) from exc

from ._account import AccountActor
from ._actor import CameraActor
from ._caller import Caller
from ._config import (
    FleetAccount,
    FleetCamera,
    FleetConfig,
    FleetSettings,
    PolicySettings,
    load_fleet_config,
)
from ._fleet import AccountHandle, Fleet
from ._proxy import CameraProxy, RemoteIterator, RemotePTZ, RemoteStream
from ._ring import HashRing
from ._supervisor import FleetSupervisor
from ._wire import FleetFrame

__all__ = [
    "AccountActor",
    "AccountHandle",
    "CameraActor",
    "CameraProxy",
    "Caller",
    "Fleet",
    "FleetAccount",
    "FleetCamera",
    "FleetConfig",
    "FleetFrame",
    "FleetSettings",
    "FleetSupervisor",
    "HashRing",
    "PolicySettings",
    "RemoteIterator",
    "RemotePTZ",
    "RemoteStream",
    "load_fleet_config",
]
