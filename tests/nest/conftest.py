"""Fixtures of the Nest tests: a simulated Google Nest cloud, a logged-in token store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from camsdk.cloud import MemoryTokenStore
from camsdk.testing import NestCloud

FAST = {"backoff_base": 0.05, "backoff_cap": 0.3, "connect_timeout": 5.0,
        "request_timeout": 5.0, "open_timeout": 10.0}


@pytest.fixture
async def cloud() -> AsyncIterator[NestCloud]:
    """A project with a wired RTSP camera, a battery WebRTC doorbell, a WebRTC camera and a
    thermostat; pulls answer within half a second when nothing happens."""
    async with NestCloud(pull_wait=0.5) as sim:
        yield sim


@pytest.fixture
async def store(cloud: NestCloud) -> MemoryTokenStore:
    """A token store holding a fresh login of the simulated project."""
    tokens = MemoryTokenStore()
    await tokens.save(cloud.tokens())
    return tokens


@pytest.fixture
def options(cloud: NestCloud, store: MemoryTokenStore) -> dict[str, Any]:
    """`camsdk.open` / `camsdk.hub` keywords for the simulated cloud."""
    return {**cloud.options(), "token_store": store, "config": FAST,
            "credentials": cloud.credentials, "feed_window": 5.0}
