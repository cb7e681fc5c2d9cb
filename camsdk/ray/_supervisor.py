"""`FleetSupervisor`: the one writer of the fleet's placement, itself a detached Ray actor.

It watches the cluster's nodes and keeps one `CameraActor` per camera group
on the node the hash ring names among the nodes whose labels the group needs:

- a camera actor is pinned to its node (hard node affinity), so Ray restarts
  a crashed actor *in place* (``max_restarts``);
- when a node leaves, Ray cannot restart its actors (their node is gone);
  the supervisor sees the node missing and starts each of those groups on
  the next node of the ring: only the lost node's cameras move;
- when a node joins, the ring gives it about 1/N of the groups; with
  ``rebalance`` those move to it (each is closed on the old node first).

The supervisor keeps no state Ray does not: when it restarts it adopts the
camera actors it finds by name. Ray itself is not durable storage; see
``docs/scaling.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .._log import get_logger
from ._actor import CameraActor
from ._config import FleetConfig
from ._ring import HashRing

__all__ = ["FleetSupervisor", "alive_nodes", "camera_actor_options"]

log = get_logger("camsdk.ray")

_remote_camera_actor: Any = None


def _camera_actor_class() -> Any:
    global _remote_camera_actor
    if _remote_camera_actor is None:
        _remote_camera_actor = ray.remote(CameraActor)
    return _remote_camera_actor


def camera_actor_options(config: FleetConfig, group: str, node_id: str) -> dict[str, Any]:
    """Ray options of ``group``'s camera actor on ``node_id``."""
    return {
        "name": config.actor_name(group),
        "namespace": config.namespace,
        "lifetime": "detached",
        "max_restarts": config.fleet.max_restarts,
        "max_task_retries": 0,
        "num_cpus": config.fleet.num_cpus,
        "max_concurrency": 1000,
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=False),
    }


def alive_nodes() -> dict[str, dict[str, str]]:
    """Alive node id -> its labels, from Ray's GCS."""
    return {
        n["NodeID"]: dict(n.get("Labels") or {})
        for n in ray.nodes()  # type: ignore[no-untyped-call]
        if n.get("Alive")
    }


class _Placed:
    def __init__(self, node_id: str, handle: Any) -> None:
        self.node_id = node_id
        self.handle = handle
        self.since = time.monotonic()


