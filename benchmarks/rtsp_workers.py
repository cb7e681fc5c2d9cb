"""Measurement workers of ``bench_rtsp.py``; each runs in a fresh interpreter.

A worker prints one JSON object on its last stdout line. Running each
measurement in its own process keeps CPU time and RSS of one method from
leaking into the other's figures (allocator arenas are never given back).

    python benchmarks/rtsp_workers.py camsdk-packets '{"url": ..., "streams": 64, ...}'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FPS = 15


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def _tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process and its children (the RTSP server), 0 when gone."""
    if not pid:
        return 0.0
    try:
        root = psutil.Process(pid)
        return _cpu(root) + sum(_cpu(c) for c in root.children(recursive=True))
    except psutil.Error:
        return 0.0


# -- N streams, packets only -------------------------------------------------------------


class _Streams:
    """N consumers on one event loop: how many opened, and packets each counted in the window."""

    def __init__(self, streams: int) -> None:
        self.streams = streams
        self.counts = [0] * streams
        self.opened = 0
        self.all_open = asyncio.Event()
        # Packets count by when they arrived from the network (received_at), so a
        # loop that lags behind at the window's edges neither gains nor loses any.
        self.window = (float("inf"), float("inf"))

    def open_one(self) -> None:
        self.opened += 1
        if self.opened == self.streams:
            self.all_open.set()

    def count(self, i: int, received_at: float) -> None:
        if self.window[0] <= received_at < self.window[1]:
            self.counts[i] += 1


