"""MQTT bridge throughput and latency through a local mosquitto, 100 simulated cameras.

    python benchmarks/bench_mqtt.py [--cameras 100] [--events 100] [--rate 1000] [--seconds 5]

Starts its own mosquitto on a free 127.0.0.1 port (scripts/mosquitto-test.conf),
bridges N simulated cameras (one broker connection each) and measures with a
subscriber in a separate process (``<prefix>/+/events``, QoS 1):

1. throughput: every camera emits ``--events`` events as fast as the bridge
   takes them (paced on its queue so nothing is dropped);
2. latency: ``--rate`` events/s spread over all cameras for ``--seconds``.

Latency is camera emit -> subscriber receive, on the shared monotonic clock
(``time.perf_counter`` is CLOCK_MONOTONIC on Linux, the same in both
processes). Each event also updates a retained ``ON``/``OFF`` state message,
so the broker carries two messages per event. Stops mosquitto at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camsdk._events import EventPipeline, EventSubscription  # noqa: E402
from camsdk._models import CameraEvent, CameraInfo, Capability, EventKind, Snapshot  # noqa: E402

PREFIX = "bench"


def _launcher() -> Any:
    path = ROOT / "scripts" / "mosquitto_test.py"
    spec = importlib.util.spec_from_file_location("mosquitto_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class SimulatedCamera:
    """Just enough of a camera for the bridge: events from `emit`, no snapshots or PTZ."""

    def __init__(self, index: int) -> None:
        self._id = f"sim-{index:03d}"
        self.pipeline = EventPipeline(camera_id=self._id, source=None, hold=3600)
        self.subscribed = asyncio.Event()
        self.seq = 0

    @property
    def id(self) -> str:
        return self._id

    @property
    def info(self) -> CameraInfo:
        return CameraInfo(id=self._id, name=self._id, vendor="bench")

    @property
    def capabilities(self) -> Capability:
        return Capability.EVENTS

    async def snapshot(self, *, max_age: float | None = None) -> Snapshot:
        raise NotImplementedError

    def events(self) -> EventSubscription:
        self.subscribed.set()
        return self.pipeline.subscribe(queue_size=4096)

    @property
    def ptz(self) -> Any:
        raise NotImplementedError

    def emit(self, phase: int) -> None:
        """One event; starts and ends alternate so the state topic flips too."""
        self.seq += 1
        self.pipeline.publish_nowait(
            CameraEvent(
                kind=EventKind.MOTION,
                active=self.seq % 2 == 1,
                zone="z",
                extra={"t": time.perf_counter(), "p": phase, "n": self.seq},
            )
        )


# -- the subscriber process -------------------------------------------------------------


async def receive(port: int, expected: dict[int, int], deadline: float) -> dict[str, Any]:
    import aiomqtt

    seen: dict[int, set[tuple[str, int]]] = {p: set() for p in expected}
    latency: dict[int, list[float]] = {p: [] for p in expected}
    first_emit: dict[int, float] = {}
    last_recv: dict[int, float] = {}
    duplicates = 0
    async with aiomqtt.Client("127.0.0.1", port, max_queued_incoming_messages=0) as client:
        await client.subscribe(f"{PREFIX}/+/events", qos=1)
        print("ready", flush=True)
        try:
            async with asyncio.timeout(deadline):
                async for msg in client.messages:
                    now = time.perf_counter()
                    event = json.loads(msg.payload)  # type: ignore[arg-type]
                    extra = event["extra"]
                    phase = extra["p"]
                    key = (event["camera_id"], extra["n"])
                    if key in seen[phase]:
                        duplicates += 1
                        continue
                    seen[phase].add(key)
                    latency[phase].append(now - extra["t"])
                    first_emit[phase] = min(first_emit.get(phase, extra["t"]), extra["t"])
                    last_recv[phase] = now
                    if all(len(seen[p]) >= n for p, n in expected.items()):
                        break
        except TimeoutError:
            pass
    result: dict[str, Any] = {"duplicates": duplicates}
    for phase, lat in latency.items():
        lat.sort()
        span = last_recv.get(phase, 0.0) - first_emit.get(phase, 0.0)
        result[str(phase)] = {
            "received": len(lat),
            "expected": expected[phase],
            "events_per_s": len(lat) / span if span > 0 else 0.0,
            "p50_ms": statistics.median(lat) * 1e3 if lat else None,
            "p99_ms": lat[max(0, int(len(lat) * 0.99) - 1)] * 1e3 if lat else None,
        }
    return result


def receiver_main(port: int, expected_text: str, deadline: float) -> int:
    expected = {int(p): int(n) for p, n in (x.split("=") for x in expected_text.split(","))}
    print(json.dumps(asyncio.run(receive(port, expected, deadline))), flush=True)
    return 0


# -- the bridge process --------------------------------------------------------------------


async def bench(port: int, cameras: int, events: int, rate: float, seconds: float) -> None:
    from camsdk.sinks.mqtt import MqttBridge

    cams = [SimulatedCamera(i) for i in range(cameras)]
    latency_events = int(rate * seconds)
    expected = f"1={cameras * events},2={latency_events}"
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receiver", str(port), expected, str(60 + seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    line = await asyncio.to_thread(receiver.stdout.readline)
    assert line.strip() == "ready", line
    bridge = MqttBridge(
        cams, hostname="127.0.0.1", port=port, prefix=PREFIX, discovery_prefix=None,
        publish_snapshots=False, queue_size=4096, inflight=64,
    )  # fmt: skip
    connect_started = time.perf_counter()
    async with bridge:
        await bridge.wait_connected()
        connected_in = time.perf_counter() - connect_started
        for cam in cams:
            await cam.subscribed.wait()

        # 1. throughput: emit in rounds, pacing on the bridge's backlog.
        started = time.perf_counter()
        cpu_started = time.process_time()
        for _ in range(events):
            for cam in cams:
                cam.emit(1)
            while bridge.stats().queued > cameras * 64:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)
        await bridge.flush()
        phase1_s = time.perf_counter() - started
        phase1_cpu = time.process_time() - cpu_started

        # 2. latency at a fixed rate, spread over the cameras.
        interval = 1.0 / rate
        next_at = time.perf_counter()
        for i in range(latency_events):
            cams[i % cameras].emit(2)
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await bridge.flush()
        stats = bridge.stats()
    out, _ = await asyncio.to_thread(receiver.communicate, timeout=90)
    result = json.loads(out.strip().splitlines()[-1])
    for cam in cams:
        await cam.pipeline.aclose()

    p1, p2 = result["1"], result["2"]
    total1 = cameras * events
    print(
        f"MQTT bridge: {cameras} cameras, one broker connection each "
        f"(connected in {connected_in:.2f} s)"
    )
    print(
        f"  throughput   {p1['events_per_s']:>10,.0f} events/s end to end "
        f"({2 * p1['events_per_s']:,.0f} MQTT messages/s), {p1['received']}/{total1} "
        f"received; bridge side {total1 / phase1_s:,.0f} events/s, "
        f"{total1 / phase1_cpu:,.0f} per CPU-second"
    )
    print(
        f"               latency under saturation p50 {p1['p50_ms']:.1f} ms  "
        f"p99 {p1['p99_ms']:.1f} ms"
    )
    print(
        f"  at {rate:,.0f}/s    latency p50 {p2['p50_ms']:.2f} ms  p99 {p2['p99_ms']:.2f} ms, "
        f"{p2['received']}/{latency_events} received"
    )
    print(
        f"  bridge       published {stats.published}, dropped {stats.dropped}, "
        f"reconnects {stats.reconnects}, duplicates seen {result['duplicates']}"
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--receiver":
        return receiver_main(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--events", type=int, default=100, help="events per camera (phase 1)")
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s in phase 2")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of phase 2")
    args = parser.parse_args()
    launcher = _launcher()
    if launcher.find_mosquitto() is None:
        print("mosquitto is not installed (apt-get install mosquitto)", file=sys.stderr)
        return 2
    with launcher.Mosquitto() as broker:
        print(f"mosquitto on 127.0.0.1:{broker.port}")
        asyncio.run(bench(broker.port, args.cameras, args.events, args.rate, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
