"""ONVIF: connect cost against onvif-zeep-async, and PullPoint event latency.

    python benchmarks/bench_onvif.py [--runs 20] [--events 200] [--pull-timeout 10]

Everything runs against one `camsdk.testing.OnvifDevice` on 127.0.0.1 (SOAP
over loopback HTTP, WS-Security checked); nothing leaves the machine.

1. **Connect**: the time from ``camsdk.open("onvif://...")`` to device info
   and media profiles being ready, against onvif-zeep-async doing the same
   (``ONVIFCamera`` + ``update_xaddrs`` + ``GetDeviceInformation`` +
   ``GetProfiles``). Measured three ways:

   - *fresh process*: each library in its own child process: the import of
     its package (camsdk's includes its pydantic models), then the first
     connect (zeep parses its WSDLs here; camsdk imports its driver and httpx
     here), and both together;
   - *same process, first*: both packages and the HTTP stack they share
     imported, then each library's first connect in this process;
   - *same process, warm*: the median of ``--runs`` further connects.

   camsdk asks more per connect than the zeep sequence (clock, scopes, PTZ
   nodes: six requests against three) but in two round trips; the warm
   figure is mostly those round trips. camsdk runs from a bytecode-compiled
   copy in ``benchmarks/out/site``, as an installed package would.
2. **Event latency**: from `OnvifDevice.emit` to a ``cam.events()`` consumer
   receiving the event, with the driver's PullMessages long poll
   (``--pull-timeout`` seconds) already waiting at the device, p50/p99 over
   ``--events`` events.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import logging
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# An installed camsdk has bytecode; a checkout run with PYTHONDONTWRITEBYTECODE
# compiles every module at each start, which is no cost of the library. So the
# benchmark imports a compiled copy in benchmarks/out/site (the source tree
# stays untouched).
SITE = ROOT / "benchmarks" / "out" / "site"
shutil.rmtree(SITE / "camsdk", ignore_errors=True)
shutil.copytree(ROOT / "camsdk", SITE / "camsdk", ignore=shutil.ignore_patterns("__pycache__"))
compileall.compile_dir(str(SITE / "camsdk"), quiet=1)
sys.path.insert(0, str(SITE))

import camsdk  # noqa: E402
from camsdk.testing._onvif_device import OnvifDevice  # noqa: E402

USER, PASSWORD = "admin", "bench-pw"
FRESH_RUNS = 7

CAMSDK_CHILD = """
import asyncio, json, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
import camsdk
camsdk.Credentials  # its models load lazily; a caller needs them before open()
t1 = time.perf_counter()
async def main():
    t = time.perf_counter()
    async with camsdk.open({url!r}, credentials=camsdk.Credentials({user!r}, {pw!r})) as cam:
        assert cam.info.model and cam.info.profiles
        ready = time.perf_counter() - t
    print(json.dumps({{"import": t1 - t0, "connect": ready}}))
asyncio.run(main())
"""

ZEEP_CHILD = """
import asyncio, json, time
t0 = time.perf_counter()
from onvif import ONVIFCamera
t1 = time.perf_counter()
async def main():
    t = time.perf_counter()
    cam = ONVIFCamera({host!r}, {port}, {user!r}, {pw!r})
    await cam.update_xaddrs()
    info = await (await cam.create_devicemgmt_service()).GetDeviceInformation()
    profiles = await (await cam.create_media_service()).GetProfiles()
    assert info.Model and profiles
    ready = time.perf_counter() - t
    await cam.close()
    print(json.dumps({{"import": t1 - t0, "connect": ready}}))
