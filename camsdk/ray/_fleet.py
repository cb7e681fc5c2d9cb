"""`Fleet`: the application's handle on a camera fleet running in a Ray cluster.

```python
from camsdk.ray import Fleet

async with Fleet("site.toml", address="auto") as fleet:
    await fleet.up()                                   # place every camera group
    async with fleet.camera("door", principal="alice", grants=[signed]) as cam:
        snap = await cam.snapshot(purpose="doorbell")
        async with cam.stream() as s, s.packets() as packets:
            async for pkt in packets: ...
```

`up` starts (or finds) the fleet's supervisor, a detached actor that keeps
one `CameraActor` per camera group on the node the hash ring names, and the
`AccountActor` of each configured cloud account. `down` stops them. Leaving
the ``async with`` closes this process's proxies; the fleet keeps running.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import ActorUnschedulableError, RayActorError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .._access import Principal
from .._errors import CameraUnreachableError, ConfigurationError
from .._gate import coerce_principal
from .._lifecycle import AsyncResource
from ._account import AccountActor, account_actor_name
from ._config import FleetConfig, load_fleet_config
from ._proxy import CameraProxy
from ._supervisor import FleetSupervisor
from ._wire import Reply, unwrap

__all__ = ["AccountHandle", "Fleet"]

_SUPERVISOR = "supervisor"
_LOOKUP_BACKOFF = (0.05, 0.1, 0.2, 0.3, 0.5)


class Fleet(AsyncResource):
    """A camera fleet on Ray (see the module docstring). Constructing it does no I/O."""

    def __init__(
        self,
        config: FleetConfig | Mapping[str, Any] | str | Path,
        *,
        address: str | None = None,
        init_args: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config if isinstance(config, FleetConfig) else load_fleet_config(config)
        self.address = address
        self._init_args = dict(init_args or {})
        self._owns_ray = False
        self._actors: dict[str, Any] = {}
        self._proxies: set[CameraProxy] = set()

    def __repr__(self) -> str:
        return f"<Fleet {self.config.fleet.name}: {len(self.config.cameras)} cameras>"

    # -- lifecycle ---------------------------------------------------------------------

    async def connect(self) -> Fleet:
        """Join the Ray cluster (``address``; ``"auto"`` finds a local one) unless joined."""
        if not ray.is_initialized():
            args = {"address": self.address or "auto", "namespace": self.config.namespace,
                    "include_dashboard": False, "logging_level": "WARNING",
                    **self._init_args}
            await asyncio.to_thread(ray.init, **args)
            self._owns_ray = True
        return self

    async def _on_enter(self) -> None:
        await self.connect()

    async def aclose(self) -> None:
        """Close this process's proxies (the fleet keeps running); leave Ray if we joined it."""
        for proxy in list(self._proxies):
            await proxy.aclose()
        self._proxies.clear()
        self._actors.clear()
        if self._owns_ray:
            self._owns_ray = False
            await asyncio.to_thread(ray.shutdown)

    def _supervisor(self) -> Any:
        return ray.remote(FleetSupervisor).options(
            name=_SUPERVISOR, namespace=self.config.namespace, lifetime="detached",
            max_restarts=-1, max_task_retries=-1, num_cpus=0, get_if_exists=True,
        ).remote(self.config.model_dump_json())

    async def up(self, *, timeout: float = 120.0) -> dict[str, str]:
        """Start the supervisor and the account actors; wait until cameras are placed.

        Returns camera name -> node id. Cameras with no eligible node are
        left out (the supervisor places them when such a node joins).
        """
        await self.connect()
        supervisor = self._supervisor()
        for settings in self.config.accounts:
            ray.remote(AccountActor).options(
                name=account_actor_name(settings.scheme, settings.account),
                namespace=self.config.namespace, lifetime="detached",
                max_restarts=settings.max_restarts, max_task_retries=-1, num_cpus=0,
                get_if_exists=True,
            ).remote(settings.model_dump_json())
        placed: dict[str, str] = await supervisor.wait_placed.remote(timeout)
        return self._by_camera(placed)

    async def down(self) -> None:
        """Stop the supervisor, every camera actor and every account actor."""
        await self.connect()
        try:
            supervisor = await asyncio.to_thread(
                ray.get_actor, _SUPERVISOR, namespace=self.config.namespace)
        except ValueError:
            supervisor = None
        if supervisor is not None:
            await supervisor.stop.remote()
            ray.kill(supervisor, no_restart=True)
        for settings in self.config.accounts:
            try:
                actor = await asyncio.to_thread(
                    ray.get_actor, account_actor_name(settings.scheme, settings.account),
                    namespace=self.config.namespace)
            except ValueError:
                continue
            ray.kill(actor, no_restart=True)
        self._actors.clear()

    def _by_camera(self, by_group: Mapping[str, str]) -> dict[str, str]:
        return {
            cam.name: by_group[group]
            for cam in self.config.cameras
            if (group := self.config.group_of(cam)) in by_group
        }

    async def placement(self) -> dict[str, str]:
        """Camera name -> the id of the node its actor runs on (as the supervisor placed it)."""
        supervisor = await asyncio.to_thread(
            ray.get_actor, _SUPERVISOR, namespace=self.config.namespace)
        status: dict[str, Any] = await supervisor.status.remote()
        return self._by_camera(status["placement"])

    async def status(self) -> dict[str, Any]:
        """The supervisor's view: placement by group, moves, nodes."""
        supervisor = await asyncio.to_thread(
            ray.get_actor, _SUPERVISOR, namespace=self.config.namespace)
        status: dict[str, Any] = await supervisor.status.remote()
        return status

    # -- cameras -----------------------------------------------------------------------

    def camera(
        self, name: str, *, principal: Principal | str = "owner", grants: Iterable[Any] = ()
    ) -> CameraProxy:
        """A proxy on camera ``name`` for ``principal`` (use ``async with``); no I/O here."""
        proxy = CameraProxy(self, name, principal=coerce_principal(principal),
                            grants=tuple(grants))
        self._proxies.add(proxy)
        return proxy

    async def node_of(self, camera: str) -> str:
        """The id of the node camera ``camera`` runs on now."""
        return str(await self._ask(camera, "where"))

    async def _ask(self, camera: str, method: str) -> Any:
        """Call a housekeeping ``method`` on ``camera``'s actor, waiting for a moved one."""
        group = self.config.group_of(self.config.camera(camera))
        deadline = time.monotonic() + self.config.fleet.failover_timeout
        while True:
            actor = await self._actor(group, deadline)
            try:
                return await getattr(actor, method).remote()
            except (RayActorError, ActorUnschedulableError):
                self._forget(group, actor)
                if time.monotonic() >= deadline:
                    raise CameraUnreachableError(
                        f"fleet camera {camera!r}: its actor did not come back") from None

    async def stats(self, camera: str) -> dict[str, Any]:
        """The camera actor's process memory, open handles, buffered items and drops."""
        stats: dict[str, Any] = await self._ask(camera, "stats")
        return stats

    async def consumer_options(self, camera: str, *, soft: bool = False) -> dict[str, Any]:
        """Ray ``.options(...)`` that put a task or actor on ``camera``'s node (for frames)."""
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(
            await self.node_of(camera), soft=soft)}

    def _cached_actor(self, group: str) -> Any:
        return self._actors.get(group)

    def _forget(self, group: str, handle: Any) -> None:
        if handle is None or self._actors.get(group) is handle:
            self._actors.pop(group, None)

    async def _actor(self, group: str, deadline: float) -> Any:
        """The camera actor of ``group``; wait (until ``deadline``) while it is being moved."""
        cached = self._actors.get(group)
        if cached is not None:
            return cached
        name = self.config.actor_name(group)
        attempt = 0
        while True:
            try:
                handle = await asyncio.to_thread(
                    ray.get_actor, name, namespace=self.config.namespace)
            except ValueError:
                if time.monotonic() >= deadline:
                    raise CameraUnreachableError(
                        f"fleet group {group!r} has no running actor (is the fleet up, and is "
                        f"a node with its labels alive?)"
                    ) from None
                await asyncio.sleep(_LOOKUP_BACKOFF[min(attempt, len(_LOOKUP_BACKOFF) - 1)])
                attempt += 1
                continue
            self._actors[group] = handle
            return handle

    # -- accounts ----------------------------------------------------------------------

    def account(self, scheme: str, account: str) -> AccountHandle:
        """The handle of a configured cloud account's `AccountActor`."""
        if not any(a.scheme == scheme and a.account == account for a in self.config.accounts):
            raise ConfigurationError(f"no account {scheme}:{account} in the fleet config")
        return AccountHandle(self, scheme, account)


