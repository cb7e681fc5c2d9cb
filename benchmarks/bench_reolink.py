"""Reolink: event latency, events per second of a 32-channel hub, hub start-up.

    python benchmarks/bench_reolink.py [--events 100] [--seconds 5] [--runs 10]

Everything runs against `camsdk.testing._reolink_device.ReolinkDevice` on
127.0.0.1 (the JSON API over loopback HTTP, ONVIF notifications from the
simulator's `OnvifDevice`); nothing leaves the machine.

1. **Event latency**: from the simulator changing a state (``set_state``)
   to a ``cam.events()`` consumer receiving the start or end, p50/p99 over
   ``--events`` changes, for each way the driver sees events: state polling
   every 0.2 s and every 1 s (the default), and polling woken by ONVIF
   notifications (poll interval 30 s, so only the trigger can be quick).
2. **Events per second** one hub sustains with 32 channels: every channel's
   motion and person state flip together, the consumers of all 32 cameras
   wait for the 64 events, repeat for ``--seconds``; CPU per event is the
   process time over the events.
3. **Start-up**: ``async with camsdk.hub(...)`` to every channel listed
   (``hub.cameras()``), and then to all 32 cameras connected, median of
   ``--runs``. The ratio is against the same code sending one command per
   request (what a per-command client does): batching is the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import camsdk
from camsdk import EventKind
from camsdk.drivers.reolink import _api
from camsdk.testing import ReolinkDevice

USER, PASSWORD = "admin", "bench-pw"
CREDS = camsdk.Credentials(USER, PASSWORD)
DEVICE_KINDS = set(EventKind) - {EventKind.CONNECTION, EventKind.STREAM_STATE}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency(events: int, *, poll: float, onvif: bool) -> list[float]:
    seen: list[float] = []
    async with ReolinkDevice(username=USER, password=PASSWORD, onvif=onvif) as device:
        async with camsdk.open(device.url, credentials=CREDS, poll_interval=poll) as cam:
            async with cam.events(kinds=DEVICE_KINDS) as stream:
                if onvif:
                    async with asyncio.timeout(10):
                        await device.onvif.wait_until(lambda d: d.subscriptions >= 1)
                iterator = aiter(stream)
                on = False
                for _ in range(events):
                    on = not on
                    started = time.perf_counter()
                    device.set_state(0, "md", on)
                    async with asyncio.timeout(poll * 3 + 10):
                        event = await anext(iterator)
                    seen.append((time.perf_counter() - started) * 1000.0)
                    assert event.active is on
                    if onvif:
                        assert event.extra["source"] == "onvif"
    return seen


async def throughput(seconds: float) -> tuple[float, float, int]:
    async with ReolinkDevice(username=USER, password=PASSWORD, channels=32) as device:
        async with camsdk.hub(device.url, credentials=CREDS, poll_interval=0.05) as hub:
            cams = await hub.cameras()
            for cam in cams:
                await cam.connect()
            streams = [cam.events(kinds=DEVICE_KINDS) for cam in cams]
            iterators = [aiter(s) for s in streams]
            total = 0
            on = False
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                while time.perf_counter() - wall0 < seconds:
                    on = not on
                    for channel in range(32):
                        device.set_state(channel, "md", on)
                        device.set_state(channel, "people", on)
                    for iterator in iterators:
                        for _ in range(2):
                            async with asyncio.timeout(10):
                                await anext(iterator)
                            total += 1
            finally:
                for stream in streams:
                    await stream.aclose()
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
    return total / wall, cpu / total * 1e6, total


async def startup(runs: int) -> tuple[float, float]:
    listed: list[float] = []
    connected: list[float] = []
    async with ReolinkDevice(username=USER, password=PASSWORD, channels=32) as device:
        for _ in range(runs):
            started = time.perf_counter()
            async with camsdk.hub(device.url, credentials=CREDS) as hub:
                cams = await hub.cameras()
                listed.append(time.perf_counter() - started)
                for cam in cams:
                    await cam.connect()
                connected.append(time.perf_counter() - started)
    return statistics.median(listed) * 1000, statistics.median(connected) * 1000


def show(name: str, values: list[float]) -> None:
    print(f"  {name:<34} p50 {pct(values, 0.5):8.1f} ms   p99 {pct(values, 0.99):8.1f} ms"
          f"   (n={len(values)})")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    print("1. event latency, simulator state change -> cam.events() yields")
    show("ONVIF-triggered poll", await latency(args.events, poll=30.0, onvif=True))
    show("poll every 0.2 s", await latency(args.events, poll=0.2, onvif=False))
    show("poll every 1 s (default)", await latency(max(10, args.events // 5), poll=1.0,
                                                   onvif=False))

    print("2. one hub, 32 channels, motion+person flipping on all channels")
    rate, cpu_us, total = await throughput(args.seconds)
    print(f"  {rate:,.0f} events/s sustained ({total} events), {cpu_us:.0f} us CPU per event "
          "(simulator included)")

    print("3. start-up of a 32-channel NVR")
    listed, connected = await startup(args.runs)
    original = _api.MAX_BATCH
    _api.MAX_BATCH = 1
    try:
        listed_1, connected_1 = await startup(args.runs)
    finally:
        _api.MAX_BATCH = original
    print(f"  hub open -> 32 channels listed     {listed:7.1f} ms   "
          f"(one command per request: {listed_1:7.1f} ms, x{listed_1 / listed:.1f})")
    print(f"  ... -> all 32 cameras connected    {connected:7.1f} ms   "
          f"(one command per request: {connected_1:7.1f} ms, x{connected_1 / connected:.1f})")


def run(**_: Any) -> None:
    asyncio.run(main())


if __name__ == "__main__":
    run()
