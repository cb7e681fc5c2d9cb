"""A consumer slower than the camera costs bounded memory: in the actor and in the proxy."""

from __future__ import annotations

import asyncio
import time

import pytest

from camsdk import Discontinuity
from camsdk.ray import Fleet, FleetConfig

pytestmark = pytest.mark.anyio

QUEUE = 8
BATCH = 4
#: Items an iterator may hold in the actor beyond the facade's queue: one batch.
ACTOR_BOUND = BATCH
#: Generous: a leak of every packet for the test's length would show, noise would not.
RSS_SLACK = 32 * 1024 * 1024


async def test_a_slow_consumer_drops_in_the_actor_and_grows_no_memory(fleet: Fleet) -> None:
    camera = "virtual-11"  # 10 fps; the consumer below takes 4 packets/s
    async with fleet.camera(camera) as cam, cam.stream() as s:
        async with s.packets(queue_size=QUEUE, batch=BATCH, audio=False) as packets:
            await anext(packets)
            start = await fleet.stats(camera)
            markers = 0
            for _ in range(40):
                item = await anext(packets)
                markers += isinstance(item, Discontinuity) and item.reason == "overflow"
                assert len(packets._items) <= BATCH  # the proxy holds at most one batch
                await asyncio.sleep(0.25)  # the consumer's own work: slower than the camera
            end = await fleet.stats(camera)
    assert end["dropped"] > 0, "the facade's queue must have dropped, not grown"
    assert markers > 0, "the consumer is told about the gap"
    assert end["buffered"] <= ACTOR_BOUND
    assert end["rss"] - start["rss"] < RSS_SLACK


async def test_closing_a_remote_stream_releases_its_handle_in_the_actor(fleet: Fleet) -> None:
    async with fleet.camera("virtual-12") as cam:
        before = (await fleet.stats("virtual-12"))["handles"]
        stream = await cam.stream().open()
        assert (await fleet.stats("virtual-12"))["handles"] == before + 1
        await stream.aclose()
        assert (await fleet.stats("virtual-12"))["handles"] == before


async def test_a_stream_its_proxy_abandoned_is_closed_after_the_idle_timeout(
    ray_cluster: object,
) -> None:
    config = FleetConfig.model_validate({
        "fleet": {"name": "idle", "node_labels": {"camsdk.io/role": "camera"},
                  "idle_timeout": 1.0},
        "cameras": [{"name": "lonely", "url": "virtual://lonely?size=160x120&fps=5"}],
    })
    fleet = Fleet(config)
    await fleet.up(timeout=60)
    try:
        async with fleet.camera("lonely") as cam:
            await cam.stream().open()  # never read, never closed: its proxy "went away"
            assert (await fleet.stats("lonely"))["handles"] == 1
            deadline = time.monotonic() + 30
            while (await fleet.stats("lonely"))["handles"] and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert (await fleet.stats("lonely"))["handles"] == 0
    finally:
        await fleet.down()
