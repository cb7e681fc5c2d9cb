"""The fleet on a local Ray cluster against the same work in one process.

    python benchmarks/bench_fleet.py [--seconds 8] [--trials 20] [--size 640x360]

Starts a Ray cluster on loopback (a head and two camera workers, 1 CPU and a
100 MB object store each, dashboard off) and prints, side by side in one run:

1. frames/s delivered to an analytics consumer on the camera's node (a Ray
   task placed with `Fleet.consumer_options`, reading `FleetFrame` arrays
   out of the object store) against the same consumer reading
   ``camsdk.open(url)`` frames in one process; the source is a
   ``virtual://`` camera replaying as fast as it is read (``realtime=0``),
   so both are bound by decode and delivery, not by the camera's clock;
2. events/s through the fleet (published on the camera's actor in bulk,
   received by a proxy on the head node) against one process;
3. failover: a worker holding a streaming camera is killed (no graceful
   shutdown) ``--trials`` times; the time from the kill to the first packet
   after the `Discontinuity`, p50/p99. Node loss is detected by Ray's health
   checks, set here to 0.5 s x 3; a worker is added back after each trial.

Everything runs on this machine: the CPU is shared with the cluster's own
processes (and with whatever else runs), so read the ratios, not the
absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every address on loopback
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                           if p)

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

import camsdk  # noqa: E402
from camsdk import Discontinuity, EventKind, MediaPacket  # noqa: E402
from camsdk.ray import Fleet, FleetConfig, HashRing  # noqa: E402

LABELS = {"camsdk.io/role": "camera"}
NODE = {"num_cpus": 1, "object_store_memory": 100 * 1024 * 1024}
SYSTEM = {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
          "health_check_initial_delay_ms": 0}


def frames_url(size: str) -> str:
    return f"virtual://bench-frames?size={size}&fps=25&gop=25&realtime=0"


async def count_frames(frames: Any, seconds: float) -> tuple[int, float]:
    """Frames read in ``seconds`` after the first one, touching each array like a model would."""
    first = await anext(frames)
    assert first is not None
    count, started = 0, time.perf_counter()
    async for frame in frames:
        if isinstance(frame, Discontinuity):
            continue
        _ = frame.to_ndarray()[0, 0]  # read the pixels, as a model would
        count += 1
        if time.perf_counter() - started >= seconds:
            break
    return count, time.perf_counter() - started


async def local_frames(url: str, seconds: float) -> float:
    async with camsdk.open(url) as cam, cam.stream() as s:
        async with s.frames(format="rgb24") as frames:
            count, took = await count_frames(frames, seconds)
    return count / took


@ray.remote(num_cpus=0)
def fleet_frames(config_json: str, seconds: float) -> float:
    async def run() -> float:
        fleet = Fleet(FleetConfig.model_validate_json(config_json))
        async with fleet, fleet.camera("frames") as cam, cam.stream() as s:
            async with s.frames(format="rgb24", batch=8) as frames:
                count, took = await count_frames(frames, seconds)
        return count / took

    return asyncio.run(run())


CHUNK = 200  # events in flight at once: below the subscriber's queue (256), so none drop


def chunk_events(start: int) -> list[camsdk.CameraEvent]:
    """CHUNK events: starts and ends of CHUNK/2 activities (few open at once), then a marker."""
    events = [camsdk.CameraEvent(kind=EventKind.PERSON, event_id=f"e{i // 2}", zone=f"z{i // 2}",
                                 active=i % 2 == 0)
              for i in range(start, start + CHUNK)]
    return [*events, camsdk.CameraEvent(kind=EventKind.DOORBELL, event_id=f"end{start}")]


async def until_marker(events: Any) -> int:
    got = 0
    async for event in events:
        got += 1
        if event.kind is EventKind.DOORBELL:
            return got
    return got


async def event_rate(publish: Any, events: Any, count: int) -> tuple[int, float]:
    """Publish ``count`` events a chunk at a time, each chunk read back before the next."""
    got, started = 0, time.perf_counter()
    for start in range(0, count, CHUNK):
        reader = asyncio.create_task(until_marker(events))
        await publish(chunk_events(start))
        got += await asyncio.wait_for(reader, 60)
    return got, got / (time.perf_counter() - started)


async def local_event_rate(count: int) -> tuple[int, float]:
    async with camsdk.open("virtual://bench-events?size=160x120") as cam, cam.events() as events:

        async def publish(batch: list[camsdk.CameraEvent]) -> None:
            for event in batch:
                await cam.publish_event(event)

        return await event_rate(publish, events, count)


async def fleet_event_rate(fleet: Fleet, count: int) -> tuple[int, float]:
    async with fleet.camera("events") as cam, cam.events(batch=256) as events:
        return await event_rate(cam.publish_events, events, count)


async def wait_placed(fleet: Fleet, check: Any, timeout: float = 120.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        placement = await fleet.placement()
        if check(placement) or time.monotonic() > deadline:
            return placement
        await asyncio.sleep(0.2)


async def failover_once(fleet: Fleet, cluster: Cluster, workers: list[Any]) -> float:
    node = await fleet.node_of("stream")
    async with fleet.camera("stream") as cam, cam.stream() as s, s.packets() as packets:
        async for item in packets:
            if isinstance(item, MediaPacket):
                break
        victim = next(w for w in workers if w.node_id == node)
        workers.remove(victim)
        cluster.remove_node(victim, allow_graceful=False)
        killed = time.perf_counter()
        marker = False
        async for item in packets:
            if isinstance(item, Discontinuity) and item.reason == "reconnect":
                marker = True
            elif marker and isinstance(item, MediaPacket):
                took = time.perf_counter() - killed
                break
    workers.append(cluster.add_node(labels=dict(LABELS), **NODE))
    # Settled: every camera where the ring of the new workers puts it (rebalance done).
    ring = HashRing({w.node_id for w in workers}, vnodes=fleet.config.fleet.vnodes)
    expected = {c.name: ring.owner(fleet.config.group_of(c)) for c in fleet.config.cameras}
    await wait_placed(fleet, lambda p: p == expected)
    await fleet.camera("stream").connect()  # the moved actor has connected its camera
    return took


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={
        **NODE, "include_dashboard": False, "_system_config": SYSTEM})
    workers = [cluster.add_node(labels=dict(LABELS), **NODE) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level="ERROR", include_dashboard=False)
    config = FleetConfig.model_validate({
        "fleet": {"name": "bench", "node_labels": LABELS, "poll_interval": 0.2},
        "cameras": [
            {"name": "frames", "url": frames_url(args.size)},
            {"name": "events", "url": "virtual://bench-events?size=160x120"},
            {"name": "stream", "url": "virtual://bench-stream?size=320x240&fps=25&gop=25"},
            {"name": "spare", "url": "virtual://bench-spare?size=160x120"},
        ],
    })
    fleet = Fleet(config)
    try:
        await fleet.up(timeout=120)
        print(f"machine: {os.cpu_count()} CPUs, shared with the Ray cluster's processes")

        local_fps = await local_frames(frames_url(args.size), args.seconds)
        options = await fleet.consumer_options("frames")
        fleet_fps = await fleet_frames.options(**options).remote(config.model_dump_json(),
                                                                 args.seconds)
        print(f"frames {args.size} rgb24 to one consumer: one process {local_fps:.0f}/s, "
              f"fleet (consumer on the camera's node) {fleet_fps:.0f}/s "
              f"-> fleet/one process {fleet_fps / local_fps:.2f}")

        local_got, local_eps = await local_event_rate(args.events)
        fleet_got, fleet_eps = await fleet_event_rate(fleet, args.events)
        sent = -(-args.events // CHUNK) * (CHUNK + 1)
        print(f"events to one subscriber ({local_got} / {fleet_got} delivered of "
              f"{sent}): one process {local_eps:.0f}/s, fleet (actor -> proxy on the "
              f"head) {fleet_eps:.0f}/s -> fleet/one process {fleet_eps / local_eps:.2f}")

        rss = (await fleet.stats("spare"))["rss"] / 2**20
        print(f"an idle camera actor (one virtual camera): {rss:.0f} MiB resident")

        times = []
        for trial in range(args.trials):
            took = await failover_once(fleet, cluster, workers)
            times.append(took)
            print(f"  failover {trial + 1}/{args.trials}: {took:.2f} s", flush=True)
        if times:
            print(f"failover (worker killed -> first packet after the Discontinuity), "
                  f"{len(times)} trials: p50 {statistics.median(times):.2f} s, "
                  f"p99 {pct(times, 0.99):.2f} s, max {max(times):.2f} s")
    finally:
        await fleet.down()
        await fleet.aclose()
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--size", default="640x360")
    asyncio.run(main(parser.parse_args()))
