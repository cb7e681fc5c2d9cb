"""Fixtures of the JetStream sink tests: a real ``nats-server -js`` on 127.0.0.1.

Each test that needs one gets its own server (free port, temporary store),
stopped at the end. Skipped, with the reason, only when the nats-server
binary or the nats-py client is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .nats_server import NatsServer, find_nats_server

pytest.importorskip("nats", reason="the JetStream sink needs nats-py: pip install camsdk[nats]")

NATS_MISSING = find_nats_server() is None
SKIP_REASON = "nats-server is not installed (apt-get install nats-server)"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A JetStream server of this test alone, which it may stop and restart."""
    if NATS_MISSING:
        pytest.skip(SKIP_REASON)
    server = NatsServer()
    server.start()
    yield server
    server.close()


@pytest.fixture
def make_nats_server() -> Iterator[Any]:
    """A factory for servers with options (credentials, max_payload); all closed at the end."""
    if NATS_MISSING:
        pytest.skip(SKIP_REASON)
    servers: list[NatsServer] = []

    def make(**options: Any) -> NatsServer:
        server = NatsServer(**options)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
async def reader(nats_server: NatsServer) -> AsyncIterator[Any]:
    """A plain nats-py JetStream context on the test's server, to read what the sink stored."""
    import nats

    nc = await nats.connect(nats_server.url, allow_reconnect=False)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()
