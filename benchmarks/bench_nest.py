"""Google Nest: an hour of live-stream leases on a fake clock, and open -> first keyframe.

Against the loopback `NestCloud` simulator (``camsdk.testing._nest_cloud``):

1. **A simulated hour** of one viewer on a wired camera (leases extended) and
   on a battery camera (extension refused, the stream replaced), with
   Google's lease terms (5 minutes, renewed 60 s before expiry). Time is a
   fake clock shared by the driver's lease keeper, quotas and the
   simulator, so the hour passes in well under a second; the SDM calls are
   real HTTP to the simulator. Media is a stand-in source (the hour is
   about leases, not packets). Reported: stream gaps from expiry (streams
   that expired while in use: must be 0), extend calls against the number
   an hour needs, streams generated.
2. **Open -> first keyframe**, real time, median of a few runs:
   ``camsdk.open(...)`` entered to the first video keyframe out of
   ``stream.packets()``, for the WebRTC camera and the RTSP camera; the
   ratio is WebRTC / RTSP.

    python benchmarks/bench_nest.py
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from fractions import Fraction
from typing import Any

import camsdk
from camsdk.cloud import MemoryTokenStore, RateLimiter
from camsdk.driver import MediaPacket, StreamEndedError, StreamInfo
from camsdk.drivers.nest._quota import QuotaWindows
from camsdk.drivers.nest._streams import StreamLeases
from camsdk.testing._nest_cloud import NestCloud, SimDevice

HOUR = 3600.0
LEASE = 300.0
RENEW = 60.0


class FakeClock:
    """Virtual seconds; a sleeper wakes at once (the keeper is the only one that sleeps).

    Sleeps reaching past ``horizon`` never wake: the hour is over and the
    benchmark closes the stream.
    """

    def __init__(self, horizon: float, on_advance: Any) -> None:
        self.now = 0.0
        self.horizon = horizon
        self.done = asyncio.Event()
        self._on_advance = on_advance

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = self.now + max(0.0, seconds)
        if wake >= self.horizon:
            self.now = self.horizon
            self._on_advance()
            self.done.set()
            await asyncio.Event().wait()  # the hour is over: cancelled by the close
        self.now = wake
        self._on_advance()
        await asyncio.sleep(0)


class Standin:
    """A live source that yields nothing until its lease closes it (no media needed)."""

    live = True
    finite = False
    info = StreamInfo(codec="h264", width=320, height=240, fps=15.0,
                      time_base=Fraction(1, 90000))

    def __init__(self) -> None:
        self._closed = asyncio.Event()

    def __aiter__(self) -> Standin:
        return self

    async def __anext__(self) -> MediaPacket:
        await self._closed.wait()
        raise StreamEndedError("the lease closed the stand-in")

    async def aclose(self) -> None:
        self._closed.set()


async def simulated_hour(battery: bool) -> dict[str, float]:
    """One viewer for an hour: gaps from expiry, extend calls, streams generated."""
    device = SimDevice("Cam", "CAMERA", "Bench Camera", "Hall", protocol="RTSP",
                       battery=battery)
    clock_box: dict[str, FakeClock] = {}
    sim = NestCloud(devices=[device], stream_ttl=LEASE, access_ttl=10 * HOUR,
                    clock=lambda: clock_box["fake"].now if "fake" in clock_box else 0.0)
    fake = FakeClock(HOUR, on_advance=lambda: sim.streams.sweep())
    clock_box["fake"] = fake
    async with sim:
        store = MemoryTokenStore()
        await store.save(sim.tokens())
        options = {**sim.options(), "token_store": store, "credentials": sim.credentials,
                   "renew_before": RENEW}
        async with camsdk.open(sim.camera_url(device), **options) as cam:
            driver = cam._driver  # type: ignore[attr-defined]
            account = driver.account
            # The account's own budgets move with the fake clock too.
            account.quota = QuotaWindows(clock=fake.clock, sleep=fake.sleep)
            account.limiter = RateLimiter(rate=5.0, burst=10, clock=fake.clock,
                                          sleep=fake.sleep)
            account.cloud.limiter = account.limiter
            leases = StreamLeases(driver, account, driver.device, clock=fake.clock,
                                  sleep=fake.sleep, wall=sim.now)
            replaced_at: list[float] = []

            async def view() -> None:
                while True:
                    lease = await leases.rtsp(open_inner=lambda source: _standin())
                    try:
                        async for _ in lease:
                            pass
                    except StreamEndedError:
                        replaced_at.append(fake.now)
                    finally:
                        await lease.aclose()

            viewer = asyncio.ensure_future(view())
            await asyncio.wait_for(fake.done.wait(), 60)
            viewer.cancel()
            try:
                await viewer
            except asyncio.CancelledError:
                pass
        sim.streams.sweep()
        return {"lapsed": sim.streams.lapsed, "extend_calls": sim.commands["ExtendRtspStream"],
                "extended": sim.streams.extended, "generated": sim.commands["GenerateRtspStream"],
                "stopped": sim.commands["StopRtspStream"], "replaced": len(replaced_at)}


async def _standin() -> Standin:
    return Standin()


async def first_keyframe(device: str, runs: int = 5) -> list[float]:
    """Milliseconds from entering ``camsdk.open`` to the first keyframe, per run."""
    out = []
    async with NestCloud() as sim:
        for _ in range(runs):
            store = MemoryTokenStore()
            await store.save(sim.tokens())
            options = {**sim.options(), "token_store": store, "credentials": sim.credentials}
            started = time.perf_counter()
            async with camsdk.open(sim.camera_url(device), **options) as cam, \
                    cam.stream() as stream, stream.packets(audio=False) as packets:
                async for item in packets:
                    if isinstance(item, MediaPacket) and item.keyframe:
                        out.append((time.perf_counter() - started) * 1000)
                        break
    return out


async def main() -> None:
    needed = math.ceil((HOUR - LEASE) / (LEASE - RENEW))
    print("Nest live-stream leases over a simulated hour (fake clock; real HTTP to the "
          "simulator; shared 2-core machine)")
    for battery in (False, True):
        started = time.perf_counter()
        result = await simulated_hour(battery)
        kind = "battery (extension refused)" if battery else "wired (extended)"
        print(f"  {kind:<28} gaps from expiry {result['lapsed']:.0f}, "
              f"extend calls {result['extend_calls']:.0f} (an hour needs {needed} when "
              f"extensions are granted), extensions granted {result['extended']:.0f}, "
              f"streams generated {result['generated']:.0f}, replaced "
              f"{result['replaced']:.0f}, stopped {result['stopped']:.0f}; "
              f"{time.perf_counter() - started:.2f} s of real time")
    print("open -> first keyframe against the simulator (real time, 5 runs, median)")
    webrtc = await first_keyframe("Garage")
    rtsp = await first_keyframe("Rtsp")
    w, r = statistics.median(webrtc), statistics.median(rtsp)
    print(f"  WebRTC {w:.0f} ms (runs {', '.join(f'{x:.0f}' for x in webrtc)})")
    print(f"  RTSP   {r:.0f} ms (runs {', '.join(f'{x:.0f}' for x in rtsp)})")
    print(f"  WebRTC / RTSP: {w / r:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
