"""UniFi Protect: event latency, hub start-up with 50 cameras, websocket packets decoded per second.

Against the loopback `UnifiConsole` simulator (TLS, pinned certificate). Ratios
compare with the plain-library baseline a user would otherwise write: ``json``
+ ``zlib`` decoding of the same packets without camsdk's bounds.

    python benchmarks/bench_unifi.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import zlib

import camsdk
from camsdk.cloud import MemoryTokenStore
from camsdk.drivers.unifi._codec import UpdatePacket, decode_packet, encode_packet
from camsdk.testing import UnifiConsole

CREDS = camsdk.Credentials("admin", "bench-pw")


def _options() -> dict[str, object]:
    return {"credentials": CREDS, "token_store": MemoryTokenStore(), "login_spacing": 0}


async def event_latency(samples: int = 200) -> tuple[float, float]:
    """Milliseconds from the simulator emitting an event to ``cam.events()`` yielding it."""
    async with UnifiConsole(cameras=1, password="bench-pw") as console:
        async with camsdk.open(console.camera_url(0), **_options()) as cam, \
                cam.events(kinds={camsdk.EventKind.MOTION}) as events:
            await console.wait_until(lambda c: c.websockets >= 1)
            it = aiter(events)
            latencies = []
            for _ in range(samples):
                started = time.perf_counter()
                console.start_event(0, "motion")
                await asyncio.wait_for(anext(it), 5)
                latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


async def hub_startup(cameras: int = 50) -> float:
    """Seconds from ``async with camsdk.hub(...)`` to every camera listed (first login included)."""
    async with UnifiConsole(cameras=cameras, password="bench-pw") as console:
        started = time.perf_counter()
        async with camsdk.hub(console.url, **_options()) as hub:
            listing = await hub.listing()
            elapsed = time.perf_counter() - started
        assert len(listing) == cameras
    return elapsed


def decode_rate(count: int = 50_000) -> tuple[float, float]:
    """Packets per second decoded by camsdk's codec and by bare json+zlib."""
    packet = UpdatePacket({"action": "update", "newUpdateId": "u" * 36, "modelKey": "event",
                           "id": "e" * 24},
                          {"type": "smartDetectZone", "smartDetectTypes": ["person"],
                           "score": 88, "end": None})
    wire = encode_packet(packet, compress=True)
    started = time.perf_counter()
    for _ in range(count):
        decode_packet(wire)
    ours = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(count):
        size = int.from_bytes(wire[4:8], "big")
        json.loads(zlib.decompress(wire[8:8 + size]))
        rest = wire[8 + size:]
        json.loads(zlib.decompress(rest[8:]))
    bare = count / (time.perf_counter() - started)
    return ours, bare


async def main() -> None:
    """Print the figures."""
    p50, p99 = await event_latency()
    print(f"event latency simulator -> cam.events(): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    startup = await hub_startup(50)
    print(f"hub start-up, 50 cameras listed (login + pin + bootstrap): {startup * 1000:.0f} ms")
    ours, bare = decode_rate()
    print(f"updates websocket packets decoded: {ours:,.0f}/s (bare json+zlib {bare:,.0f}/s, "
          f"ratio {ours / bare:.2f})")


if __name__ == "__main__":
    asyncio.run(main())