asyncio.run(main())
"""


async def child(code: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter while this loop keeps serving the device."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode != 0:
        raise RuntimeError(err.decode()[-2000:])
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def camsdk_connect(device: OnvifDevice) -> float:
    started = time.perf_counter()
    async with camsdk.open(device.url, credentials=camsdk.Credentials(USER, PASSWORD)) as cam:
        assert cam.info.model and cam.info.profiles
        return time.perf_counter() - started


async def zeep_connect(device: OnvifDevice) -> float:
    from onvif import ONVIFCamera

    started = time.perf_counter()
    cam = ONVIFCamera(device.host, device.port, USER, PASSWORD)
    try:
        await cam.update_xaddrs()
        info = await (await cam.create_devicemgmt_service()).GetDeviceInformation()
        profiles = await (await cam.create_media_service()).GetProfiles()
        assert info.Model and profiles
        return time.perf_counter() - started
    finally:
        await cam.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def bench_connect(device: OnvifDevice, runs: int) -> None:
    values = {
        "root": str(SITE),
        "url": device.url,
        "host": device.host,
        "port": device.port,
        "user": USER,
        "pw": PASSWORD,
    }
    ours, theirs = [], []
    for _ in range(FRESH_RUNS):  # interleaved, so both see the same machine load
        ours.append(await child(CAMSDK_CHILD.format(**values)))
        theirs.append(await child(ZEEP_CHILD.format(**values)))
    ours_first = statistics.median(r["connect"] for r in ours)
    theirs_first = statistics.median(r["connect"] for r in theirs)
    ours_total = statistics.median(r["connect"] + r["import"] for r in ours)
    theirs_total = statistics.median(r["connect"] + r["import"] for r in theirs)
    print(f"connect: open -> info + profiles ready (median of {FRESH_RUNS} fresh processes)")
    print(
        f"  camsdk         first connect {ms(ours_first):>9}   import + connect {ms(ours_total):>9}"
    )
    print(
        f"  onvif-zeep     first connect {ms(theirs_first):>9}   import + connect "
        f"{ms(theirs_total):>9}"
    )
    print(
        f"  ratio          first connect {ours_first / theirs_first:8.2f}x   import + connect "
        f"{ours_total / theirs_total:8.2f}x"
    )

    # Both packages (camsdk with its lazily loaded models, as in the children above)
    # and the HTTP stack both use, loaded before the first connects.
    import httpx
    import onvif  # noqa: F401

    camsdk.Credentials  # noqa: B018

    async with httpx.AsyncClient() as client:
        await client.get(f"http://{device.host}:{device.port}/")

    # onvif-zeep-async turns on INFO logging; keep httpx's per-request lines quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    ours_same = await camsdk_connect(device)
    theirs_same = await zeep_connect(device)
    print("connect, same process, both packages imported, first connect of each")
    print(
        f"  camsdk {ms(ours_same)}   onvif-zeep {ms(theirs_same)}   ratio "
        f"{ours_same / theirs_same:.2f}x"
    )
    ours_warm = [await camsdk_connect(device) for _ in range(runs)]
    theirs_warm = [await zeep_connect(device) for _ in range(runs)]
    a, b = statistics.median(ours_warm), statistics.median(theirs_warm)
    print(f"connect, same process, warm (median of {runs})")
    print(f"  camsdk {ms(a)}   onvif-zeep {ms(b)}   ratio {a / b:.2f}x")


async def bench_events(device: OnvifDevice, count: int, pull_timeout: float) -> None:
    latencies: list[float] = []
    topic = "tns1:RuleEngine/CellMotionDetector/Motion"
    async with camsdk.open(
        device.url, credentials=camsdk.Credentials(USER, PASSWORD), pull_timeout=pull_timeout
    ) as cam:
        async with cam.events(kinds={camsdk.EventKind.MOTION}) as events:
            for seq in range(count):
                # Emit only once the driver's long poll is parked at the device.
                await asyncio.wait_for(device.wait_until(lambda d: d.waiting_pulls == 1), 30)
                state = "true" if seq % 2 == 0 else "false"
                device.emit(topic, {"IsMotion": state, "Seq": str(seq)})
                emitted = time.perf_counter()
                event = await asyncio.wait_for(anext(events), 30)
                latencies.append(time.perf_counter() - emitted)
                assert event.extra["data"]["Seq"] == str(seq)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    print(
        f"event latency, device emit -> consumer, PullPoint timeout {pull_timeout:g} s, "
        f"{count} events"
    )
    print(f"  p50 {ms(p50)}   p99 {ms(p99)}   max {ms(latencies[-1])}")


async def main_async(args: argparse.Namespace) -> None:
    async with OnvifDevice(username=USER, password=PASSWORD, auth="wsse") as device:
        await bench_connect(device, args.runs)
        await bench_events(device, args.events, args.pull_timeout)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pull-timeout", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
