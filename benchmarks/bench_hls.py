"""HLS: CPU of camsdk's own HLS client against FFmpeg's HLS demuxer on the same playlist.

    python benchmarks/bench_hls.py                 # ~1 min: live 12 x 1 s segments, then VOD
    python benchmarks/bench_hls.py --segments 30 --size 1920x1080 --json out.json

A loopback HTTP server (``tests/network/_hls_server.py``, in its own
process so its CPU counts for nobody, a fresh one per reader) publishes H.264 + AAC MPEG-TS
segments made with the ffmpeg CLI, as a live playlist (a new segment every
segment duration, window of 3) and as a VOD playlist. Each reader runs in
a fresh interpreter and reports its process CPU time (user + system) from
just before opening to the last packet:

- ``camsdk``: `camsdk._hls.HlsUpstream` with a small httpx fetcher (what the
  drivers wire: camsdk fetches, PyAV demuxes segment bytes from memory);
- ``ffmpeg``: a bare PyAV loop over FFmpeg's HLS demuxer (``av.open(url,
  format="hls")``, FFmpeg fetching everything itself);

All read the same number of video packets (``live_start_index=-1`` for
all). Printed: CPU per segment and per packet, and camsdk's ratio to the
bare FFmpeg loop; then camsdk's own share (demux and timeline of the same
segments from memory, no HTTP), since the fetcher here is a stand-in for
the device HTTP client. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _bench_common import ROOT, json_worker

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- readers (each in its own interpreter) ---------------------------------------------------


async def read_camsdk(url: str, video_packets: int) -> dict[str, Any]:
    import av  # noqa: F401 - imported before the clock starts, as in the other readers
    import cryptography.hazmat.primitives.ciphers  # noqa: F401

    from camsdk._hls import HlsUpstream
    from tests.hls._fetcher import HttpxFetcher

    fetcher = HttpxFetcher({"127.0.0.1"}, timeout=10.0)
    started, wall = cpu(), time.monotonic()
    upstream = HlsUpstream(url, fetcher, live_start_index=-1)
    video = audio = 0
    try:
        await upstream.start()
        async for packet in upstream:
            if packet.kind == "video":
                video += 1
                if video >= video_packets:
                    break
            else:
                audio += 1
    finally:
        await upstream.aclose()
        await fetcher.aclose()
    return {"cpu": cpu() - started, "wall": time.monotonic() - wall, "video": video,
            "audio": audio}


def read_ffmpeg(url: str, video_packets: int) -> dict[str, Any]:
    import av

    started, wall = cpu(), time.monotonic()
    container = av.open(url, format="hls", options={"live_start_index": "-1"}, timeout=20)
    video = audio = 0
    try:
        streams = [container.streams.video[0], *container.streams.audio[:1]]
        for packet in container.demux(streams):
            if packet.size == 0:
                continue
            if packet.stream.type == "video":
                video += 1
                if video >= video_packets:
                    break
            else:
                audio += 1
    finally:
        container.close()
    return {"cpu": cpu() - started, "wall": time.monotonic() - wall, "video": video,
            "audio": audio}


def run_worker(name: str, url: str, video_packets: int) -> None:
    if name == "camsdk":
        result = asyncio.run(read_camsdk(url, video_packets))
    else:
        result = read_ffmpeg(url, video_packets)
    print(json.dumps(result), flush=True)


# -- the server process ----------------------------------------------------------------------


async def serve(playlist: Path, vod: bool) -> None:
    from tests.network._hls_server import HlsServer

    async with HlsServer(playlist, vod=vod, window=3) as server:
        print(f"READY {server.url()}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin


class ServerProcess:
    def __init__(self, playlist: Path, vod: bool) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(playlist), *(["--vod"] if vod else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("the HLS server did not start")
        self.url = line.split(" ", 1)[1].strip()

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def measure(name: str, url: str, video_packets: int, timeout: float) -> dict[str, Any]:
    return json_worker([__file__, "--worker", name, url, str(video_packets)], timeout)


def make_playlist(directory: Path, size: str, seconds: float, segment: float) -> Path:
    from tests.network._hls_server import make_segments

    return make_segments(directory, seconds=seconds, audio=True, size=size,
                         segment_seconds=segment)


def demux_only(directory: Path, report: dict[str, Any]) -> None:
    """camsdk's worker-thread share: demux and timeline of the same segments, from memory."""
    from camsdk._hls._demux import SegmentDemuxer
    from camsdk._hls._timeline import Timeline

    files = [p.read_bytes() for p in sorted(directory.glob("seg*.ts"))]
    demuxer = SegmentDemuxer(audio=True, max_packets=100_000)
    demuxer.demux(files[0])  # warm up: imports, first StreamInfo
    info = demuxer.info
    assert info is not None
    timeline = Timeline(info.time_base, info.audio_time_base, wraps=True, seamless=False)
    started = cpu()
    packets = 0
    for data in files:
        placed, _ = timeline.place(demuxer.demux(data).packets, reason=None, duration=1.0)
        packets += len(placed)
    per_segment = (cpu() - started) / len(files) * 1000
    print("\n== camsdk's share without the network (demux + timeline, from memory)")
    per_packet = per_segment * 1000 * len(files) / packets
    print(f"camsdk   {per_segment:7.2f} ms/segment  {per_packet:7.1f} us/packet")
    report["demux_only_ms_per_segment"] = per_segment


