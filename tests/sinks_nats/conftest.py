"""Fixtures of the JetStream sink tests: a real ``nats-server -js`` on 127.0.0.1.

Each test that needs one gets its own server (free port, temporary store),
stopped at the end. Skipped, with the reason, only when the nats-server
binary is missing (or, in the modules that need it, the nats-py client).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .nats_server import NatsServer, find_nats_server

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
