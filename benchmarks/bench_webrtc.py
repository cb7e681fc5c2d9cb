"""WebRTC receive vs camsdk's RTSP path: CPU per delivered 1080p access unit, decoder calls.

    python benchmarks/bench_webrtc.py                 # ~20 s per path
    python benchmarks/bench_webrtc.py --seconds 10 --json out.json

The same content both ways: the virtual camera's 1080p H.264 loop (15 fps,
GOP 2 s, ~3 Mbit/s), sent by

- the loopback `WebRtcAnswerer` (aiortc, pre-encoded packets, no
  re-encoding), read through ``camsdk.open`` with a small driver around
  `WebRtcSession` + `WebRtcUpstream` (the pass-through tap), and
- camsdk's `RtspServer` (``serve_rtsp.py``), read with
  ``camsdk.open("rtsp://...")``,

each consumed as packets only, for ``--seconds`` after a 2 s warm-up.
Every sender runs in its own process and every measurement in a fresh
interpreter, so only the receiving side's CPU is counted (process CPU time,
all threads). While measuring, every decoder that could run is counted:
aiortc's H.264/Opus/G.711 decoders and camsdk's (shared decoder and one-shot
keyframe decodes); with only packets consumed the count must be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
SIZE, FPS, GOP, BITRATE = "1920x1080", 15, 30, 3_000_000
WARMUP = 2.0


def _loop_params() -> Any:
    from camsdk.drivers.virtual._scene import LoopParams

    width, height = (int(v) for v in SIZE.split("x"))
    return LoopParams(width=width, height=height, fps=FPS, gop=GOP, bitrate=BITRATE)


# -- the WebRTC sender, in its own process ----------------------------------------------------


async def serve_webrtc() -> None:
    """Read one offer (a JSON line) on stdin, print the answer, send until stdin closes."""
    from camsdk.drivers.virtual._scene import encoded_loop
    from camsdk.testing import WebRtcAnswerer

    loop = asyncio.get_running_loop()
    media = encoded_loop(_loop_params())
    offer = json.loads(await loop.run_in_executor(None, sys.stdin.readline))["offer"]
    async with WebRtcAnswerer(loop=media, params=_loop_params()) as peer:
        print(json.dumps({"answer": await peer.answer(offer)}), flush=True)
        await loop.run_in_executor(None, sys.stdin.read)


# -- the measurement, in a fresh interpreter --------------------------------------------------


class _Counters:
    """Counts decoder calls (aiortc's and camsdk's) and pass-through frames."""

    def __init__(self) -> None:
        import aiortc.codecs.g711
        import aiortc.codecs.h264
        import aiortc.codecs.opus

        import camsdk._pipeline._codec as codec
        import camsdk._pipeline._decoder as decoder
        from camsdk._webrtc import _aiortc

        self.counts = {"aiortc": 0, "camsdk": 0, "pass_through": 0}

        def counting(name: str, real: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                self.counts[name] += 1
                return real(*args, **kwargs)

            return call

        for cls in (aiortc.codecs.h264.H264Decoder, aiortc.codecs.opus.OpusDecoder,
                    aiortc.codecs.g711.PcmDecoder):
            cls.decode = counting("aiortc", cls.decode)  # type: ignore[method-assign]
        codec.new_decoder = counting("camsdk", codec.new_decoder)
        decoder.new_decoder = counting("camsdk", decoder.new_decoder)  # type: ignore[attr-defined]
        passthrough = _aiortc.PassThroughDecoder
        passthrough.decode = counting("pass_through", passthrough.decode)  # type: ignore[method-assign]


def _webrtc_driver(server: subprocess.Popen[str]) -> type:
    """A driver whose stream is a WebRTC session answered by ``server``."""
    from camsdk._webrtc import WebRtcSession, WebRtcUpstream
    from camsdk.driver import CameraDriver, CameraInfo, Capability, DriverOptions, PacketSource

    class BenchWebRtcDriver(CameraDriver[DriverOptions]):
        schemes: ClassVar[tuple[str, ...]] = ("webrtc-bench",)
        declared_capabilities: ClassVar[Capability] = Capability.STREAM

        async def connect(self) -> CameraInfo:
            return CameraInfo(id="webrtc-bench")

        async def open_stream(self, profile: str) -> PacketSource:
            session = WebRtcSession(host_addresses=("127.0.0.1",), scheme="webrtc-bench")
            offer = await session.create_offer(audio=None, data_channel=True)
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write(json.dumps({"offer": offer}) + "\n")
            server.stdin.flush()
            line = await asyncio.to_thread(server.stdout.readline)
            await session.accept_answer(json.loads(line)["answer"])
            upstream = WebRtcUpstream(session)
            await upstream.start(timeout=20)
            return upstream

    return BenchWebRtcDriver


async def _consume(url: str, seconds: float) -> dict[str, Any]:
    import camsdk

    async with camsdk.open(url, config={"open_timeout": 30}) as cam:
        async with cam.stream(audio=False) as stream:
            packets = stream.packets(audio=False, queue_size=1024)
            start = time.monotonic()
            async for _ in packets:
                if time.monotonic() - start >= WARMUP:
                    break
            cpu0, wall0 = time.process_time(), time.monotonic()
            count = size = 0
            async for item in packets:
                if getattr(item, "kind", None) == "video":
                    count += 1
                    size += item.size  # type: ignore[union-attr]
                if time.monotonic() - wall0 >= seconds:
                    break
            cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
            width, height = stream.info.width, stream.info.height
    return {"packets": count, "bytes": size, "cpu": cpu, "wall": wall,
            "size": f"{width}x{height}"}


def measure(kind: str, seconds: float) -> dict[str, Any]:
    """One path, measured in this (fresh) process; the sender runs in a child."""
    import psutil

    import camsdk

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if kind == "rtsp":
        cmd = [sys.executable, str(ROOT / "benchmarks" / "serve_rtsp.py"), SIZE, str(FPS),
               str(GOP), str(BITRATE)]
    else:
        cmd = [sys.executable, __file__, "--serve-webrtc"]
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        if kind == "rtsp":
            assert server.stdout is not None
            url = server.stdout.readline().strip()
        else:
            camsdk.register_driver("webrtc-bench", _webrtc_driver(server))
            url = "webrtc-bench://loopback"
        counters = _Counters()
        peer = psutil.Process(server.pid)
        peer_cpu0 = sum(peer.cpu_times()[:2])
        result = asyncio.run(_consume(url, seconds))
        result["server_cpu"] = sum(peer.cpu_times()[:2]) - peer_cpu0
        result["decoders"] = counters.counts
        return result
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_worker(kind: str, seconds: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", kind, "--seconds", str(seconds)],
        capture_output=True, text=True, env=env, timeout=seconds + 180,
    )
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", choices=("webrtc", "rtsp"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-webrtc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_webrtc:
        asyncio.run(serve_webrtc())
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.seconds)), flush=True)
        return

    from camsdk.drivers.virtual._scene import encoded_loop

    encoded_loop(_loop_params())  # encode once (disk cache) before anything is timed
    print(f"bench_webrtc: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"{SIZE} H.264 {FPS} fps GOP {GOP} {BITRATE / 1e6:g} Mbit/s, "
          f"{args.seconds:g} s per path, packets only")
    results = {kind: run_worker(kind, args.seconds) for kind in ("rtsp", "webrtc")}
    header = (f"{'path':<8} {'AUs':>6} {'AU/s':>6} {'CPU s':>7} {'ms CPU/AU':>10} "
              f"{'% core':>7} {'sender % core':>14} {'decoder calls':>14}")
    print(header)
    print("-" * len(header))
    for kind, res in results.items():
        if "error" in res:
            print(f"{kind:<8} failed: {res['error']}")
            continue
        decoders = res["decoders"]["aiortc"] + res["decoders"]["camsdk"]
        print(f"{kind:<8} {res['packets']:>6} {res['packets'] / res['wall']:>6.1f} "
              f"{res['cpu']:>7.2f} {1000 * res['cpu'] / max(1, res['packets']):>10.3f} "
              f"{100 * res['cpu'] / res['wall']:>6.1f}% "
              f"{100 * res['server_cpu'] / res['wall']:>13.1f}% {decoders:>14}")
    rtsp, webrtc = results["rtsp"], results["webrtc"]
    if "error" not in rtsp and "error" not in webrtc and rtsp["packets"] and webrtc["packets"]:
        ratio = (webrtc["cpu"] / webrtc["packets"]) / (rtsp["cpu"] / rtsp["packets"])
        print(f"WebRTC / RTSP CPU per access unit: {ratio:.2f}x")
        passed = webrtc["decoders"]["pass_through"]
        print(f"WebRTC frames through the pass-through tap: {passed}; decoders run while "
              f"only packets were consumed: {webrtc['decoders']['aiortc']} aiortc, "
              f"{webrtc['decoders']['camsdk']} camsdk (must be 0)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
