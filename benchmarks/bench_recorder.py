"""Continuous recording benchmark: many cameras into 60 s segments, checked for gaps.

    python benchmarks/bench_recorder.py                 # 16 cameras, 10 minutes, + ffmpeg
    python benchmarks/bench_recorder.py --minutes 2     # a quicker run
    python benchmarks/bench_recorder.py --compare-seconds 0   # skip the ffmpeg comparison

1. ``--cameras`` (16) virtual 1080p cameras (real time, 15 fps, GOP 2 s,
   3 Mbit/s, AAC audio) recorded with ``cam.recorder(segment=60)`` for
   ``--minutes``: process CPU (total over the run, per camera), bytes written
   per hour per camera, segments, RSS (sampled while recording), and gaps:
   every boundary between consecutive segments is checked on the index (the
   end of one segment must be the start of the next, in pts and in wall-clock
   time) and every file is read back with PyAV (its length must be the
   index's). Nothing is asserted; the table says what was seen.
2. The same number of cameras over RTSP from GStreamer's gst-rtsp-server
   (``scripts/gst_rtsp_server.py``, 1080p15, 3 Mbit/s), recorded for
   ``--compare-seconds`` by camsdk and then by the tool users would otherwise
   run, ``ffmpeg -rtsp_transport tcp -i URL -c copy -f segment
   -segment_time 60``, one process per camera: CPU of each, and the ratio.
   (Both sides pay for RTSP here; in part 1 the upstream is nearly free.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
# This checkout's camsdk (and bench_rtsp next to this file), whatever is installed.
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

import camsdk  # noqa: E402

MIB = 1024 * 1024
HD = "size=1920x1080&fps=15&gop=30&bitrate=3000000&audio=1"


def line(name: str, value: str) -> None:
    print(f"{name:<56} {value}", flush=True)


def boundary_gaps(segments: list[camsdk.Segment]) -> tuple[int, int, int]:
    """(boundaries checked, gaps or overlaps found, segments that start after a gap)."""
    checked = found = restarts = 0
    for before, after in itertools.pairwise(segments):
        if after.after_gap:
            restarts += 1
            continue
        checked += 1
        if before.end_pts != after.start_pts or before.end != after.start:
            found += 1
    return checked, found, restarts


def file_mismatches(segments: list[camsdk.Segment]) -> int:
    """Files whose video length (read back with PyAV) is not what the index says."""
    import av

    bad = 0
    for seg in segments:
        with av.open(str(seg.path)) as container:
            video = container.streams.video[0]
            rows = [(p.pts, p.duration) for p in container.demux(video) if p.size]
            tb = video.time_base
        first = rows[0][0]
        end = max(pts + duration for pts, duration in rows)
        if (end - first) * tb != (seg.end_pts - seg.start_pts) * seg.time_base:
            bad += 1
    return bad


async def record_cameras(
    urls: list[str], root: Path, seconds: float, sample_every: float = 5.0
) -> dict[str, Any]:
    """Record every URL for ``seconds``; CPU, RSS samples, recorders."""
    proc = psutil.Process()
    async with contextlib.AsyncExitStack() as stack:
        cams = [await stack.enter_async_context(camsdk.open(url)) for url in urls]
        # A root per camera: over RTSP every camera here has the same URL, hence the same id.
        recorders = [cam.recorder(root / str(i), segment=60.0) for i, cam in enumerate(cams)]
        for rec in recorders:
            await stack.enter_async_context(rec)
        cpu0, wall0 = time.process_time(), time.monotonic()
        rss: list[int] = []
        deadline = wall0 + seconds
        while (now := time.monotonic()) < deadline:
            await asyncio.sleep(min(sample_every, deadline - now))
            rss.append(proc.memory_info().rss)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        stop0 = time.monotonic()
        await stack.aclose()
        stop = time.monotonic() - stop0
    return {"cpu": cpu, "wall": wall, "rss": rss, "recorders": recorders, "stop": stop}


async def bench_virtual(cameras: int, minutes: float, root: Path) -> None:
    urls = [f"virtual://bench-rec-{i}?{HD}" for i in range(cameras)]
    # Encode the loop once before the clock starts (later cameras reuse it).
    async with camsdk.open(urls[0]) as cam, cam.stream():
        pass  # opening waits for the first keyframe
    print(f"recording {cameras} virtual 1080p15 cameras (3 Mbit/s + AAC) for {minutes:g} min "
          f"into {root}", flush=True)
    run = await record_cameras(urls, root, minutes * 60)
    recorders: list[camsdk.Recorder] = run["recorders"]
    all_segments: list[camsdk.Segment] = []
    checked = found = restarts = 0
    for rec in recorders:
        segments = await rec.index.find(None, None)
        all_segments += segments
        c, f, r = boundary_gaps(segments)
        checked, found, restarts = checked + c, found + f, restarts + r
    media = sum(s.duration for s in all_segments)
    total = sum(s.bytes for s in all_segments)
    on_disk = sum(p.stat().st_size for p in root.rglob("*.mp4"))
    mismatched = file_mismatches(all_segments)
    dropped = sum(rec.stats.dropped for rec in recorders)
    reported_gaps = sum(rec.stats.gaps for rec in recorders)
    cpu_pct = run["cpu"] / run["wall"] * 100
    print()
    print(f"Continuous recording, {cameras} cameras, {run['wall'] / 60:.1f} min, 60 s segments")
    line("process CPU over the run (all threads)", f"{run['cpu']:.1f} s = {cpu_pct:.1f} % "
         f"of one core")
    line("  per camera", f"{cpu_pct / cameras:.2f} % of one core")
    line("bytes written per hour per camera", f"{total / (media / 3600) / 1e9:.3f} GB "
         f"({total * 8 / media / 1e6:.2f} Mbit/s of media per camera)")
    line("  on disk (all .mp4) / indexed", f"{on_disk / MIB:.1f} MiB / {total / MIB:.1f} MiB")
    line("segments (all cameras)", f"{len(all_segments)} "
         f"({sum(1 for s in all_segments if s.ended == 'length')} full length)")
    line("media recorded (all cameras)", f"{media / 60:.1f} min")
    line("segment boundaries checked / gaps or overlaps", f"{checked} / {found}")
    line("  runs started (one per camera) / recorder gaps", f"{restarts + cameras} / "
         f"{reported_gaps}")
    line("files whose length differs from the index", f"{mismatched} of {len(all_segments)}")
    line("packets dropped by the recorders", f"{dropped}")
    rss = run["rss"]
    line("RSS while recording: first sample / max / last", f"{rss[0] / MIB:.0f} / "
         f"{max(rss) / MIB:.0f} / {rss[-1] / MIB:.0f} MiB")
    line("  peak RSS of the process (incl. start-up)",
         f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    line("time to stop (finish 16 segments)", f"{run['stop']:.2f} s")


def media_seconds(path: Path) -> float:
    """Length of a file's video, read back with PyAV."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        rows = [(p.pts, p.duration) for p in container.demux(video) if p.size and p.pts is not None]
        tb = video.time_base
    if not rows or tb is None:
        return 0.0
    return float((max(p + d for p, d in rows) - min(p for p, _ in rows)) * tb)


