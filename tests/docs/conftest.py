"""Fixtures of the docs tests: anyio on asyncio, and the session's mosquitto."""

from __future__ import annotations

import pytest

from tests.events.conftest import mosquitto, topic_prefix

__all__ = ["mosquitto", "topic_prefix"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
