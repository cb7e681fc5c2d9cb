"""JetStream sink throughput and publish->ack latency, against raw nats-py, same payloads.

    python benchmarks/bench_nats.py [--events 5000] [--latency 1000] [--rounds 2]

Starts its own ``nats-server -js`` on a free 127.0.0.1 port with a temporary
store (tests/sinks_nats/nats_server.py), then, in the same run and on the
same server, alternating rounds:

1. throughput: ``--events`` events queued with ``sink.send`` and flushed
   (each acknowledged by JetStream before it leaves the queue) against a
   loop of ``await js.publish(...)`` with nats-py on the same bodies and
   headers (``Nats-Msg-Id`` included), one ack awaited at a time like the
   sink;
2. latency: ``--latency`` events one at a time, ``send`` -> ack (the event
   leaving the queue) against one ``js.publish`` call; p50 and p99.

The ratio is the overhead of the sink (queue, subject and Msg-Id, JSON,
retry bookkeeping) over the bare client. File storage; stops the server.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camsdk._models import CameraEvent, EventKind  # noqa: E402
from camsdk.sinks._webhook_payload import camsdk_payload, encode_body  # noqa: E402
from camsdk.sinks.nats import JetStreamSink  # noqa: E402
from tests.sinks_nats.nats_server import NatsServer  # noqa: E402


def events(n: int, tag: str) -> list[CameraEvent]:
    return [
        CameraEvent(kind=EventKind.PERSON, camera_id=f"cam-{i % 16:02d}", event_id=f"{tag}-{i}",
                    score=0.9, zone="driveway")
        for i in range(n)
    ]  # fmt: skip


def raw_messages(evs: list[CameraEvent]) -> list[tuple[str, bytes, dict[str, str]]]:
    """What the sink sends, built ahead: subject, body, headers."""
    out = []
    for e in evs:
        headers = {"Nats-Msg-Id": f"{e.camera_id}:{e.event_id}:start",
                   "Content-Type": "application/json", "Camsdk-Event-Kind": e.kind.value}
        out.append((f"raw.{e.camera_id}.{e.kind.value}", encode_body(camsdk_payload(e)), headers))
    return out  # fmt: skip


async def sink_throughput(url: str, n: int, tag: str) -> float:
    async with JetStreamSink(url, ensure_stream=True, queue_size=n + 1) as sink:
        evs = events(n, tag)
        start = time.perf_counter()
        for e in evs:
            sink.send(e)
        await sink.flush()
        elapsed = time.perf_counter() - start
        assert sink.stats.published == n and sink.stats.dropped == 0, sink.stats
    return n / elapsed


async def raw_throughput(js: Any, n: int, tag: str) -> float:
    msgs = raw_messages(events(n, tag))
    start = time.perf_counter()
    for subject, body, headers in msgs:
        await js.publish(subject, body, headers=headers)
    return n / (time.perf_counter() - start)


async def sink_latency(url: str, n: int, tag: str) -> list[float]:
    samples = []
    async with JetStreamSink(url, ensure_stream=True) as sink:
        for e in events(n, tag):
            start = time.perf_counter()
            sink.send(e)
            await sink.flush()
            samples.append(time.perf_counter() - start)
    return samples


async def raw_latency(js: Any, n: int, tag: str) -> list[float]:
    samples = []
    for subject, body, headers in raw_messages(events(n, tag)):
        start = time.perf_counter()
        await js.publish(subject, body, headers=headers)
        samples.append(time.perf_counter() - start)
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(args: argparse.Namespace) -> None:
    import nats

    server = NatsServer()
    server.start()
    try:
        nc = await nats.connect(server.url, allow_reconnect=False)
        js = nc.jetstream()
        await js.add_stream(name="RAW", subjects=["raw.>"])
        sink_tp: list[float] = []
        raw_tp: list[float] = []
        sink_lat: list[float] = []
        raw_lat: list[float] = []
        for r in range(args.rounds):
            raw_tp.append(await raw_throughput(js, args.events, f"t{r}"))
            sink_tp.append(await sink_throughput(server.url, args.events, f"t{r}"))
            raw_lat = await raw_latency(js, args.latency, f"l{r}")
            sink_lat = await sink_latency(server.url, args.latency, f"l{r}")
        await nc.close()
    finally:
        server.close()
    best_sink, best_raw = max(sink_tp), max(raw_tp)
    print(f"nats-server {args.events} events, file storage, best of {args.rounds} rounds")
    print(f"throughput  sink {best_sink:8.0f} ev/s   raw nats-py {best_raw:8.0f} ev/s   "
          f"ratio {best_sink / best_raw:.2f}")  # fmt: skip
    print(f"  (all rounds: sink {[round(x) for x in sink_tp]}, raw {[round(x) for x in raw_tp]})")
    print(f"latency p50 sink {pct(sink_lat, 0.5):6.3f} ms    raw {pct(raw_lat, 0.5):6.3f} ms   "
          f"ratio {pct(sink_lat, 0.5) / pct(raw_lat, 0.5):.2f}")  # fmt: skip
    print(f"latency p99 sink {pct(sink_lat, 0.99):6.3f} ms    raw {pct(raw_lat, 0.99):6.3f} ms   "
          f"ratio {pct(sink_lat, 0.99) / pct(raw_lat, 0.99):.2f}")  # fmt: skip
    print(f"  (mean sink {statistics.fmean(sink_lat) * 1000:.3f} ms, "
          f"raw {statistics.fmean(raw_lat) * 1000:.3f} ms, last round, {args.latency} samples)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--latency", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