def report_rows(label: str, results: dict[str, dict[str, Any]], segments: int,
                report: dict[str, Any]) -> None:
    print(f"\n== {label}")
    for name, result in results.items():
        if "error" in result:
            print(f"{name:<8} failed: {result['error']}")
            continue
        packets = result["video"] + result["audio"]
        per_segment = result["cpu"] / segments * 1000
        per_packet = result["cpu"] / max(packets, 1) * 1e6
        result.update(cpu_ms_per_segment=per_segment, cpu_us_per_packet=per_packet)
        print(f"{name:<8} CPU {result['cpu'] * 1000:8.1f} ms  {per_segment:7.2f} ms/segment  "
              f"{per_packet:7.1f} us/packet  ({result['video']} video + {result['audio']} "
              f"audio packets, {result['wall']:.1f} s wall)")
    ours, theirs = results.get("camsdk", {}), results.get("ffmpeg", {})
    if "cpu" in ours and "cpu" in theirs and theirs["cpu"] > 0:
        ratio = ours["cpu"] / theirs["cpu"]
        print(f"camsdk / FFmpeg HLS demuxer CPU: {ratio:.2f}x")
        report[label] = {**results, "ratio_camsdk_to_ffmpeg": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=12, help="segments read per reader")
    parser.add_argument("--segment-seconds", type=float, default=1.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--vod", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.vod))
        return
    if args.worker:
        run_worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return

    import tempfile

    fps = 30
    segments = args.segments
    # Live readers start at the newest of 3 listed segments; content for all of them.
    seconds = (segments + 4) * args.segment_seconds
    video_packets = int(segments * args.segment_seconds * fps)
    print(f"bench_hls: {os.cpu_count()} CPUs, {args.size} H.264 30 fps + AAC, "
          f"{args.segment_seconds:g} s MPEG-TS segments, {segments} segments per reader")
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hls-") as tmp:
        playlist = make_playlist(Path(tmp), args.size, seconds, args.segment_seconds)
        sizes = [p.stat().st_size for p in Path(tmp).glob("seg*.ts")]
        print(f"segments: {len(sizes)} of ~{sum(sizes) / len(sizes) / 1024:.0f} KiB")
        for vod in (False, True):
            results = {}
            for name in ("camsdk", "ffmpeg"):
                # A fresh server per reader: each finds the live playlist at its start.
                server = ServerProcess(playlist, vod)
                try:
                    results[name] = measure(name, server.url, video_packets, seconds * 3 + 30)
                finally:
                    server.stop()
            label = ("VOD, read as fast as possible" if vod
                     else "live playlist, read as it is published")
            report_rows(label, results, segments, report)
        demux_only(Path(tmp), report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
