"""Fixtures of the UniFi Protect tests: a simulated console, credentials, fast settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import camsdk
from camsdk.cloud import MemoryTokenStore
from camsdk.drivers.unifi import _session
from camsdk.testing import UnifiConsole

USER = "admin"
PASSWORD = "camsdk-sim-pw"
API_KEY = "sim-api-key-0123456789"
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "connect_timeout": 5.0,
        "request_timeout": 5.0}


@pytest.fixture(autouse=True)
def fresh_console_state() -> Iterator[None]:
    """Each test starts with no refused logins and no login spacing carried over."""
    _session._REFUSED.clear()
    _session._LIMITERS.clear()
    yield
    _session._REFUSED.clear()
    _session._LIMITERS.clear()


@pytest.fixture
def store() -> MemoryTokenStore:
    """A token store of the test's own (sessions and pins do not leak between tests)."""
    return MemoryTokenStore()


@pytest.fixture
def options(store: MemoryTokenStore) -> dict[str, Any]:
    """`camsdk.open`/`camsdk.hub` keywords for the console fixture."""
    return {"credentials": camsdk.Credentials(USER, PASSWORD), "config": FAST,
            "token_store": store, "login_spacing": 0, "liveness": 2.0}


@pytest.fixture
async def console() -> AsyncIterator[UnifiConsole]:
    """A console with a doorbell, a PTZ camera and a bullet."""
    async with UnifiConsole(cameras=3, username=USER, password=PASSWORD,
                            api_key=API_KEY) as device:
        yield device
