"""The gateway's live view: CPU per viewer, one upstream, approval to first frame.

    python benchmarks/bench_gateway.py                      # viewers 1,4,16; 10 s each
    python benchmarks/bench_gateway.py --viewers 1,8 --seconds 5 --json out.json

Setup: a 1080p H.264 camera (the virtual camera's loop, 15 fps, GOP 2 s,
~3 Mbit/s) served by camsdk's `RtspServer` in its own process; the gateway
(`camsdk.serve.Gateway` behind uvicorn on 127.0.0.1) in this process; the
viewers (WebSocket clients reading fragmented MP4, as a browser's MSE would)
in a third process. Only the gateway process's CPU is counted (process CPU
time, all threads).

1. Baseline: the camera's upstream open (the owner's stream), no viewer.
2. N viewers under N grants without masks (passthrough: remux only), for
   each N: CPU per viewer = (CPU with N viewers - baseline) / N, and how
   many RTSP sessions the camera serves meanwhile (the one-upstream
   guarantee: 1, whatever N).
3. The tool an owner would otherwise use per viewer: one ``ffmpeg -c copy``
   to fragmented MP4 per viewer, each with its own RTSP session (its CPU,
   measured the same way), and one masked viewer (decode, mask, x264).
4. Approval to first frame: from the owner's approve call to the first MP4
   fragment at the requester (ticket, WebSocket, first keyframe), five times.

The machine may be shared with other work: read the ratios, measured side
by side in one run, rather than the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZE, FPS, GOP, BITRATE = "1920x1080", 15, 30, 3_000_000
WARMUP = 2.0
PASSWORD = "bench owner password"


# -- the camera, in its own process -----------------------------------------------------------


async def serve_camera(audio: bool = False) -> None:
    """Serve the 1080p loop (with AAC when ``audio``); print the URL; answer "sessions" lines."""
    from camsdk.drivers.virtual._scene import LoopParams, encoded_loop
    from camsdk.testing import RtspServer

    width, height = (int(v) for v in SIZE.split("x"))
    media = encoded_loop(LoopParams(width=width, height=height, fps=FPS, gop=GOP,
                                    bitrate=BITRATE, audio=audio))
    loop = asyncio.get_running_loop()
    async with RtspServer(media) as server:
        print(server.url, flush=True)
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            print(json.dumps({"sessions": server.sessions}), flush=True)


# -- the viewers, in their own process ------------------------------------------------------


async def run_viewers() -> None:
    """Read a JSON list of WebSocket URLs; watch them all for the given seconds; print counts."""
    import websockets

    job = json.loads(sys.stdin.readline())
    counts = [0] * len(job["urls"])
    sizes = [0] * len(job["urls"])

    async def watch(index: int, url: str) -> None:
        async with websockets.connect(url, max_size=None) as ws:
            await ws.recv()  # the init message
            with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
                async with asyncio.timeout(job["seconds"]):
                    while True:
                        message = await ws.recv()
                        counts[index] += 1
                        sizes[index] += len(message)

    await asyncio.gather(*(watch(i, u) for i, u in enumerate(job["urls"])))
    print(json.dumps({"fragments": counts, "bytes": sizes}), flush=True)


# -- the gateway side ------------------------------------------------------------------------


class Bench:
    """The gateway under test, its owner client and helpers."""

    def __init__(self, camera_url: str, data: Path) -> None:
        from camsdk.serve import SiteConfig, hash_password

        self.config = SiteConfig.model_validate({
            "owner": {"password_hash": hash_password(PASSWORD, n=2**10)},
            "storage": {"data_dir": str(data)},
            # The upstream closes as soon as its last viewer leaves: cold starts can be timed.
            "cameras": [{"name": "street", "url": camera_url, "config": {"idle_close": 0.2}}],
            "limits": {"max_live_viewers": 256, "requests_per_hour": 10_000,
                       "calls_per_minute": 100_000},
        })

    async def __aenter__(self) -> Bench:
        import httpx

        from camsdk.serve import Gateway, create_app
        from camsdk.serve._app import running

        self.gateway = await Gateway(self.config).start()
        async with asyncio.timeout(30):
            while not self.gateway.inventory.slots["street"].online:
                await asyncio.sleep(0.05)
        transport = httpx.ASGITransport(app=create_app(self.gateway))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        csrf = (await self.client.post("/owner/api/login",
                                       json={"password": PASSWORD})).json()["csrf"]
        self.client.headers["X-CSRF-Token"] = csrf
        self._running = running(self.gateway)
        self.base = (await self._running.__aenter__()).replace("http://", "ws://")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._running.__aexit__(None, None, None)
        await self.client.aclose()
        await self.gateway.aclose()

    async def requester(self, masked: bool = False) -> tuple[Any, str]:
        """A new requester with an approved live grant; (its client, grant id)."""
        import httpx

        from camsdk.privacy import generate_signing_key
        from camsdk.serve import RequesterAuth, create_app

        auth = RequesterAuth(generate_signing_key())
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(self.gateway)),
                                   base_url="http://127.0.0.1", auth=auth)
        grant = await self.approve(client, masked)
        return client, grant

    async def submit(self, client: Any) -> str:
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        response = await client.post("/api/v1/requests", json={
            "cameras": ["street"], "mode": "live", "purpose": "benchmark",
            "footage_from": (now - timedelta(minutes=1)).isoformat(),
            "footage_until": (now + timedelta(hours=1)).isoformat(),
            "case_reference": "BENCH", "contact": "bench@example.org",
            "requester_name": "bench"})
        return str(response.json()["request_id"])

    async def approve(self, client: Any, masked: bool = False, request_id: str | None = None
                      ) -> str:
        from datetime import UTC, datetime, timedelta

        request_id = request_id or await self.submit(client)
        body = next(r for r in (await self.client.get("/owner/api/overview")).json()["requests"]
                    if r["request_id"] == request_id)["body"]
        mask = {"street": [{"points": [[0, 0], [0.3, 0], [0.3, 0.3], [0, 0.3]]}]}
        response = await self.client.post(f"/owner/api/requests/{request_id}/approve", json={
            "cameras": ["street"], "mode": "live", "footage_from": body["footage_from"],
            "footage_until": body["footage_until"],
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "masks": mask if masked else {}})
        return str(response.json()["grant_ids"][0])

    async def ws_url(self, client: Any, grant: str) -> str:
        response = await client.post("/api/v1/live", json={"grant_id": grant,
                                                           "camera": "street"})
        return f"{self.base}{response.json()['ws_path']}"


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)


def _camera_sessions(camera: subprocess.Popen[str]) -> int:
    assert camera.stdin is not None and camera.stdout is not None
    camera.stdin.write("sessions\n")
    camera.stdin.flush()
    return int(json.loads(camera.stdout.readline())["sessions"])


async def _measure(bench: Bench, camera: subprocess.Popen[str], urls: list[str],
                   seconds: float) -> dict[str, Any]:
    """Gateway CPU while a viewer process watches ``urls`` for ``seconds``."""
    viewers = _spawn("--run-viewers") if urls else None
    if viewers is not None:
        assert viewers.stdin is not None
        viewers.stdin.write(json.dumps({"urls": urls, "seconds": seconds + WARMUP}) + "\n")
        viewers.stdin.flush()
    await asyncio.sleep(WARMUP)
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds / 2)
    sessions = await asyncio.to_thread(_camera_sessions, camera)
    upstreams = len(bench.gateway.inventory.slots["street"].camera._sessions)  # type: ignore[union-attr]
    await asyncio.sleep(seconds / 2)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    result: dict[str, Any] = {"viewers": len(urls), "cpu": cpu, "wall": wall,
                              "camera_sessions": sessions, "gateway_upstreams": upstreams}
    if viewers is not None:
        out, _ = await asyncio.to_thread(viewers.communicate)
        counts = json.loads(out)
        result["fragments_min"] = min(counts["fragments"])
        result["mbit_per_viewer"] = statistics.mean(counts["bytes"]) * 8 / 1e6 / (
            seconds + WARMUP)
    return result


def _ffmpeg_viewer(camera_url: str, seconds: float, audio: bool) -> dict[str, Any] | None:
    """CPU of one ``ffmpeg -c copy`` to fragmented MP4: what a viewer costs without camsdk."""
    if shutil.which("ffmpeg") is None:
        return None
    import psutil

    proc = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", camera_url, "-c", "copy",
         *([] if audio else ["-an"]), "-f", "mp4",
         "-movflags", "empty_moov+default_base_moof+frag_keyframe",
         "-t", str(seconds + WARMUP), "-y", os.devnull], stdin=subprocess.DEVNULL)
    watched = psutil.Process(proc.pid)
    time.sleep(WARMUP)
    start = watched.cpu_times()
    time.sleep(seconds)
    end = watched.cpu_times()
    proc.wait(timeout=30)
    cpu = (end.user - start.user) + (end.system - start.system)
    return {"cpu": cpu, "wall": seconds}


async def _first_frame(bench: Bench, trials: int, *, cold: bool) -> list[float]:
    """Seconds from the owner's approval to the first MP4 fragment at the requester.

    ``cold``: the camera's upstream is closed when the owner approves (the
    gateway connects to the camera for this viewer); else it is already open.
    """
    import httpx
    import websockets

    from camsdk.privacy import generate_signing_key
    from camsdk.serve import RequesterAuth, create_app

    delays = []
    for _ in range(trials):
        auth = RequesterAuth(generate_signing_key())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(
                app=create_app(bench.gateway)), base_url="http://127.0.0.1", auth=auth) as client:
            request_id = await bench.submit(client)
            cam = bench.gateway.inventory.slots["street"].camera
            assert cam is not None
            async with asyncio.timeout(30):
                while bool(cam._sessions) == cold:  # open (warm) or closed (cold)
                    await asyncio.sleep(0.05)
            started = time.monotonic()
            grant = await bench.approve(client, request_id=request_id)
            url = await bench.ws_url(client, grant)
            async with websockets.connect(url, max_size=None) as ws:
                await ws.recv()  # init
                await ws.recv()  # the first fragment (init segment + first frame)
                delays.append(time.monotonic() - started)
    return delays


async def run(viewer_counts: list[int], seconds: float, audio: bool) -> dict[str, Any]:
    camera = _spawn("--serve-camera", *(["--audio"] if audio else []))
    assert camera.stdout is not None
    camera_url = camera.stdout.readline().strip()
    results: dict[str, Any] = {"size": SIZE, "fps": FPS, "bitrate": BITRATE, "audio": audio,
                               "cpus": os.cpu_count(), "load": os.getloadavg()[0]}
    try:
        with tempfile.TemporaryDirectory() as data:
            async with Bench(camera_url, Path(data)) as bench:
                cam = bench.gateway.inventory.slots["street"].camera
                assert cam is not None
                async with cam.stream(purpose="baseline"):  # the upstream, no viewer
                    results["baseline"] = await _measure(bench, camera, [], seconds)
                    runs = []
                    for count in viewer_counts:
                        urls = []
                        for _ in range(count):
                            client, grant = await bench.requester()
                            urls.append(await bench.ws_url(client, grant))
                            await client.aclose()
                        runs.append(await _measure(bench, camera, urls, seconds))
                    results["passthrough"] = runs
                    client, grant = await bench.requester(masked=True)
                    results["masked"] = await _measure(
                        bench, camera, [await bench.ws_url(client, grant)], seconds)
                    await client.aclose()
                    results["first_frame_warm"] = await _first_frame(bench, 5, cold=False)
                results["first_frame_cold"] = await _first_frame(bench, 5, cold=True)
        results["ffmpeg"] = await asyncio.to_thread(_ffmpeg_viewer, camera_url, seconds, audio)
    finally:
        assert camera.stdin is not None
        camera.stdin.close()
        camera.wait(timeout=30)
    return results


def report(results: dict[str, Any]) -> None:
    base = results["baseline"]
    base_rate = base["cpu"] / base["wall"]
    print(f"bench_gateway: {results['cpus']} CPUs (shared machine), load average "
          f"{results['load']:.2f}; camera {results['size']} @ {results['fps']} fps, "
          f"{results['bitrate'] / 1e6:g} Mbit/s"
          + (", AAC 16 kHz mono" if results.get("audio") else ", no audio"))
    print(f"baseline (upstream open, no viewer): {100 * base_rate:.1f}% of a CPU")
    print(f"{'viewers':>7} {'gateway CPU':>11} {'per viewer':>10} {'camera sessions':>15} "
          f"{'min fragments':>13} {'Mbit/s each':>11}")
    per_viewer = None
    for run_ in results["passthrough"]:
        rate = run_["cpu"] / run_["wall"]
        each = (rate - base_rate) / run_["viewers"]
        per_viewer = each
        print(f"{run_['viewers']:>7} {100 * rate:>10.1f}% {100 * each:>9.2f}% "
              f"{run_['camera_sessions']:>15} {run_['fragments_min']:>13} "
              f"{run_['mbit_per_viewer']:>11.2f}")
    masked = results["masked"]
    masked_each = masked["cpu"] / masked["wall"] - base_rate
    print(f"one masked viewer (decode, mask, x264): {100 * masked_each:.1f}% of a CPU")
    if per_viewer and per_viewer > 0:
        print(f"masked / passthrough CPU per viewer: {masked_each / per_viewer:.0f}x")
    ffmpeg = results.get("ffmpeg")
    if ffmpeg and per_viewer and per_viewer > 0:
        ff_rate = ffmpeg["cpu"] / ffmpeg["wall"]
        print(f"ffmpeg -c copy to fMP4, per viewer (own RTSP session each): "
              f"{100 * ff_rate:.2f}% of a CPU; gateway / ffmpeg per viewer: "
              f"{per_viewer / ff_rate:.2f}x")
    for kind, what in (("warm", "upstream already open"), ("cold", "gateway connects then")):
        delays = sorted(results[f"first_frame_{kind}"])
        print(f"approval to first frame, {what}: median {statistics.median(delays):.2f} s, "
              f"max {delays[-1]:.2f} s over {len(delays)} approvals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", default="1,4,16", help="viewer counts, comma separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--audio", action="store_true",
                        help="the camera has an AAC track (viewers get audio too)")
    parser.add_argument("--serve-camera", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run-viewers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_camera:
        asyncio.run(serve_camera(args.audio))
        return
    if args.run_viewers:
        asyncio.run(run_viewers())
        return
    counts = [int(v) for v in args.viewers.split(",")]
    results = asyncio.run(run(counts, args.seconds, args.audio))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