class AccountHandle:
    """Calls on an account's `AccountActor`: tokens and the cluster-wide rate limit."""

    def __init__(self, fleet: Fleet, scheme: str, account: str) -> None:
        self._fleet = fleet
        self.scheme = scheme
        self.account = account

    def __repr__(self) -> str:
        return f"<AccountHandle {self.scheme}:{self.account}>"

    async def _call(self, method: str, *args: Any) -> Any:
        actor = await asyncio.to_thread(
            ray.get_actor, account_actor_name(self.scheme, self.account),
            namespace=self._fleet.config.namespace)
        reply: Reply[Any] = await getattr(actor, method).remote(*args)
        return unwrap(reply)

    async def access_token(self) -> str:
        """A valid access token (refreshed once, cluster-wide, when about to expire)."""
        token: str = await self._call("access_token")
        return token

    async def refresh_after_401(self, rejected: str | None = None) -> str:
        """The service refused ``rejected``: one shared refresh, the new token."""
        token: str = await self._call("refresh_after_401", rejected)
        return token

    async def acquire(self, kind: str | None = None, *, max_wait: float = 30.0) -> None:
        """Wait for a request's turn under the account's limits."""
        await self._call("acquire", kind, max_wait)

    async def penalize(self, retry_after: float) -> None:
        """Hold every worker's requests for ``retry_after`` seconds."""
        await self._call("penalize", retry_after)

    async def stats(self) -> dict[str, Any]:
        """Refreshes by the current actor process, token generation, limiter waits."""
        stats: dict[str, Any] = await self._call("stats")
        return stats
