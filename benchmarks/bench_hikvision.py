"""Hikvision: alert latency, events/s through one 32-channel hub, hub start-up.

    python benchmarks/bench_hikvision.py [--events 400] [--flood 20000] [--runs 5]

Everything runs against `camsdk.testing._hikvision_device.HikvisionDevice`
on 127.0.0.1 (ISAPI over loopback HTTP with Digest auth); nothing leaves the
machine. The simulator and camsdk share one process and one event loop, so
the device's own work (rendering XML, writing) is counted in every figure.

1. **Event latency**: from `HikvisionDevice.emit` to a ``cam.events()``
   consumer receiving the event, p50/p99 over ``--events`` alerts sent
   20 ms apart. The reference is what a user would otherwise write: httpx
   streaming the alert stream into the kit's `MultipartParser`, which keeps
   each part until the next boundary arrives (so its latency is the gap to
   the next alert, or to the next heartbeat after the last one).
2. **Events/s, one hub, 32 channels**: an NVR with 32 cameras, every camera
   of ``camsdk.hub(...)`` subscribed to its events, ``--flood`` alerts
   spread over the channels as fast as the simulator writes them; the rate
   at which all subscribers together receive them as events (each channel's
   motion starting and ending in turn; one shared alert stream).
3. **Start-up**: ``async with camsdk.hub(...)`` to all 32 channels listed,
   and to all 32 cameras connected, median of ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

import camsdk
from camsdk.driver import MultipartParser, boundary_from_content_type
from camsdk.testing import HikvisionDevice

USER, PASSWORD = "admin", "bench-Pw-1"
CREDS = camsdk.Credentials(USER, PASSWORD)
GAP = 0.02


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def camsdk_latency(device: HikvisionDevice, count: int) -> list[float]:
    sent: dict[int, float] = {}
    latencies: list[float] = []
    url = device.camera_url(1) + "?event_timeout=600"
    async with camsdk.open(url, credentials=CREDS) as cam:
        async with cam.events(kinds="motion") as events:
            await device.wait_until(lambda d: d.alert_streams >= 1, timeout=10)

            async def emit() -> None:
                for n in range(count):
                    sent[n] = time.perf_counter()
                    # A fresh region each time: every alert starts a new activity.
                    device.emit("VMD", region=str(n))
                    await asyncio.sleep(GAP)

            task = asyncio.ensure_future(emit())
            async for event in events:
                if event.active:
                    latencies.append(time.perf_counter() - sent[int(event.extra["region"])])
                if len(latencies) == count:
                    break
            await task
    return latencies


async def reference_latency(device: HikvisionDevice, count: int) -> list[float]:
    """httpx + DigestAuth streaming the alert stream into the kit's MultipartParser."""
    sent: dict[int, float] = {}
    latencies: list[float] = []
    auth = httpx.DigestAuth(USER, PASSWORD)
    base = device.url.replace("hikvision", "http")
    async with httpx.AsyncClient(base_url=base, auth=auth, timeout=30) as client:
        async with client.stream("GET", "/ISAPI/Event/notification/alertStream") as response:
            parser = MultipartParser(
                boundary_from_content_type(response.headers["content-type"]))

            async def emit() -> None:
                await device.wait_until(lambda d: d.alert_streams >= 1, timeout=10)
                for n in range(count):
                    sent[n] = time.perf_counter()
                    device.emit("VMD", region=str(n))
                    await asyncio.sleep(GAP)
                device.emit("VMD", region="end")  # releases the last part held by the parser

            task = asyncio.ensure_future(emit())
            async for chunk in response.aiter_raw():
                for part in parser.feed(chunk):
                    body = part.body
                    if b"<eventType>VMD" not in body:
                        continue
                    region = body.split(b"<regionID>", 1)[1].split(b"<", 1)[0].decode()
                    if region != "end":
                        latencies.append(time.perf_counter() - sent[int(region)])
                if len(latencies) == count:
                    break
            await task
    return latencies


async def bench_latency(count: int) -> None:
    async with HikvisionDevice(username=USER, password=PASSWORD, heartbeat=10.0) as device:
        ours = await camsdk_latency(device, count)
    async with HikvisionDevice(username=USER, password=PASSWORD, heartbeat=10.0) as device:
        reference = await reference_latency(device, count)
    print(f"event latency over {count} alerts {GAP * 1000:.0f} ms apart (emit -> consumer):")
    print(f"  camsdk cam.events():             p50 {ms(pct(ours, 0.5))}  "
          f"p99 {ms(pct(ours, 0.99))}")
    print(f"  httpx + MultipartParser (ref):   p50 {ms(pct(reference, 0.5))}  "
          f"p99 {ms(pct(reference, 0.99))}")
    print(f"  ratio ref/camsdk at p50: {pct(reference, 0.5) / pct(ours, 0.5):.1f}x")


async def bench_flood(total: int) -> None:
    async with HikvisionDevice(username=USER, password=PASSWORD, kind="nvr", channels=32,
                               ptz=False, talk=None, heartbeat=10.0) as nvr:
        async with camsdk.hub(nvr.url, credentials=CREDS) as hub:
            cams = await hub.cameras()
            await asyncio.gather(*(c.connect() for c in cams))
            received = 0
            done = asyncio.Event()
            streams = [c.events(kinds="motion") for c in cams]

            async def consume(stream: object) -> None:
                nonlocal received
                async for _ in stream:  # type: ignore[attr-defined]
                    received += 1
                    if received >= total:
                        done.set()

            tasks = [asyncio.ensure_future(consume(s)) for s in streams]
            await nvr.wait_until(lambda d: d.alert_streams >= 1, timeout=10)
            started = time.perf_counter()
            for n in range(total):
                # Each channel's motion starts and ends in turn: a start, then its end.
                nvr.emit("VMD", channel=n // 2 % 32 + 1, active=n % 2 == 0)
                if n % 256 == 255:
                    await asyncio.sleep(0)  # let the writer and the reader run
            await asyncio.wait_for(done.wait(), timeout=120)
            elapsed = time.perf_counter() - started
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for stream in streams:
                await stream.aclose()
            connects = nvr.alert_connects
    print(f"events/s through one hub, 32 channels, {total} alerts: "
          f"{total / elapsed:,.0f}/s ({elapsed:.2f} s; {connects} alert stream for the NVR; "
          "simulator in the same process)")


async def bench_startup(runs: int) -> None:
    listed: list[float] = []
    connected: list[float] = []
    async with HikvisionDevice(username=USER, password=PASSWORD, kind="nvr", channels=32,
                               ptz=False, talk=None) as nvr:
        for _ in range(runs):
            started = time.perf_counter()
            async with camsdk.hub(nvr.url, credentials=CREDS) as hub:
                cams = await hub.cameras()
                listed.append(time.perf_counter() - started)
                await asyncio.gather(*(c.connect() for c in cams))
                connected.append(time.perf_counter() - started)
                assert len(cams) == 32
            from camsdk.drivers.hikvision._api import forget_refusals

            forget_refusals()
    print(f"hub start-up, 32 channels (median of {runs}): listed {ms(statistics.median(listed))}, "
          f"all 32 cameras connected {ms(statistics.median(connected))}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--flood", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    await bench_latency(args.events)
    await bench_flood(args.flood)
    await bench_startup(args.runs)


if __name__ == "__main__":
    asyncio.run(main())