class FleetSupervisor:
    """Keeps every camera group placed (see the module docstring). Made remote by the fleet."""

    # Async: Ray runs it on the actor's loop at every (re)start, so watching resumes by itself.
    async def __init__(self, config_json: str) -> None:  # type: ignore[misc]
        self.config = FleetConfig.model_validate_json(config_json)
        self._config_json = config_json
        self._ring = HashRing(vnodes=self.config.fleet.vnodes)
        self._groups = {g: self.config.requirements(c[0]) for g, c in self.config.groups().items()}
        self._placed: dict[str, _Placed] = {}
        self._loop_task: asyncio.Task[None] | None = None
        # One pass at a time: the watch loop and `wait_placed` would both start a group.
        self._reconciling = asyncio.Lock()
        self._ticks = 0
        #: Moves done, by reason, for tests and the status command.
        self.moves = {"start": 0, "lost": 0, "rebalance": 0, "died": 0}
        await self.start()

    async def start(self) -> None:
        """Adopt existing camera actors and start the watch loop (idempotent)."""
        if self._loop_task is None:
            await self._adopt()
            self._loop_task = asyncio.get_running_loop().create_task(self._watch())

    async def _adopt(self) -> None:
        await asyncio.gather(*(self._adopt_one(group) for group in self._groups))

    async def _adopt_one(self, group: str) -> None:
        """Take over ``group``'s running actor, if there is one."""
        try:
            handle = ray.get_actor(self.config.actor_name(group), namespace=self.config.namespace)
            node_id: str = await asyncio.wait_for(handle.where.remote(), 10.0)
        except (ValueError, TimeoutError, ray.exceptions.RayError):
            return
        self._placed[group] = _Placed(node_id, handle)

    async def _watch(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("fleet reconcile failed; trying again")
            await asyncio.sleep(self.config.fleet.poll_interval)

    async def reconcile(self) -> dict[str, str]:
        """One pass: place every group where the ring says; return group -> node id."""
        async with self._reconciling:
            return await self._reconcile()

    async def _reconcile(self) -> dict[str, str]:
        nodes = await asyncio.to_thread(alive_nodes)
        for node in self._ring.nodes - nodes.keys():
            self._ring.remove(node)
        for node in nodes.keys() - self._ring.nodes:
            self._ring.add(node)
        self._ticks += 1
        check_actors = self._ticks % 10 == 0
        starts = []
        for group, labels in self._groups.items():
            def eligible(node: str, labels: dict[str, str] = labels) -> bool:
                have = nodes.get(node, {})
                return all(have.get(k) == v for k, v in labels.items())

            desired = self._ring.owner(group, eligible=eligible)
            placed = self._placed.get(group)
            reason = ""
            if placed is None:
                reason = "start"
            elif placed.node_id not in nodes:
                reason = "lost"
            elif check_actors and not await self._alive(group):
                reason = "died"
            elif desired is not None and placed.node_id != desired and self.config.fleet.rebalance:
                reason = "rebalance"
            if not reason:
                continue
            if desired is None:
                if placed is not None and reason != "rebalance":
                    log.warning("fleet group %s has no eligible node (needs %s)", group, labels)
                    self._placed.pop(group, None)
                continue
            starts.append(self._place(group, desired, placed, reason))
        if starts:
            await asyncio.gather(*starts)
        return self.placement()

    async def _alive(self, group: str) -> bool:
        try:
            ray.get_actor(self.config.actor_name(group), namespace=self.config.namespace)
        except ValueError:
            return False
        return True

    async def _place(self, group: str, node_id: str, old: _Placed | None, reason: str) -> None:
        if old is not None:
            if reason == "rebalance":
                # Close cleanly first: streams end, the audit log is closed on the old node.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(old.handle.shutdown.remote(), 10.0)
            with contextlib.suppress(Exception):
                ray.kill(old.handle, no_restart=True)
        options = camera_actor_options(self.config, group, node_id)
        try:
            handle = _camera_actor_class().options(**options).remote(self._config_json, group)
        except ValueError as exc:
            # The name is taken: an actor we did not know of (adopt it), or the old one
            # not released yet (the next pass tries again).
            log.info("fleet group %s not placed yet: %s", group, exc)
            self._placed.pop(group, None)
            await self._adopt_one(group)
            return
        self._placed[group] = _Placed(node_id, handle)
        self.moves[reason] += 1
        log.info("fleet group %s -> node %s (%s)", group, node_id[:12], reason)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(handle.ready.remote(5.0), 30.0)

    def placement(self) -> dict[str, str]:
        """Group -> node id, as placed now."""
        return {g: p.node_id for g, p in self._placed.items()}

    async def status(self) -> dict[str, Any]:
        """Placement, moves and the ring's nodes."""
        return {"placement": self.placement(), "moves": dict(self.moves),
                "nodes": sorted(self._ring.nodes), "groups": len(self._groups)}

    async def wait_placed(self, timeout: float = 60.0) -> dict[str, str]:
        """Wait (bounded) until every group with an eligible node is placed."""
        await self.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            placed = await self.reconcile()
            if len(placed) == len(self._groups):
                return placed
            await asyncio.sleep(self.config.fleet.poll_interval)
        return self.placement()

    async def stop(self) -> None:
        """Stop watching; shut every camera actor down and kill it."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        placed, self._placed = self._placed, {}
        for item in placed.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(item.handle.shutdown.remote(), 10.0)
            with contextlib.suppress(Exception):
                ray.kill(item.handle, no_restart=True)
