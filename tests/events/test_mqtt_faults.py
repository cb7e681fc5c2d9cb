"""The MQTT bridge against a misbehaving broker (a tiny fake, no mosquitto needed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest

from camsdk._models import EventKind
from camsdk.sinks.mqtt import MqttBridge

from ._fakes import FakeCamera

pytestmark = pytest.mark.anyio


class MuteBroker:
    """Speaks just enough MQTT 3.1.1 to accept a client, then stops acknowledging.

    It answers CONNECT, SUBSCRIBE and PINGREQ, and acknowledges only the first
    ``acks`` QoS 1 publishes of each connection.
    """

    def __init__(self, acks: int = 1) -> None:
        self.acks = acks
        self.connections = 0
        self.second_connection = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.topics: list[str] = []
        self._arrived: dict[str, asyncio.Event] = {}

    async def wait_topic(self, topic: str) -> None:
        """Wait until something was published on ``topic``."""
        await self._arrived.setdefault(topic, asyncio.Event()).wait()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> MuteBroker:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        acked = 0
        try:
            while True:
                header = (await reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    byte = (await reader.readexactly(1))[0]
                    length |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                body = await reader.readexactly(length)
                kind = header >> 4
                if kind == 1:  # CONNECT
                    self.connections += 1
                    if self.connections == 2:
                        self.second_connection.set()
                    writer.write(b"\x20\x02\x00\x00")
                elif kind == 8:  # SUBSCRIBE: packet id, then (topic, qos) pairs
                    pid, rest, granted = body[:2], body[2:], b""
                    while rest:
                        size = int.from_bytes(rest[:2], "big")
                        granted += rest[2 + size : 3 + size]
                        rest = rest[3 + size :]
                    writer.write(bytes([0x90, 2 + len(granted)]) + pid + granted)
                elif kind == 3:  # PUBLISH
                    size = int.from_bytes(body[:2], "big")
                    topic = body[2 : 2 + size].decode()
                    self.topics.append(topic)
                    self._arrived.setdefault(topic, asyncio.Event()).set()
                    pid = body[2 + size : 4 + size]
                    if (header >> 1) & 3 and acked < self.acks:
                        acked += 1
                        writer.write(b"\x40\x02" + pid)
                elif kind == 12:  # PINGREQ
                    writer.write(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def cam() -> AsyncIterator[FakeCamera]:
    camera = FakeCamera("cam-m")
    yield camera
    await camera.aclose()


async def test_a_broker_that_stops_acknowledging_is_left_and_messages_kept(
    cam: FakeCamera,
) -> None:
    async with MuteBroker(acks=1) as broker:
        bridge = MqttBridge(
            [cam], hostname="127.0.0.1", port=broker.port, discovery_prefix=None,
            publish_snapshots=False, publish_timeout=0.3, backoff_base=0.05, backoff_cap=0.1,
        )  # fmt: skip
        async with bridge:
            with anyio.fail_after(10):
                await cam.subscribed.wait()
                await cam.emit(EventKind.MOTION)
                await broker.second_connection.wait()
            stats = bridge.stats()
    assert stats.reconnects >= 1
    assert stats.queued >= 2  # the unacknowledged event and state are still queued


async def test_a_failing_snapshot_does_not_stop_the_events(cam: FakeCamera) -> None:
    async def broken(*, max_age: float | None = None) -> object:
        raise RuntimeError("encoder bug")

    cam.snapshot = broken  # type: ignore[method-assign, assignment]
    async with MuteBroker(acks=1000) as broker:
        bridge = MqttBridge(
            [cam], hostname="127.0.0.1", port=broker.port, discovery_prefix=None,
            backoff_base=0.05,
        )  # fmt: skip
        async with bridge:
            with anyio.fail_after(10):
                await bridge.wait_connected()
                await cam.subscribed.wait()
                await cam.emit(EventKind.MOTION)  # asks for a snapshot, which fails
                await broker.wait_topic("camsdk/cam-m/motion")
                await cam.emit(EventKind.PERSON)
                await broker.wait_topic("camsdk/cam-m/person")
            stats = bridge.stats()
    assert stats.reconnects == 0
    assert "camsdk/cam-m/snapshot" not in broker.topics
