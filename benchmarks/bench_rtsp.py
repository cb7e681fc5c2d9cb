"""RTSP upstream benchmarks against an independent server, side by side with the baselines.

    python benchmarks/bench_rtsp.py                  # full run, ~10-15 min
    python benchmarks/bench_rtsp.py --quick          # < 2 min: 8 streams, 10 trials
    python benchmarks/bench_rtsp.py --streams 64,128 --seconds 15 --json out.json

The server is GStreamer's gst-rtsp-server (``scripts/gst_rtsp_server.py``,
run with ``/usr/bin/python3``) on 127.0.0.1, serving one shared 1080p H.264
stream (~3 Mbit/s, 15 fps, GOP 2 s) from an ``ffmpeg -re -stream_loop -1``
feed. Each measurement runs in a fresh interpreter (``rtsp_workers.py``) so
that CPU time and RSS of one method never count against another.

1. N concurrent streams, packets only (N from ``--streams``): delivery %,
   process CPU time and RSS per stream of camsdk vs a bare PyAV demux loop
   without timeouts over the same streams. Targets: CPU <= 1.2x the bare
   loop, RSS <= 2 MiB + prebuffer per stream. The cost of PyAV's
   ``timeout=(open, None)`` (what the reader uses) and of a read timeout
   (what it avoids) are measured on the bare loop as well.
2. Warm snapshot (camera already streaming) vs ``ffmpeg -rtsp_transport tcp
   -i URL -frames:v 1 out.jpg``: target >= 50x faster.
3. Cold snapshot vs naive PyAV (``av.open`` + decode to the first frame):
   target <= 0.8x the time; camsdk never returns a frame with decode errors.
4. Recovery, against camsdk's RtspServer (it injects the faults), short
   timeouts: resume after a server restart within backoff + 1 s, black-hole
   open fails within open_timeout + 1 s, stall detected within
   stall_timeout + 1 s; distributions over ``--trials`` runs.
5. OpenCV ``cv2.VideoCapture`` frames/s and CPU vs camsdk ``frames()`` on the
   same stream (both deliver BGR numpy arrays), and ``keyframes_only``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench_common import ROOT, finish_report, json_worker

WORKERS = Path(__file__).with_name("rtsp_workers.py")
SYSTEM_PYTHON = "/usr/bin/python3"
MIB = 1024 * 1024


def line(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
    mark = "" if ok is None else ("  [meets target]" if ok else "  [MISSES target]")
    tail = f" target {target}{mark}" if target else ""
    print(f"{name:<46} {value:<44}{tail}", flush=True)


def worker(name: str, timeout: float, **args: Any) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its last stdout line is JSON."""
    return json_worker([str(WORKERS), name, json.dumps(args)], timeout)


