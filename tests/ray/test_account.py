"""`AccountActor`: one token lineage and one rate limit for the whole cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from camsdk.cloud import FileTokenStore, TokenSet
from camsdk.ray import Fleet, FleetConfig
from camsdk.ray._account import account_actor_name

from .conftest import LocalCluster, ray

pytestmark = pytest.mark.anyio

SCHEME, ACCOUNT = "acme", "home"


@pytest.fixture
async def account_fleet(ray_cluster: LocalCluster, tmp_path: Path) -> AsyncIterator[Fleet]:
    """A fleet holding one account whose stored access token has just expired."""
    store = FileTokenStore(tmp_path / "tokens")
    await store.save(TokenSet(
        scheme=SCHEME, account=ACCOUNT, access_token=SecretStr("access-0"),
        refresh_token=SecretStr("refresh-0"), expires_at=datetime.now(UTC) - timedelta(1),
    ))
    config = FleetConfig.model_validate({
        "fleet": {"name": f"accounts-{tmp_path.name}"},
        "accounts": [{"scheme": SCHEME, "account": ACCOUNT, "token_dir": str(tmp_path / "tokens"),
                      "refresh": "tests.ray.cloud_refresh:refresh", "rate": 1.0, "burst": 1}],
    })
    fleet = Fleet(config)
    await fleet.up(timeout=60)
    try:
        yield fleet
    finally:
        await fleet.down()


@ray.remote(num_cpus=0)
def _token_from_a_worker(config_json: str) -> str:
    async def ask() -> str:
        fleet = Fleet(FleetConfig.model_validate_json(config_json))
        async with fleet:
            return await fleet.account(SCHEME, ACCOUNT).access_token()

    return asyncio.run(ask())


@ray.remote(num_cpus=0)
def _acquire_from_a_worker(config_json: str) -> None:
    async def ask() -> None:
        fleet = Fleet(FleetConfig.model_validate_json(config_json))
        async with fleet:
            await fleet.account(SCHEME, ACCOUNT).acquire(max_wait=30)

    asyncio.run(ask())


def _on_each_worker(cluster: LocalCluster) -> list[dict[str, Any]]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return [{"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=False)}
            for node in sorted(cluster.worker_ids())]


async def test_workers_on_every_node_share_one_refresh(
    account_fleet: Fleet, ray_cluster: LocalCluster
) -> None:
    account = account_fleet.account(SCHEME, ACCOUNT)
    config_json = account_fleet.config.model_dump_json()
    remote = [_token_from_a_worker.options(**o).remote(config_json)
              for o in _on_each_worker(ray_cluster)]
    local = [account.access_token() for _ in range(4)]
    tokens = await asyncio.gather(*local, *remote)
    assert set(tokens) == {"access-1"}
    stats = await account.stats()
    assert (stats["refreshes"], stats["generation"]) == (1, 1)


async def test_a_restarted_account_actor_does_not_refresh_again(account_fleet: Fleet) -> None:
    account = account_fleet.account(SCHEME, ACCOUNT)
    assert await account.access_token() == "access-1"
    before = await account.stats()
    actor = ray.get_actor(account_actor_name(SCHEME, ACCOUNT),
                          namespace=account_fleet.config.namespace)
    ray.kill(actor, no_restart=False)  # the process dies; Ray starts it again
    assert await account.access_token() == "access-1"
    after = await account.stats()
    assert after["pid"] != before["pid"]
    assert (after["refreshes"], after["generation"]) == (0, 1)


async def test_the_rate_limit_counts_requests_from_every_node(
    account_fleet: Fleet, ray_cluster: LocalCluster
) -> None:
    account = account_fleet.account(SCHEME, ACCOUNT)
    config_json = account_fleet.config.model_dump_json()
    # Burst 1 at 1 request/s: of three requests from three processes, two must wait.
    await asyncio.gather(
        account.acquire(max_wait=30),
        *[_acquire_from_a_worker.options(**o).remote(config_json)
          for o in _on_each_worker(ray_cluster)],
    )
    assert (await account.stats())["waits"] == 2
