"""In-process event pipeline throughput: normalise + coalesce + fan-out to N subscribers.

    python benchmarks/bench_events.py [--events 200000] [--subscribers 10]

Publishes a start/end mix over 500 zones (every event passes dedupe, every
start arms a hold timer and gets a derived id, every end is coalesced onto
its start) and reads it back from N subscribers concurrently. Prints events/s
(each event delivered to every subscriber), deliveries/s, the publish-to-
receive latency p50/p99, and drops (should be 0). Nothing leaves the process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camsdk._events import EventPipeline, EventSubscription
from camsdk._models import CameraEvent, EventKind

ZONES = 500
BATCH = 128  # events published between yields to the consumers


def build_events(count: int) -> list[CameraEvent]:
    """A repeating pattern: ZONES starts, then their ZONES ends."""
    kinds = (EventKind.MOTION, EventKind.PERSON, EventKind.VEHICLE)
    out = []
    for i in range(count):
        zone = i % ZONES
        out.append(
            CameraEvent(
                kind=kinds[zone % 3],
                zone=f"z{zone}",
                active=(i // ZONES) % 2 == 0,
                score=0.8,
                topic="tns1:RuleEngine/CellMotionDetector/Motion",
            )
        )
    return out


async def consume(sub: EventSubscription, sent_at: list[float], lat: list[float]) -> int:
    """Read until the pipeline closes; time every 8th event (timing must not dominate)."""
    received = 0
    clock = time.perf_counter
    async for _ in sub:
        # Unfiltered subscribers see events in publish order: the k-th received
        # is the k-th published, shifted by what was dropped.
        if not received & 7:
            k = received + sub.dropped
            if sent_at[k]:
                lat.append(clock() - sent_at[k])
        received += 1
    return received


async def run(total: int, subscribers: int, queue_size: int) -> dict[str, float]:
    pattern = build_events(min(total, 20 * ZONES))
    gc.collect()
    gc.freeze()  # the prebuilt events are not garbage; keep the collector off them
    # hold far beyond the run: expiry is measured by the tests, not here.
    pipeline = EventPipeline(camera_id="bench", source=None, hold=3600, queue_size=queue_size)
    subs = [pipeline.subscribe() for _ in range(subscribers)]
    sent_at = [0.0] * total
    latencies: list[list[float]] = [[] for _ in subs]
    consumers = [
        asyncio.create_task(consume(s, sent_at, lat))
        for s, lat in zip(subs, latencies, strict=True)
    ]
    await asyncio.sleep(0)
    clock = time.perf_counter
    cpu_started = time.process_time()
    started = clock()
    publish = pipeline.publish_nowait
    n = len(pattern)
    for i in range(total):
        if not i & 7:
            sent_at[i] = clock()
        publish(pattern[i % n])
        if i % BATCH == BATCH - 1:
            await asyncio.sleep(0)
    duplicates = pipeline.duplicates
    await pipeline.aclose()  # subscribers drain what is queued, then stop
    received = await asyncio.gather(*consumers)
    elapsed = clock() - started
    cpu = time.process_time() - cpu_started
    gc.unfreeze()
    all_lat = sorted(x for lat in latencies for x in lat)
    return {
        "events_per_s": total / elapsed,
        "events_per_cpu_s": total / cpu,
        "deliveries_per_s": sum(received) / elapsed,
        "p50_us": statistics.median(all_lat) * 1e6,
        "p99_us": all_lat[int(len(all_lat) * 0.99) - 1] * 1e6,
        "max_us": all_lat[-1] * 1e6,
        "dropped": sum(s.dropped for s in subs),
        "duplicates": duplicates,
        "elapsed_s": elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument("--queue-size", type=int, default=1024)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs; the best is reported (shared CPUs are noisy)"
    )
    args = parser.parse_args()
    runs = [
        asyncio.run(run(args.events, args.subscribers, args.queue_size)) for _ in range(args.repeat)
    ]
    r = max(runs, key=lambda x: x["events_per_s"])
    median = statistics.median(x["events_per_s"] for x in runs)
    print(
        f"event pipeline: {args.events} events -> {args.subscribers} subscribers, "
        f"best of {args.repeat} (median {median:,.0f} events/s)"
    )
    print(
        f"  throughput   {r['events_per_s']:>12,.0f} events/s "
        f"({r['deliveries_per_s']:,.0f} deliveries/s; "
        f"{r['events_per_cpu_s']:,.0f} events per CPU-second)"
    )
    print(
        f"  latency      p50 {r['p50_us']:.1f} us   p99 {r['p99_us']:.1f} us   "
        f"max {r['max_us']:.1f} us"
    )
    print(
        f"  dropped      {r['dropped']}   duplicates {r['duplicates']}   "
        f"elapsed {r['elapsed_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
