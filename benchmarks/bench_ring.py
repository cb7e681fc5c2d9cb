"""Ring: time from ``open()`` to a live view's first keyframe; ding -> ``cam.events()`` latency.

Against the loopback `RingCloud` simulator (one process; its WebRTC answerer
sends the virtual scene's 320x240 H.264 loop, GOP 1 s):

- **live view start**: ``camsdk.open("ring://...")`` -> connect (session,
  device list) -> ``stream()`` -> the first keyframe, through Ring's
  signalling (ticket, websocket, ``live_view`` offer, trickled ICE,
  ``activate_session``), DTLS and the pipeline. The baseline is the floor
  a user writing bare aiortc would hit: camsdk's `WebRtcSession` straight
  against the same answerer, no signalling, no facade (ratio = camsdk /
  bare);
- **event latency**: ``RingCloud.ding()`` -> ``cam.events()`` yielding the
  start, over the push channel and over polling (``poll_interval``; the
  driver's default is 5 s, 1 s here; each ding at a random moment of the
  poll cycle), p50/p99.

    python benchmarks/bench_ring.py [--runs 10] [--dings 100] [--poll-dings 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import camsdk
from camsdk.cloud import MemoryTokenStore, login
from camsdk.drivers.virtual._scene import LoopParams, encoded_loop
from camsdk.testing._ring_cloud import RingCloud

PARAMS = LoopParams(width=320, height=240, fps=15, gop=15, seconds=2)
CONFIG = {"backoff_base": 0.05, "backoff_cap": 0.3}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def _logged_in(cloud: RingCloud) -> dict[str, Any]:
    store = MemoryTokenStore()
    flow = await login("ring", account="home", store=store,
                       credentials=camsdk.Credentials(cloud.email, cloud.password),
                       **cloud.options)
    await flow.complete(cloud.code)
    return {**cloud.options, "token_store": store, "config": CONFIG}


async def live_view_start(runs: int) -> list[float]:
    """Seconds from ``camsdk.open`` to the first keyframe of a Ring live view."""
    times = []
    async with RingCloud(loop_params=PARAMS) as cloud:
        options = await _logged_in(cloud)
        url = f"ring://home/{cloud.device(0).key}"
        for _ in range(runs):
            started = time.perf_counter()
            async with camsdk.open(url, **options) as cam:
                async with cam.stream() as stream, stream.packets(audio=False) as it:
                    async for item in it:
                        if isinstance(item, camsdk.MediaPacket) and item.keyframe:
                            times.append(time.perf_counter() - started)
                            break
    return times


async def bare_webrtc_start(runs: int) -> list[float]:
    """Seconds to the first keyframe with a bare session on the same answerer (no signalling)."""
    from camsdk.driver import webrtc
    from camsdk.testing import WebRtcAnswerer

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        async with WebRtcAnswerer(params=PARAMS, audio="opus") as peer:
            session = webrtc.WebRtcSession(host_addresses=("127.0.0.1",), audio_codecs=("opus",))
            upstream = webrtc.WebRtcUpstream(session)
            try:
                offer = await session.create_offer(audio="sendrecv")
                await session.accept_answer(await peer.answer(offer))
                await upstream.start(timeout=10)
                times.append(time.perf_counter() - started)
            finally:
                await upstream.aclose()
    return times


async def event_latency(dings: int, *, poll: bool) -> list[float]:
    """Milliseconds from ``RingCloud.ding()`` to ``cam.events()`` yielding the start."""
    latencies = []
    async with RingCloud(push_heartbeat=0.5) as cloud:
        options = await _logged_in(cloud)
        options.update(events="poll" if poll else "auto", poll_interval=1.0, push_health=5.0)
        async with camsdk.open(f"ring://home/{cloud.device(0).key}", **options) as cam, \
                cam.events(kinds={camsdk.EventKind.DOORBELL}) as events:
            it = aiter(events)
            await cloud.wait_until(lambda c: len(c.poll_times) >= 1)
            if not poll:  # wait until a ding comes by push
                while True:
                    cloud.ding(0, "ding")
                    event = await asyncio.wait_for(anext(it), 10)
                    await asyncio.wait_for(anext(it), 10)  # its end
                    if event.extra["source"] == "push":
                        break
            for _ in range(dings):
                if poll:
                    # A ding at a random moment of the poll cycle, as a visitor would ring.
                    await asyncio.sleep(random.uniform(0.0, 1.0))
                started = time.perf_counter()
                ding = cloud.ding(0, "ding")
                event = await asyncio.wait_for(anext(it), 10)
                latencies.append((time.perf_counter() - started) * 1000)
                assert event.event_id == ding and event.active
                assert event.extra["source"] == ("poll" if poll else "push")
                await asyncio.wait_for(anext(it), 10)  # the end of the momentary ding
    return latencies


async def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--dings", type=int, default=100)
    parser.add_argument("--poll-dings", type=int, default=30)
    args = parser.parse_args()
    await asyncio.to_thread(encoded_loop, PARAMS)  # encoded once, outside the timings

    ring = await live_view_start(args.runs)
    bare = await bare_webrtc_start(args.runs)
    print(f"live view start, open() -> first keyframe ({args.runs} runs): "
          f"median {statistics.median(ring) * 1000:.0f} ms, max {max(ring) * 1000:.0f} ms")
    print(f"bare WebRtcSession on the same answerer, no signalling: median "
          f"{statistics.median(bare) * 1000:.0f} ms; ratio camsdk/bare "
          f"{statistics.median(ring) / statistics.median(bare):.2f}")
    push = await event_latency(args.dings, poll=False)
    polled = await event_latency(args.poll_dings, poll=True)
    print(f"ding -> cam.events() over push ({args.dings} dings): p50 {_pct(push, 0.5):.1f} ms, "
          f"p99 {_pct(push, 0.99):.1f} ms")
    print(f"ding -> cam.events() over polling every 1 s ({args.poll_dings} dings): "
          f"p50 {_pct(polled, 0.5):.0f} ms, p99 {_pct(polled, 0.99):.0f} ms; "
          f"polling/push p50 {_pct(polled, 0.5) / _pct(push, 0.5):.0f}x")


if __name__ == "__main__":
    asyncio.run(main())
