"""camsdk's own RTSP client against the bare PyAV demux loop, side by side in one run.

    python benchmarks/bench_rtsp_client.py                     # 64,128,256 streams
    python benchmarks/bench_rtsp_client.py --streams 8 --seconds 5 --repeats 1   # quick
    python benchmarks/bench_rtsp_client.py --json out.json

Server: GStreamer's gst-rtsp-server (``scripts/gst_rtsp_server.py`` under
``/usr/bin/python3``) on 127.0.0.1 with one shared 1080p H.264 stream, 15 fps,
~3 Mbit/s, GOP 2 s (the same source as ``bench_rtsp.py``); a fresh server per
stream count. Each measurement runs in a fresh interpreter
(``rtsp_workers.py``): ``client-packets`` is N ``RtspUpstream`` on one event
loop, ``bare-packets`` is N threads each running ``av.open(url,
rtsp_transport=tcp)`` and ``for packet in container.demux(video)``. Both
count video access units that arrived in a window; CPU is the process's
user+system time in that window.

Reported per stream count: delivery % (received / 15 per stream and second),
CPU per delivered access unit and the ratio camsdk / bare (target <= 0.3x at
64 and 128 streams), threads per stream (target 0), RSS per stream (target
<= 1 MiB), and the server's own CPU, which says when the server is the
bottleneck. Not a timed test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_common import finish_report
from bench_rtsp import MIB, GstServer, line, worker

NAMES = {"client-packets": "camsdk client", "bare-packets": "bare PyAV loop"}


def summary(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Medians over repeated runs (empty when every run failed)."""
    ok = [r for r in runs if "error" not in r and r.get("packets")]
    if not ok:
        return {}
    return {
        "runs": len(ok),
        "delivery": statistics.median(100 * r["packets"] / r["expected"] for r in ok),
        "cpu_core": statistics.median(r["cpu"] / r["window"] for r in ok),
        "server_core": statistics.median(r["server_cpu"] / r["window"] for r in ok),
        "per_unit": statistics.median(r["cpu"] / r["packets"] for r in ok),
        "rss": statistics.median(r["rss_per_stream"] for r in ok),
        "threads": statistics.median(r.get("threads_per_stream", 0.0) for r in ok),
        "opened": min(r["opened"] for r in ok),
        "open_seconds": statistics.median(r["open_seconds"] for r in ok),
    }


def run(args: argparse.Namespace, n: int, report: dict[str, Any]) -> dict[str, dict[str, float]]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in NAMES}
    server = GstServer(args)
    try:
        for rep in range(args.repeats):
            order = list(NAMES) if rep % 2 == 0 else list(NAMES)[::-1]
            for name in order:
                if not server.alive:
                    server.stop()
                    server = GstServer(args)
                res = worker(name, 300 + n, url=server.url, streams=n, seconds=args.seconds,
                             server_pid=server.pid)
                if not server.alive:
                    res = {**res, "error": f"gst-rtsp-server died: {server.exit_reason()}"}
                runs[name].append(res)
    finally:
        server.stop()
    report[f"streams_{n}"] = runs
    out = {}
    for name, label in NAMES.items():
        s = summary(runs[name])
        out[name] = s
        if not s:
            errors = "; ".join(r.get("error", "no packets") for r in runs[name])
            line(f"{n} streams, {label}", f"FAILED: {errors[:160]}")
            continue
        line(f"{n} streams, {label}: delivered",
             f"{s['delivery']:.1f}% ({s['opened']:.0f}/{n} open in {s['open_seconds']:.1f} s)")
        line(f"{n} streams, {label}: CPU",
             f"{s['cpu_core'] * 100:.0f}% of a core, {s['per_unit'] * 1e6:.0f} us/unit; "
             f"server {s['server_core'] * 100:.0f}%")
        line(f"{n} streams, {label}: per stream",
             f"{s['rss'] / MIB:.2f} MiB RSS, {s['threads']:.2f} threads")
    return out


def cell(summary: dict[str, float], key: str, scale: float, fmt: str) -> str:
    """One table cell, or "failed" when every run of that method failed."""
    return fmt.format(summary[key] * scale) if summary else "failed"


def ratio(bare: dict[str, float], ours: dict[str, float]) -> str:
    """CPU per unit, camsdk over bare, against the 0.3x target."""
    if not bare or not ours:
        return "n/a"
    value = ours["per_unit"] / bare["per_unit"]
    return f"{value:.2f}x ({'meets' if value <= 0.3 else 'misses'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="64,128,256")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs per count")
    parser.add_argument("--bitrate", default="3M")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    counts = [int(c) for c in args.streams.split(",")]
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                          "load_before": os.getloadavg()}}
    print(f"bench_rtsp_client: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print("== N concurrent 1080p H.264 streams (15 fps, ~3 Mbit/s), packets only")
    started = time.monotonic()
    table: list[tuple[int, dict[str, dict[str, float]]]] = []
    for n in counts:
        table.append((n, run(args, n, report)))
    print("\n| streams | bare delivered | camsdk delivered | bare us/unit | camsdk us/unit | "
          "ratio (target <= 0.3x) | camsdk threads/stream | camsdk RSS/stream | "
          "server CPU (camsdk / bare runs) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, res in table:
        bare, ours = res["bare-packets"], res["client-packets"]
        print(f"| {n} | {cell(bare, 'delivery', 1, '{:.1f}%')} | "
              f"{cell(ours, 'delivery', 1, '{:.1f}%')} | {cell(bare, 'per_unit', 1e6, '{:.0f}')} | "
              f"{cell(ours, 'per_unit', 1e6, '{:.0f}')} | {ratio(bare, ours)} | "
              f"{cell(ours, 'threads', 1, '{:.2f}')} | "
              f"{cell(ours, 'rss', 1 / MIB, '{:.2f} MiB')} | "
              f"{cell(ours, 'server_core', 100, '{:.0f}%')} / "
              f"{cell(bare, 'server_core', 100, '{:.0f}%')} |")
    finish_report(report, started, args.json)


if __name__ == "__main__":
    main()