async def _measure_streams(
    run: _Streams, consume: Any, seconds: float, server_pid: int, *, drain: float
) -> tuple[dict[str, Any], list[asyncio.Task[None]]]:
    """Start ``consume(i)`` for every stream, wait for all to open (120 s at most), settle,
    measure a window of ``seconds``, wait ``drain`` for its packets, then cancel them all.

    Returns the figures and the tasks that had ended by themselves before the cancel.
    """
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    threads0 = proc.num_threads()
    started = time.monotonic()
    tasks = [asyncio.create_task(consume(i)) for i in range(run.streams)]
    try:
        await asyncio.wait_for(run.all_open.wait(), timeout=120)
    except TimeoutError:
        pass
    open_seconds = time.monotonic() - started
    await asyncio.sleep(2.0)  # settle
    rss1 = proc.memory_info().rss
    cpu0, srv0, t0 = _cpu(proc), _tree_cpu(server_pid), time.monotonic()
    run.window = (t0, t0 + seconds)
    threads = proc.num_threads()
    await asyncio.sleep(seconds)
    cpu1, srv1, t1 = _cpu(proc), _tree_cpu(server_pid), time.monotonic()
    rss2 = proc.memory_info().rss
    threads = max(threads, proc.num_threads())
    await asyncio.sleep(drain)  # packets of the window still on their way through the loop
    early = [t for t in tasks if t.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    window = t1 - t0
    opened = run.opened
    return {
        "streams": run.streams, "opened": opened, "open_seconds": open_seconds,
        "packets": sum(run.counts), "expected": opened * FPS * window,
        "cpu": cpu1 - cpu0, "window": window, "server_cpu": srv1 - srv0,
        "rss_per_stream": (max(rss1, rss2) - rss0) / max(opened, 1),
        "threads_per_stream": (threads - threads0) / max(opened, 1),
    }, early


async def camsdk_packets(url: str, streams: int, seconds: float, server_pid: int,
                         client: str = "camsdk") -> dict[str, Any]:
    import camsdk
    from camsdk import MediaPacket

    # Generous deadlines: hundreds of simultaneous opens queue at the server, and
    # the bare loop it is compared with has no deadline at all.
    config = {"open_timeout": 60.0, "stall_timeout": 15.0, "idle_close": 0.0,
              "connect_timeout": 60.0}
    run = _Streams(streams)

    async def consume(i: int) -> None:
        async with camsdk.open(url, config=config, client=client) as cam:
            async with cam.stream(audio=False) as stream, stream.packets(audio=False) as it:
                run.open_one()
                async for item in it:  # ends by cancellation
                    if isinstance(item, MediaPacket):
                        run.count(i, item.received_at)

    result, early = await _measure_streams(run, consume, seconds, server_pid, drain=1.0)
    failures = [type(t.exception()).__name__ for t in early
                if not t.cancelled() and t.exception() is not None]
    return {**result, "failures": failures[:5], "failed": len(failures)}


async def client_packets(url: str, streams: int, seconds: float, server_pid: int,
                         transport: str = "tcp") -> dict[str, Any]:
    """camsdk's own RTSP client (``camsdk._rtsp.RtspUpstream``), one per stream, on one
    event loop: no thread per stream. Counts video access units."""
    from camsdk._rtsp import RtspSettings, RtspUpstream

    run = _Streams(streams)
    failures: list[str] = []

    async def consume(i: int) -> None:
        settings = RtspSettings(url, transport=transport, audio=False,  # type: ignore[arg-type]
                                request_timeout=60.0)
        upstream = RtspUpstream(settings)
        try:
            await upstream.start()
            run.open_one()
            async for packet in upstream:  # ends by cancellation
                run.count(i, packet.received_at)
        except Exception as exc:  # reported in the result, not raised
            failures.append(type(exc).__name__)
        finally:
            await upstream.aclose()

    result, _ = await _measure_streams(run, consume, seconds, server_pid, drain=0.5)
    return {**result, "failures": failures[:5], "failed": len(failures)}


def bare_packets(url: str, streams: int, seconds: float, server_pid: int) -> dict[str, Any]:
    """A bare PyAV demux loop per stream, in threads, no timeouts: the baseline."""
    import av

    proc = psutil.Process()
    counts = [0] * streams
    opened = 0
    lock = threading.Lock()
    state = {"counting": False, "stop": False}
    rss0 = proc.memory_info().rss
    threads0 = proc.num_threads()

    def run(i: int) -> None:
        nonlocal opened
        try:
            container = av.open(url, container_options={"rtsp_transport": "tcp"})
        except av.error.FFmpegError:
            return
        with lock:
            opened += 1
        try:
            video = container.streams.video[0]
            for packet in container.demux(video):
                if state["stop"]:
                    break
                if state["counting"] and packet.size:
                    counts[i] += 1
        except av.error.FFmpegError:
            pass
        finally:
            container.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(streams)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    deadline = started + 120
    while opened < streams and time.monotonic() < deadline:
        time.sleep(0.1)
    open_seconds = time.monotonic() - started
    time.sleep(2.0)
    rss1 = proc.memory_info().rss
    cpu0, srv0, t0 = _cpu(proc), _tree_cpu(server_pid), time.monotonic()
    state["counting"] = True
    thread_count = proc.num_threads()
    time.sleep(seconds)
    state["counting"] = False
    cpu1, srv1, t1 = _cpu(proc), _tree_cpu(server_pid), time.monotonic()
    rss2 = proc.memory_info().rss
    state["stop"] = True
    # Bounded in total: an overloaded server may leave threads blocked for long
    # (they are daemon threads; the process exits after printing).
    until = time.monotonic() + 15
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()))
    window = t1 - t0
    return {
        "streams": streams, "opened": opened, "open_seconds": open_seconds,
        "packets": sum(counts), "expected": opened * FPS * window,
        "cpu": cpu1 - cpu0, "window": window, "server_cpu": srv1 - srv0,
        "rss_per_stream": (max(rss1, rss2) - rss0) / max(opened, 1),
        "threads_per_stream": (thread_count - threads0) / max(opened, 1),
    }


def timeout_cost(url: str, streams: int, seconds: float, server_pid: int) -> dict[str, Any]:
    """The bare loop again, opened with PyAV's ``timeout=(open, None)`` as the reader does."""
    import av

    original = av.open

    def with_timeout(*args: Any, **kwargs: Any) -> Any:
        return original(*args, timeout=(60.0, None), **kwargs)

    av.open = with_timeout
    try:
        return bare_packets(url, streams, seconds, server_pid)
    finally:
        av.open = original


# -- snapshots ---------------------------------------------------------------------------