def ffmpeg_segmenters(url: str, cameras: int, root: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(cameras):
        out = root / f"ff-{i}"
        out.mkdir(parents=True)
        procs.append(subprocess.Popen(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-map", "0", "-c", "copy", "-f", "segment", "-segment_time", "60",
             "-reset_timestamps", "1", "-strftime", "1", str(out / "%Y%m%dT%H%M%S.mp4")],
            stdin=subprocess.DEVNULL,
        ))
    return procs


def bench_vs_ffmpeg(cameras: int, seconds: float, root: Path) -> None:
    from bench_rtsp import GstServer

    server = GstServer(argparse.Namespace(bitrate="3M"))
    try:
        print(f"\nRecording {cameras} RTSP streams (gst-rtsp-server, 1080p15, 3 Mbit/s) for "
              f"{seconds:g} s each way", flush=True)
        run = asyncio.run(record_cameras([server.url] * cameras, root / "camsdk", seconds))
        ours = [s for r in run["recorders"] for s in r.segments]
        ours_bytes, ours_media = sum(s.bytes for s in ours), sum(s.duration for s in ours)
        procs = ffmpeg_segmenters(server.url, cameras, root / "ffmpeg")
        handles = [psutil.Process(p.pid) for p in procs]
        time.sleep(3)  # let every ffmpeg connect and probe before the window opens
        before = sum(sum(h.cpu_times()[:2]) for h in handles)
        started = time.monotonic()
        time.sleep(seconds)
        after = sum(sum(h.cpu_times()[:2]) for h in handles)
        wall = time.monotonic() - started
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        theirs_files = list((root / "ffmpeg").rglob("*.mp4"))
        theirs_bytes = sum(f.stat().st_size for f in theirs_files)
        theirs_media = sum(media_seconds(f) for f in theirs_files)
    finally:
        server.stop()
    ours = run["cpu"] / run["wall"] * 100
    theirs = (after - before) / wall * 100
    line("camsdk recorders, process CPU", f"{ours:.1f} % of one core ({ours / cameras:.2f} % "
         f"per camera)")
    line(f"{cameras} x ffmpeg -c copy -f segment, CPU", f"{theirs:.1f} % of one core "
         f"({theirs / cameras:.2f} % per camera)")
    line("camsdk / ffmpeg CPU", f"{ours / theirs:.2f}x")
    line("written per camera-hour camsdk / ffmpeg", f"{ours_bytes / ours_media * 3.6e-6:.3f} / "
         f"{theirs_bytes / theirs_media * 3.6e-6:.3f} GB")
    line("camsdk process RSS while recording (max, after part 1)",
         f"{max(run['rss']) / MIB:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=16, help="cameras recorded at once")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the virtual run")
    parser.add_argument("--compare-seconds", type=float, default=120.0,
                        help="length of each side of the ffmpeg comparison (0 skips it)")
    parser.add_argument("--keep", action="store_true", help="keep the recorded files")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="camsdk-bench-rec-"))
    try:
        asyncio.run(bench_virtual(args.cameras, args.minutes, root / "virtual"))
        if args.compare_seconds > 0:
            if shutil.which("ffmpeg") is None or not os.path.exists("/usr/bin/python3"):
                print("ffmpeg or the system python for gst-rtsp-server is missing; skipped")
            else:
                bench_vs_ffmpeg(args.cameras, args.compare_seconds, root / "rtsp")
    finally:
        if args.keep:
            print(f"files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
