"""Dahua: event latency, hub event throughput with 32 channels, and hub start-up.

    python benchmarks/bench_dahua.py [--events 200] [--burst 3200] [--runs 10]

Everything runs against `camsdk.testing._dahua_device.DahuaDevice` on
127.0.0.1 (CGI over loopback HTTP with Digest, the multipart event stream
with heartbeats); nothing leaves the machine.

1. **Event latency**: from `DahuaDevice.emit` to a ``cam.events()`` consumer
   receiving the event, the attach stream already open, p50/p99 over
   ``--events`` events one at a time. Against python-amcrest (the library
   Home Assistant's Amcrest integration uses), whose ``event_actions`` reads
   the same stream in a thread, when it is installed.
2. **Hub throughput**: a 32-channel recorder, every channel's camera
   subscribed to events through ``camsdk.hub``; ``--burst`` events spread over
   the channels; events per second from the first emit until every camera
   got its share (one device connection serves all 32 cameras). Against
   python-amcrest reading one stream (all channels in one connection, no
   routing) when installed.
3. **Hub start-up**: ``async with camsdk.hub(url)`` to all 32 channels listed
   (``hub.listing()``), median of ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import camsdk
from camsdk import EventKind
from camsdk.testing import DahuaDevice

KINDS = {EventKind.MOTION}
CONFIG = {"request_timeout": 10.0}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def camsdk_latency(device: DahuaDevice, count: int) -> list[float]:
    out = []
    async with camsdk.open(device.camera_url(1), credentials=device.credentials,
                           config=CONFIG) as cam, cam.events(kinds=KINDS) as events:
        await device.wait_until(lambda d: d.event_streams == 1)
        iterator = aiter(events)
        for n in range(count):
            start = time.perf_counter()
            device.emit("VideoMotion", "Pulse", 0, {"seq": n})
            while True:
                event = await anext(iterator)
                if event.active:
                    break
            out.append(time.perf_counter() - start)
    return out


def _amcrest_reader(device: DahuaDevice, loop: asyncio.AbstractEventLoop,
                    queue: asyncio.Queue[float], stop: threading.Event) -> None:
    from amcrest import AmcrestCamera

    camera = AmcrestCamera("127.0.0.1", device.http.port, device.username,
                           device.password).camera
    for _code, _payload in camera.event_actions(["All"]):
        loop.call_soon_threadsafe(queue.put_nowait, time.perf_counter())
        if stop.is_set():
            return


async def amcrest_latency(device: DahuaDevice, count: int) -> list[float] | None:
    try:
        import amcrest  # noqa: F401
    except ImportError:
        return None
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[float] = asyncio.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=_amcrest_reader, args=(device, loop, queue, stop),
                              daemon=True)
    thread.start()
    await device.wait_until(lambda d: d.event_streams == 1, timeout=10)
    out = []
    for n in range(count):
        start = time.perf_counter()
        device.emit("VideoMotion", "Start", 0, {"seq": n})
        out.append(await asyncio.wait_for(queue.get(), 10) - start)
    stop.set()
    device.emit("VideoMotion", "Stop", 0)  # wakes the reader so it sees the stop
    await device.http.aclose()  # ends its blocking read
    thread.join(5)
    return out


async def bench_latency(count: int) -> None:
    async with DahuaDevice(rtsp=False) as device:
        ours = await camsdk_latency(device, count)
    async with DahuaDevice(rtsp=False) as device:
        theirs = await amcrest_latency(device, count)
    print(f"event latency, emit -> consumer, {count} events")
    print(f"  camsdk       p50 {ms(pct(ours, 0.5))}   p99 {ms(pct(ours, 0.99))}")
    if theirs:
        print(f"  python-amcrest p50 {ms(pct(theirs, 0.5))}   p99 {ms(pct(theirs, 0.99))}"
              f"   ratio p50 {pct(ours, 0.5) / pct(theirs, 0.5):.2f}x")
    else:
        print("  python-amcrest not installed: no comparison")


async def bench_throughput(burst: int) -> None:
    channels = 32
    async with DahuaDevice(kind="nvr", channels=channels, rtsp=False) as device:
        async with camsdk.hub(device.url, credentials=device.credentials,
                              config=CONFIG) as hub:
            cams = await hub.cameras()
            for cam in cams:
                await cam.connect()
            streams = [cam.events(kinds=KINDS) for cam in cams]
            for stream in streams:
                await stream.__aenter__()
            await device.wait_until(lambda d: d.event_streams == 1)
            per_channel = burst // channels
            done = asyncio.Event()
            remaining = [per_channel * channels]

            async def drain(stream: camsdk.EventStream) -> None:
                got = 0
                async for event in stream:
                    if event.active:
                        got += 1
                        remaining[0] -= 1
                        if remaining[0] == 0:
                            done.set()
                    if got == per_channel:
                        return

            tasks = [asyncio.create_task(drain(s)) for s in streams]
            start = time.perf_counter()
            for n in range(per_channel):
                for channel in range(channels):
                    # Start then Stop: distinct activities, never deduplicated.
                    device.emit("VideoMotion", "Start", channel, {"seq": n})
                    device.emit("VideoMotion", "Stop", channel, {"seq": n})
                while device.bus.backlog() > 1000:  # the simulator's queue holds 4096
                    await asyncio.sleep(0.001)
            await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - start
            await asyncio.gather(*tasks)
            connections = device.event_streams
            for stream in streams:
                await stream.aclose()
    delivered = per_channel * channels * 2
    print(f"hub event throughput, {channels} channels, {delivered} events (starts and ends)")
    print(f"  camsdk       {delivered / elapsed:,.0f} events/s routed to the right camera "
          f"({connections} device connection)")


async def bench_startup(runs: int) -> None:
    async with DahuaDevice(kind="nvr", channels=32, rtsp=False) as device:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            async with camsdk.hub(device.url, credentials=device.credentials,
                                  config=CONFIG) as hub:
                listing = await hub.listing()
                assert len(listing) == 32
            times.append(time.perf_counter() - start)
    print(f"hub start-up, 32 channels: async with camsdk.hub(...) -> all channels listed, "
          f"median of {runs}")
    print(f"  camsdk       {ms(statistics.median(times))}   (first {ms(times[0])})")


async def main_async(args: argparse.Namespace) -> None:
    await bench_latency(args.events)
    await bench_throughput(args.burst)
    await bench_startup(args.runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--burst", type=int, default=3200)
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