class GstServer:
    """gst-rtsp-server with the 1080p stream, for the duration of the run."""

    def __init__(self, args: argparse.Namespace) -> None:
        # Its stderr goes to a file: a pipe nobody reads could block the server.
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, str(ROOT / "scripts" / "gst_rtsp_server.py"), "--size", "1920x1080",
             "--fps", "15", "--gop", "30", "--bitrate", args.bitrate, "--seconds", "10",
             "--warm"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        assert self.process.stdout is not None
        started = time.monotonic()
        self.url = ""
        for row in self.process.stdout:
            if row.startswith("READY "):
                self.url = row.split(" ", 1)[1].strip()
                break
            if time.monotonic() - started > 120:
                break
        if not self.url:
            self.stop()
            raise SystemExit(f"gst_rtsp_server.py did not start: {self.exit_reason()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_reason(self) -> str:
        code = self.process.poll()
        self._log.seek(0)
        last = [row.strip() for row in self._log.read().splitlines() if row.strip()][-1:]
        state = "still running" if code is None else f"exit status {code}"
        return f"{state}; {last[0][:160]}" if last else state

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._log.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- 1. N streams ------------------------------------------------------------------------


def _summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Medians (and the spread of CPU per packet) over repeated runs."""
    ok = [r for r in runs if "error" not in r and r["packets"]]
    if not ok:
        return {}
    per_packet = [r["cpu"] / r["packets"] for r in ok]
    return {
        "runs": len(ok),
        "delivery": statistics.median(100 * r["packets"] / r["expected"] for r in ok),
        "cpu_core": statistics.median(r["cpu"] / r["window"] for r in ok),
        "server_core": statistics.median(r["server_cpu"] / r["window"] for r in ok),
        "per_packet": statistics.median(per_packet),
        "per_packet_min": min(per_packet),
        "per_packet_max": max(per_packet),
        "rss": statistics.median(r["rss_per_stream"] for r in ok),
        "opened": min(r["opened"] for r in ok),
        "open_seconds": statistics.median(r["open_seconds"] for r in ok),
    }


def bench_streams(args: argparse.Namespace, counts: list[int], seconds: float,
                  report: dict[str, Any], quick: bool) -> None:
    print("\n== N concurrent streams, packets only (1080p H.264, 15 fps, ~3 Mbit/s)")
    print("   (medians of interleaved runs, each in a fresh process; a fresh server per N)")
    for n in counts:
        repeats = args.repeats if n <= 128 else 1
        # camsdk with its own RTSP client (the default) and with client=ffmpeg (FFmpeg's
        # RTSP client inside PyAV, what camsdk used before), against the bare PyAV loop.
        variants = {"bare-packets": ("bare-packets", {}),
                    "camsdk-packets": ("camsdk-packets", {"client": "camsdk"}),
                    "camsdk-ffmpeg-packets": ("camsdk-packets", {"client": "ffmpeg"})}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        server = GstServer(args)
        crashed = ""
        try:
            for rep in range(repeats):
                # Rotate the order so a drifting machine load favours none.
                order = list(variants)
                order = order[rep % 3:] + order[:rep % 3]
                for name in order:
                    if not server.alive:
                        server.stop()
                        server = GstServer(args)
                    target, extra = variants[name]
                    res = worker(target, 300 + n, url=server.url, streams=n, seconds=seconds,
                                 server_pid=server.pid, **extra)
                    if not server.alive:
                        crashed = server.exit_reason()
                        res = {**res, "error": f"gst-rtsp-server died: {crashed}"}
                    runs[name].append(res)
        finally:
            server.stop()
        report[f"streams_{n}"] = runs
        bare, ours = _summary(runs["bare-packets"]), _summary(runs["camsdk-packets"])
        theirs = _summary(runs["camsdk-ffmpeg-packets"])
        for label, summary, raw in (("bare PyAV loop", bare, runs["bare-packets"]),
                                    ("camsdk", ours, runs["camsdk-packets"]),
                                    ("camsdk client=ffmpeg", theirs,
                                     runs["camsdk-ffmpeg-packets"])):
            if not summary:
                errors = "; ".join(r.get("error", "no packets") for r in raw)
                line(f"{n} streams, {label}", f"FAILED: {errors[:160]}")
                continue
            line(f"{n} streams, {label}: delivered",
                 f"{summary['delivery']:.1f}% ({summary['opened']}/{n} open in "
                 f"{summary['open_seconds']:.1f} s)")
            line(f"{n} streams, {label}: CPU",
                 f"{summary['cpu_core'] * 100:.0f}% of a core, "
                 f"{summary['per_packet'] * 1e6:.0f} us/packet "
                 f"({summary['per_packet_min'] * 1e6:.0f}-{summary['per_packet_max'] * 1e6:.0f}, "
                 f"{summary['runs']} runs); server {summary['server_core'] * 100:.0f}%")
            line(f"{n} streams, {label}: RSS per stream", f"{summary['rss'] / MIB:.2f} MiB")
        if bare and theirs:
            ratio = theirs["per_packet"] / bare["per_packet"]
            line(f"{n} streams: CPU per packet client=ffmpeg / bare", f"{ratio:.2f}x")
        if ours and theirs:
            ratio = ours["per_packet"] / theirs["per_packet"]
            line(f"{n} streams: CPU per packet camsdk / client=ffmpeg", f"{ratio:.2f}x")
        if bare and ours:
            ratio = ours["per_packet"] / bare["per_packet"]
            line(f"{n} streams: CPU per packet camsdk / bare", f"{ratio:.2f}x", "<= 1.2x",
                 ratio <= 1.2)
            prebuffer = 2 * 3_000_000 / 8 * 2.0 / MIB  # up to two 2 s GOPs at 3 Mbit/s
            mem = ours["rss"] / MIB
            line(f"{n} streams: camsdk RSS per stream", f"{mem:.2f} MiB",
                 f"<= 2 MiB + prebuffer ({2 + prebuffer:.1f} MiB)", mem <= 2 + prebuffer)
    if not quick and counts:
        # What PyAV's timeouts cost on the bare loop: (open, None), as the reader
        # opens, against none at all. (A read timeout is what the reader avoids.)
        n = counts[0]
        server = GstServer(args)
        try:
            base, with_open = [], []
            for _ in range(args.repeats):
                common = {"url": server.url, "streams": n, "seconds": seconds,
                          "server_pid": server.pid}
                base.append(worker("bare-packets", 240 + n, **common))
                with_open.append(worker("timeout-packets", 240 + n, **common))
        finally:
            server.stop()
        report["timeout_cost"] = {"none": base, "open_only": with_open}
        a, b = _summary(base), _summary(with_open)
        if a and b:
            ratio = b["per_packet"] / a["per_packet"]
            line(f"{n} streams: PyAV timeout=(open, None) / none", f"{ratio:.2f}x CPU per packet",
                 "~1.0x", ratio <= 1.1)


# -- 2 + 3. snapshots --------------------------------------------------------------------


def bench_snapshots(server: GstServer, cold: int, cli: int, report: dict[str, Any]) -> None:
    for client in ("camsdk", "ffmpeg"):
        _bench_snapshots(server, cold, cli, report, client)


def _bench_snapshots(server: GstServer, cold: int, cli: int, report: dict[str, Any],
                     client: str) -> None:
    print(f"\n== Snapshots (1080p, GOP 2 s), client={client}")
    res = worker("snapshots", 120 + 15 * (cold + cli), url=server.url, cold_trials=cold,
                 cli_trials=cli, client=client)
    report[f"snapshots_{client}"] = res
    if "error" in res:
        line("snapshots", f"ERROR {res['error']}")
        return
    line("warm snapshot, fresh keyframe (decode + JPEG)", f"{res['warm_decode'] * 1000:.1f} ms")
    line("warm snapshot, same keyframe (cached)", f"{res['warm_cached'] * 1000:.3f} ms")
    line("ffmpeg -rtsp_transport tcp -frames:v 1", f"{res['ffmpeg_cli'] * 1000:.0f} ms")
    speedup = res["ffmpeg_cli"] / res["warm_decode"]
    line("warm snapshot speed-up vs ffmpeg CLI", f"{speedup:.0f}x", ">= 50x", speedup >= 50)
    ratio = res["cold"] / res["naive"]
    line(f"cold snapshot, median of {res['trials']}",
         f"{res['cold'] * 1000:.0f} ms (naive PyAV {res['naive'] * 1000:.0f} ms)")
    line("cold snapshot time / naive PyAV", f"{ratio:.2f}x", "<= 0.8x", ratio <= 0.8)
    line("frames with decode errors", f"camsdk {res['camsdk_bad']}, naive PyAV "
         f"{res['naive_corrupt']} of {res['trials']}", "camsdk 0", res["camsdk_bad"] == 0)


# -- 4. recovery -------------------------------------------------------------------------


def bench_recovery(trials: int, report: dict[str, Any]) -> None:
    for client in ("camsdk", "ffmpeg"):
        _bench_recovery(trials, report, client)


def _bench_recovery(trials: int, report: dict[str, Any], client: str) -> None:
    print(f"\n== Recovery against RtspServer faults, {trials} trials each, client={client}")
    res = worker("recovery", 60 + 10 * trials, trials=trials, client=client)
    report[f"recovery_{client}"] = res
    if "error" in res:
        line("recovery", f"ERROR {res['error']}")
        return
    cfg = res["config"]
    excess = [r["resume"] - r["backoff"] for r in res["restart"]]
    within = sum(1 for e in excess if e <= 1.0)
    resume = [r["resume"] for r in res["restart"]]
    line("restart: resume after server is back",
         f"p50 {statistics.median(resume):.2f} p90 {pct(resume, 0.9):.2f} "
         f"max {max(resume):.2f} s")
    line("restart: resume minus backoff delay",
         f"p50 {statistics.median(excess):.2f} max {max(excess):.2f} s "
         f"({within}/{len(excess)} within)", "<= 1 s", within == len(excess))
    stall = res["stall"]
    bound = cfg["stall_timeout"] + 1
    line(f"stall detected (stall_timeout {cfg['stall_timeout']:g} s)",
         f"p50 {statistics.median(stall):.2f} p90 {pct(stall, 0.9):.2f} "
         f"max {max(stall):.2f} s", f"<= {bound:g} s", max(stall) <= bound)
    hole = res["black_hole"]
    bound = cfg["open_timeout"] + 1
    line(f"black-hole open fails (open_timeout {cfg['open_timeout']:g} s)",
         f"p50 {statistics.median(hole):.2f} p90 {pct(hole, 0.9):.2f} "
         f"max {max(hole):.2f} s", f"<= {bound:g} s", max(hole) <= bound)


# -- 5. decoding -------------------------------------------------------------------------


def bench_decode(server: GstServer, seconds: float, report: dict[str, Any]) -> None:
    print("\n== Decoded frames, one 1080p stream (BGR numpy arrays)")
    cv = worker("opencv-frames", 120 + seconds, url=server.url, seconds=seconds)
    ours = worker("camsdk-frames", 120 + seconds, url=server.url, seconds=seconds,
                  keyframes_only=False)
    via_ffmpeg = worker("camsdk-frames", 120 + seconds, url=server.url, seconds=seconds,
                        keyframes_only=False, client="ffmpeg")
    keys = worker("camsdk-frames", 120 + seconds, url=server.url, seconds=seconds,
                  keyframes_only=True)
    report["decode"] = {"opencv": cv, "camsdk": ours, "camsdk_ffmpeg_client": via_ffmpeg,
                        "camsdk_keyframes": keys}
    for name, res in (("OpenCV VideoCapture", cv), ("camsdk frames()", ours),
                      ("camsdk frames(), client=ffmpeg", via_ffmpeg),
                      ("camsdk frames(keyframes_only=True)", keys)):
        if "error" in res:
            line(name, f"ERROR {res['error']}")
        else:
            line(name, f"{res['fps']:.1f} frames/s, {res['cpu'] * 100:.0f}% of a core")
    if "error" not in cv and "error" not in ours and cv["cpu"] > 0:
        line("camsdk / OpenCV CPU per frame",
             f"{(ours['cpu'] / ours['fps']) / (cv['cpu'] / cv['fps']):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of under two minutes")
    parser.add_argument("--streams", help="comma-separated stream counts (default 64,128,256)")
    parser.add_argument("--seconds", type=float, help="measurement window per run")
    parser.add_argument("--trials", type=int, help="recovery trials per fault (default 50)")
    parser.add_argument("--bitrate", default="3M")
    parser.add_argument("--repeats", type=int, help="interleaved runs per stream count <= 128 "
                        "(default 2; 1 with --quick)")
    parser.add_argument("--skip", default="", help="comma-separated: streams,snapshots,"
                        "recovery,decode")
    parser.add_argument("--json", type=Path, help="write every raw figure here")
    args = parser.parse_args()
    quick = args.quick
    counts = [int(c) for c in (args.streams or ("8" if quick else "64,128,256")).split(",")]
    seconds = args.seconds or (5.0 if quick else 10.0)
    args.repeats = args.repeats or (1 if quick else 2)
    trials = args.trials or (10 if quick else 50)
    skip = set(filter(None, args.skip.split(",")))
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                          "load_before": os.getloadavg()}}
    print(f"bench_rtsp: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    started = time.monotonic()
    if "streams" not in skip:
        bench_streams(args, counts, seconds, report, quick)
    server = GstServer(args) if not skip >= {"snapshots", "decode"} else None
    try:
        if server is not None and "snapshots" not in skip:
            bench_snapshots(server, 3 if quick else 10, 2 if quick else 5, report)
        if "recovery" not in skip:
            bench_recovery(trials, report)
        if server is not None and "decode" not in skip:
            bench_decode(server, 5.0 if quick else 15.0, report)
    finally:
        if server is not None:
            server.stop()
    finish_report(report, started, args.json)


if __name__ == "__main__":
    main()