async def snapshots(url: str, cold_trials: int, cli_trials: int,
                    client: str = "camsdk") -> dict[str, Any]:
    import av

    import camsdk

    config = {"open_timeout": 10.0, "snapshot_timeout": 10.0, "idle_close": 0.0}
    out: dict[str, Any] = {}

    # Warm: the camera is streaming; a snapshot decodes the cached keyframe once,
    # then repeats are served from the snapshot cache until the next keyframe.
    async with camsdk.open(url, config=config, client=client) as cam, cam.stream():
        first = []
        cached = []
        for _ in range(10):
            entry = await cam.snapshot(max_age=0)  # waits for a new keyframe; warms up
            started = time.perf_counter()
            await cam.snapshot()
            cached.append(time.perf_counter() - started)
            del entry
        for _ in range(5):
            # A fresh keyframe each time: decode + JPEG encode of 1080p.
            session = cam._sessions["main"]
            seq = session.keyframe.seq if session.keyframe else 0
            await session.next_keyframe(newer_than=seq)
            started = time.perf_counter()
            await cam.snapshot()
            first.append(time.perf_counter() - started)
        out["warm_decode"] = statistics.median(first)
        out["warm_cached"] = statistics.median(cached)

    cli = []
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "out.jpg")
        for _ in range(cli_trials):
            time.sleep(random.uniform(0, 2.0))  # a random phase of the GOP, as above
            started = time.perf_counter()
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-rtsp_transport",
                            "tcp", "-i", url, "-frames:v", "1", target], check=True)
            cli.append(time.perf_counter() - started)
    out["ffmpeg_cli"] = statistics.median(cli)

    cold, naive = [], []
    naive_corrupt = 0
    camsdk_bad = 0

    def naive_once() -> tuple[float, bool]:
        started = time.perf_counter()
        with av.open(url, container_options={"rtsp_transport": "tcp"}) as container:
            frame = next(container.decode(video=0))
            corrupt = bool(frame.is_corrupt)
        return time.perf_counter() - started, corrupt

    # Each trial starts at a random phase of the 2 s GOP: back-to-back trials
    # would lock onto the keyframe rhythm and favour one method.
    phase = random.Random(1)
    for _ in range(cold_trials):
        await asyncio.sleep(phase.uniform(0, 2.0))
        started = time.perf_counter()
        async with camsdk.open(url, config=config, client=client) as cam:
            snap = await cam.snapshot()
        cold.append(time.perf_counter() - started)
        with av.open(__import__("io").BytesIO(snap.jpeg), "r") as check:
            picture = next(check.decode(video=0))
            camsdk_bad += int(picture.width != 1920 or picture.is_corrupt)
        await asyncio.sleep(phase.uniform(0, 2.0))
        seconds, corrupt = await asyncio.to_thread(naive_once)
        naive.append(seconds)
        naive_corrupt += int(corrupt)
    out.update(
        cold=statistics.median(cold), cold_all=cold, naive=statistics.median(naive),
        naive_all=naive, naive_corrupt=naive_corrupt, camsdk_bad=camsdk_bad,
        trials=cold_trials,
    )
    return out


# -- recovery ----------------------------------------------------------------------------


