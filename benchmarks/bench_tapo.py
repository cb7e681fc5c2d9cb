"""Tapo: login time (both variants), event latency, ``open()`` to the first keyframe.

    python benchmarks/bench_tapo.py [--logins 50] [--events 200] [--runs 10]

Everything runs against `camsdk.testing._tapo_device.TapoDevice` on
127.0.0.1 (HTTPS with a self-signed certificate, RTSP, an ONVIF PullPoint);
nothing leaves the machine. Ratios are measured side by side in one run.

1. **Login**: ``TapoSession.login()`` on one kept-alive HTTPS connection,
   ``--logins`` times per variant: the secure login (nonce exchange, two
   requests, key derivation) and the legacy one (one MD5 request: the
   declined probe is only sent at the first login). Then a whole ``camsdk.open`` ->
   ``connect`` -> ``aclose`` (certificate pin read, TLS handshake, login,
   the one batch of reads) per variant.
2. **Event latency**: from the simulator sending an ONVIF notification
   (``detect``) to ``cam.events()`` yielding the Tapo event, p50/p99 over
   ``--events`` starts and ends; side by side, the same notifications read
   by a plain ``onvif://`` camera on the same PullPoint (the ratio is what
   the Tapo layer costs on top of the ONVIF driver it uses).
3. **Open to first keyframe**: ``camsdk.open(tapo://...)``, connect, open
   the main stream, first keyframe packet, median of ``--runs``; side by
   side, ``ffmpeg -rtsp_transport tcp -i rtsp://.../stream1 -frames:v 1``
   (what a user would otherwise run) and camsdk on the bare ``rtsp://``
   URL (what the login and the privacy check add).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import camsdk
from camsdk import Credentials, EventKind, MediaPacket
from camsdk.driver import CameraURL
from camsdk.drivers.tapo import TapoDriver, _api, _tls
from camsdk.drivers.tapo._device import take_session
from camsdk.testing import TapoDevice

USER, PASSWORD = "admin", "bench-cloud-pw"
STREAM_USER, STREAM_PASSWORD = "bench-viewer", "bench-stream-pw"
CREDS = Credentials(USER, PASSWORD)
STREAM = Credentials(STREAM_USER, STREAM_PASSWORD)
DEVICE_KINDS = set(EventKind) - {EventKind.CONNECTION, EventKind.STREAM_STATE}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def device(**kwargs: Any) -> TapoDevice:
    return TapoDevice(username=USER, password=PASSWORD, stream_user=STREAM_USER,
                      stream_password=STREAM_PASSWORD, **kwargs)


def options(**extra: Any) -> dict[str, Any]:
    return {"credentials": CREDS, "stream_credentials": STREAM, **extra}


async def login_times(secure: bool, logins: int) -> tuple[list[float], list[float]]:
    """Milliseconds of ``login()`` alone, and of a whole open/connect/close."""
    logins_ms: list[float] = []
    opens_ms: list[float] = []
    async with device(secure=secure) as sim:
        driver = TapoDriver(url=CameraURL.parse(sim.url), credentials=CREDS,
                            options={"stream_credentials": STREAM})
        key, session = await take_session(driver)
        try:
            for _ in range(logins):
                started = time.perf_counter()
                await session.login()
                logins_ms.append((time.perf_counter() - started) * 1000.0)
        finally:
            await _api.SESSIONS.release(key)
        for _ in range(max(5, logins // 5)):
            _tls.forget_process_pins()
            started = time.perf_counter()
            async with camsdk.open(sim.url, **options()):
                pass
            opens_ms.append((time.perf_counter() - started) * 1000.0)
    return logins_ms, opens_ms


async def event_latency(events: int) -> tuple[list[float], list[float]]:
    """Milliseconds from ``detect`` to the Tapo event, and to the plain ONVIF one."""
    tapo_ms: list[float] = []
    onvif_ms: list[float] = []
    async with device() as sim:
        onvif_url = f"onvif://127.0.0.1:{sim.onvif_port}"
        async with camsdk.open(sim.url, **options()) as cam, \
                camsdk.open(onvif_url, credentials=STREAM) as plain:
            async with cam.events(kinds=DEVICE_KINDS) as tapo_events, \
                    plain.events(kinds=DEVICE_KINDS) as onvif_events:
                async with asyncio.timeout(10):
                    await sim.onvif.wait_until(lambda d: d.subscriptions >= 2)
                ours, theirs = aiter(tapo_events), aiter(onvif_events)
                on = False
                for _ in range(events):
                    on = not on
                    started = time.perf_counter()
                    sim.detect("motion", on)

                    async def first(it: Any, out: list[float], began: float = started) -> None:
                        async with asyncio.timeout(10):
                            await anext(it)
                        out.append((time.perf_counter() - began) * 1000.0)

                    await asyncio.gather(first(ours, tapo_ms), first(theirs, onvif_ms))
    return tapo_ms, onvif_ms


async def first_keyframe(url: str, **kwargs: Any) -> float:
    started = time.perf_counter()
    async with camsdk.open(url, **kwargs) as cam, cam.stream() as stream, \
            stream.packets(audio=False) as packets:
        async for item in packets:
            if isinstance(item, MediaPacket) and item.keyframe:
                break
    return (time.perf_counter() - started) * 1000.0


def ffmpeg_first_frame(rtsp_url: str) -> float:
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", rtsp_url,
                    "-frames:v", "1", "-f", "null", "-"], check=True, timeout=30)
    return (time.perf_counter() - started) * 1000.0


async def open_to_keyframe(runs: int) -> tuple[list[float], list[float], list[float]]:
    tapo, rtsp, ffmpeg = [], [], []
    async with device() as sim:
        rtsp_url = f"rtsp://127.0.0.1:{sim.rtsp_port}/stream1"
        secret_url = f"rtsp://{STREAM_USER}:{STREAM_PASSWORD}@127.0.0.1:{sim.rtsp_port}/stream1"
        for _ in range(runs):
            _tls.forget_process_pins()
            tapo.append(await first_keyframe(sim.url, **options()))
            rtsp.append(await first_keyframe(rtsp_url, credentials=STREAM))
            ffmpeg.append(await asyncio.to_thread(ffmpeg_first_frame, secret_url))
    return tapo, rtsp, ffmpeg


def row(label: str, values: list[float]) -> str:
    return (f"  {label:<44} p50 {statistics.median(values):8.2f} ms   "
            f"p99 {pct(values, 0.99):8.2f} ms   (n={len(values)})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print("Tapo benchmark (loopback simulator; the machine may be shared: compare ratios)")

    print("\n1. login")
    secure_login, secure_open = await login_times(True, args.logins)
    legacy_login, legacy_open = await login_times(False, args.logins)
    print(row("secure login (nonce exchange, AES keys)", secure_login))
    print(row("legacy login (one MD5 request)", legacy_login))
    print(f"  ratio secure / legacy login (p50): "
          f"{statistics.median(secure_login) / statistics.median(legacy_login):.2f}")
    print(row("open+connect+close, secure (pin, TLS, reads)", secure_open))
    print(row("open+connect+close, legacy", legacy_open))

    print("\n2. event latency, simulator detect -> cam.events()")
    tapo_ms, onvif_ms = await event_latency(args.events)
    print(row("tapo:// (ONVIF PullPoint + Tapo mapping)", tapo_ms))
    print(row("onvif:// on the same PullPoint", onvif_ms))
    print(f"  ratio tapo / onvif (p50): "
          f"{statistics.median(tapo_ms) / statistics.median(onvif_ms):.2f}")

    print("\n3. open() to the first keyframe of stream1")
    tapo, rtsp, ffmpeg = await open_to_keyframe(args.runs)
    print(row("camsdk tapo:// (pin, login, reads, privacy)", tapo))
    print(row("camsdk rtsp:// on the same stream", rtsp))
    print(row("ffmpeg -rtsp_transport tcp -frames:v 1", ffmpeg))
    print(f"  ratio ffmpeg / camsdk tapo (p50): "
          f"{statistics.median(ffmpeg) / statistics.median(tapo):.2f}x")
    print(f"  ratio camsdk tapo / camsdk rtsp (p50): "
          f"{statistics.median(tapo) / statistics.median(rtsp):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
