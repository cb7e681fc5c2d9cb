"""Failover: a worker dies, its cameras (and only they) move, streams resume after a marker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from camsdk import Discontinuity, MediaPacket
from camsdk.ray import Fleet

from .conftest import LocalCluster, wait_for_placement

pytestmark = pytest.mark.anyio

#: How long a stream may take to resume after its worker is killed.
RESUME_BOUND = 60.0


@pytest.fixture
async def replacement_worker(
    ray_cluster: LocalCluster, fleet: Fleet
) -> AsyncIterator[None]:
    """After the test, bring the cluster back to two camera workers, placed."""
    yield
    if len(ray_cluster.workers) < 2:
        ray_cluster.add_worker()
    workers = ray_cluster.worker_ids()
    await wait_for_placement(
        fleet, lambda p: len(p) == 20 and set(p.values()) == workers)


async def _video_packets(items: Any, count: int) -> list[MediaPacket]:
    got: list[MediaPacket] = []
    async for item in items:
        if isinstance(item, MediaPacket) and item.kind == "video":
            got.append(item)
            if len(got) >= count:
                break
    return got


@pytest.mark.usefixtures("replacement_worker")
async def test_killing_a_worker_moves_only_its_cameras_and_streams_resume(
    fleet: Fleet, ray_cluster: LocalCluster
) -> None:
    before = await fleet.placement()
    victim = before["rtsp-3"]
    survivor = (ray_cluster.worker_ids() - {victim}).pop()
    async with fleet.camera("rtsp-3") as cam, cam.stream() as s, s.packets() as packets:
        first = await _video_packets(packets, 5)
        ray_cluster.kill_worker(victim)
        killed_at = time.monotonic()
        marker: Discontinuity | None = None
        after: list[MediaPacket] = []
        async for item in packets:
            assert time.monotonic() - killed_at < RESUME_BOUND, "the stream did not resume"
            if isinstance(item, Discontinuity) and item.reason == "reconnect":
                marker = item
            elif isinstance(item, MediaPacket) and item.kind == "video" and marker is not None:
                after.append(item)
                if len(after) >= 5:
                    break
        resumed_in = time.monotonic() - killed_at
        assert packets.failovers == 1
    assert marker is not None
    assert after[0].keyframe
    assert after[0].dts is not None and first[-1].dts is not None
    assert after[0].dts > first[-1].dts, "timestamps must keep increasing across the failover"
    assert resumed_in < RESUME_BOUND

    placement = await wait_for_placement(fleet, lambda p: victim not in p.values() and len(p) == 20)
    moved = {name for name in before if before[name] != placement[name]}
    assert moved == {name for name, node in before.items() if node == victim}
    assert set(placement.values()) == {survivor}