async def recovery(trials: int, client: str = "camsdk") -> dict[str, Any]:
    import camsdk
    from camsdk import Discontinuity, MediaPacket, StreamState
    from camsdk.testing import RtspFault, RtspServer, generate_source

    loop = generate_source(fps=30, gop=15, seconds=1.0)
    config = {"open_timeout": 1.0, "stall_timeout": 0.5, "backoff_base": 0.1,
              "backoff_cap": 0.5, "idle_close": 0.0, "connect_timeout": 2.0}
    restart: list[dict[str, float]] = []
    stall: list[float] = []
    black_hole: list[float] = []

    async def next_packet(it: Any) -> MediaPacket:
        async for item in it:
            if isinstance(item, MediaPacket):
                return item
        raise RuntimeError("stream ended")

    async with RtspServer(loop) as server:
        async with camsdk.open(server.url, config=config, probe=False, client=client) as cam:
            async with cam.stream() as stream, stream.packets() as it:
                session = cam._sessions["main"]
                backoffs: list[float] = []

                def record(state: StreamState, detail: str) -> None:
                    if state is StreamState.BACKOFF:
                        backoffs.append(session.backoff_delay)

                session.add_state_listener(record)
                for _ in range(trials):
                    await next_packet(it)
                    backoffs.clear()
                    server.inject(RtspFault.RESTART, delay=0.3)
                    await asyncio.sleep(0)
                    await server.wait_ready()
                    back = time.monotonic()
                    seen_gap = False
                    async with asyncio.timeout(10):
                        async for item in it:
                            if isinstance(item, Discontinuity):
                                seen_gap = True
                            elif seen_gap:
                                break
                    resumed = time.monotonic() - back
                    restart.append({"resume": resumed, "backoff": max(backoffs, default=0.0)})

                for _ in range(trials):
                    last = await next_packet(it)
                    server.inject(RtspFault.STALL)
                    async with asyncio.timeout(10):
                        async for item in it:
                            if isinstance(item, Discontinuity):
                                break
                            last = item
                    stall.append(time.monotonic() - last.received_at)
                    server.clear_faults()

        server.inject(RtspFault.BLACK_HOLE)
        for _ in range(trials):
            async with camsdk.open(server.url, config=config, probe=False, client=client) as cam:
                started = time.monotonic()
                with contextlib.suppress(camsdk.CamError):
                    await cam.stream().open()
                black_hole.append(time.monotonic() - started)
        server.clear_faults()
    return {"restart": restart, "stall": stall, "black_hole": black_hole, "config": config}


# -- decoding: OpenCV vs camsdk ----------------------------------------------------------


def opencv_frames(url: str, seconds: float) -> dict[str, Any]:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    import cv2

    proc = psutil.Process()
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        return {"error": "VideoCapture did not open"}
    for _ in range(15):  # past the open and the first GOP
        cap.read()
    cpu0, t0, frames = _cpu(proc), time.monotonic(), 0
    while time.monotonic() - t0 < seconds:
        ok, _ = cap.read()
        if not ok:
            break
        frames += 1
    window = time.monotonic() - t0
    cpu = _cpu(proc) - cpu0
    cap.release()
    return {"fps": frames / window, "cpu": cpu / window}


async def camsdk_frames(url: str, seconds: float, keyframes_only: bool,
                        client: str = "camsdk") -> dict[str, Any]:
    import camsdk
    from camsdk import VideoFrame

    proc = psutil.Process()
    config = {"open_timeout": 10.0, "idle_close": 0.0}
    cam = camsdk.open(url, config=config, client=client)
    async with cam, cam.stream(audio=False) as stream:
        frames_iter = stream.frames(format="bgr24", keyframes_only=keyframes_only)
        async with frames_iter:
            got = 0
            t0 = cpu0 = None
            async for item in frames_iter:
                if not isinstance(item, VideoFrame):
                    continue
                item.to_ndarray()  # what an OpenCV user gets: a BGR numpy array
                if t0 is None:
                    t0, cpu0 = time.monotonic(), _cpu(proc)
                    continue
                got += 1
                if time.monotonic() - t0 >= seconds:
                    break
    assert t0 is not None and cpu0 is not None
    window = time.monotonic() - t0
    return {"fps": got / window, "cpu": (_cpu(proc) - cpu0) / window}


WORKERS = {
    "camsdk-packets": lambda a: asyncio.run(camsdk_packets(**a)),
    "bare-packets": lambda a: bare_packets(**a),
    "client-packets": lambda a: asyncio.run(client_packets(**a)),
    "timeout-packets": lambda a: timeout_cost(**a),
    "snapshots": lambda a: asyncio.run(snapshots(**a)),
    "recovery": lambda a: asyncio.run(recovery(**a)),
    "opencv-frames": lambda a: opencv_frames(**a),
    "camsdk-frames": lambda a: asyncio.run(camsdk_frames(**a)),
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2])
    # FFmpeg's console chatter (decoder warnings at stream joins) is not a result.
    with contextlib.suppress(Exception):
        import av.logging

        av.logging.set_level(av.logging.PANIC)
    result = WORKERS[name](args)
    print(json.dumps(result), flush=True)
    # Do not wait for stray daemon threads (an overloaded server's clients).
    os._exit(0)


if __name__ == "__main__":
    main()
