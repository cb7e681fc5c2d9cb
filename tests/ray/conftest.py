"""A local Ray cluster for the fleet tests: a head and two camera workers on loopback.

Started once per session (``ray.cluster_utils.Cluster``: one raylet per
"node", each with 1 CPU and a 100 MB object store, dashboard off, usage
stats off, every address 127.0.0.1), with six RTSP cameras served by a
separate process and a fleet of 20 cameras (14 ``virtual://``, 6 RTSP)
placed on the two workers. The head carries no camera label, so it holds no
camera. Tests that drive Ray are marked ``loopback_connection_pool("ray")``:
Ray's gRPC channels to the local cluster stay open across tests by design.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Before Ray is imported: loopback only (no address "as seen from outside"),
# no usage stats; workers import this worktree's camsdk and tests.
os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)

ray = pytest.importorskip("ray", reason="the fleet tests need Ray: pip install camsdk[ray]")

from ray.cluster_utils import Cluster  # noqa: E402

from camsdk.privacy import generate_signing_key  # noqa: E402
from camsdk.ray import Fleet, FleetConfig  # noqa: E402

CAMERA_LABELS = {"camsdk.io/role": "camera"}
NODE_ARGS: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 100 * 1024 * 1024}
# Node loss is seen in about a second; Ray's defaults (3 s x 5) are for real networks.
SYSTEM_CONFIG = {
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 3,
    "health_check_initial_delay_ms": 0,
}
VIRTUAL = 14
RTSP = 6
START_TIMEOUT = 120.0

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory: Ray's pooled loopback channels may outlive it."""
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.loopback_connection_pool("ray"))


@dataclass
class LocalCluster:
    """The test cluster: its head, its camera workers, and how to kill or add one."""

    cluster: Any
    workers: list[Any] = field(default_factory=list)

    def worker_ids(self) -> set[str]:
        return {w.node_id for w in self.workers}

    def add_worker(self) -> Any:
        node = self.cluster.add_node(labels=dict(CAMERA_LABELS), **NODE_ARGS)
        self.workers.append(node)
        return node

    def kill_worker(self, node_id: str) -> None:
        """Kill a worker's processes at once (no graceful shutdown), as a crash would."""
        node = next(w for w in self.workers if w.node_id == node_id)
        self.workers.remove(node)
        self.cluster.remove_node(node, allow_graceful=False)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[LocalCluster]:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={**NODE_ARGS, "include_dashboard": False, "_system_config": SYSTEM_CONFIG},
    )
    local = LocalCluster(cluster)
    try:
        for _ in range(2):
            local.add_worker()
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="WARNING", include_dashboard=False)
        yield local
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="session")
def rtsp_urls() -> Iterator[list[str]]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "ray" / "rtsp_servers.py"), str(RTSP)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdin is not None
    urls: list[str] = []
    try:
        for _ in range(RTSP + 1):  # bounded: one line per server, then "ready"
            line = proc.stdout.readline().strip()
            if not line or line == "ready":
                break
            urls.append(line)
        assert len(urls) == RTSP, f"RTSP servers did not start (got {urls})"
        yield urls
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def grant_key() -> Any:
    return generate_signing_key()


@pytest.fixture(scope="session")
def fleet_config(
    rtsp_urls: list[str], grant_key: Any, tmp_path_factory: pytest.TempPathFactory
) -> FleetConfig:
    from camsdk.privacy import save_public_key

    key_file = tmp_path_factory.mktemp("keys") / "owner.pub"
    save_public_key(grant_key, key_file)
    cameras: list[dict[str, Any]] = [
        {"name": f"virtual-{i:02d}",
         "url": f"virtual://v{i:02d}?size=160x120&fps=10&gop=10&events=motion:1s"}
        for i in range(VIRTUAL)
    ]
    cameras += [{"name": f"rtsp-{i}", "url": url} for i, url in enumerate(rtsp_urls)]
    return FleetConfig.model_validate({
        "fleet": {
            "name": "test", "node_labels": CAMERA_LABELS, "poll_interval": 0.2,
            "failover_timeout": 60.0, "idle_timeout": 30.0,
            "audit_dir": str(tmp_path_factory.mktemp("audit")),
        },
        "policy": {"owner": "owner", "trusted_keys": [key_file.read_text()]},
        "cameras": cameras,
    })


@pytest.fixture(scope="session")
def fleet(ray_cluster: LocalCluster, fleet_config: FleetConfig) -> Iterator[Fleet]:
    fleet = Fleet(fleet_config)

    async def up() -> dict[str, str]:
        return await fleet.up(timeout=START_TIMEOUT)

    placed = asyncio.run(up())
    assert len(placed) == len(fleet_config.cameras), f"not every camera was placed: {placed}"
    try:
        yield fleet
    finally:
        asyncio.run(fleet.down())


async def wait_for_placement(
    fleet: Fleet, check: Any, timeout: float = START_TIMEOUT
) -> dict[str, str]:
    """Poll the supervisor (bounded) until ``check(placement)`` holds; return the placement."""
    deadline = time.monotonic() + timeout
    placement = await fleet.placement()
    while not check(placement):
        assert time.monotonic() < deadline, f"placement never settled: {placement}"
        await asyncio.sleep(0.2)
        placement = await fleet.placement()
    return placement
