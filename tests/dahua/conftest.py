"""Fixtures of the Dahua tests: simulated devices on 127.0.0.1 and respx replays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx

from camsdk.testing import DahuaDevice

#: Fast reconnects and short deadlines for tests (backoff is still jittered).
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "connect_timeout": 5.0,
        "request_timeout": 5.0}


@pytest.fixture
def replay_router() -> Iterator[respx.Router]:
    """A respx mock that refuses any request it does not know."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def ipc() -> AsyncIterator[DahuaDevice]:
    """A simulated IP camera with PTZ and a speaker."""
    async with DahuaDevice(kind="ipc", ptz=True, talk=True) as device:
        yield device


@pytest.fixture
async def nvr() -> AsyncIterator[DahuaDevice]:
    """A simulated 4-channel NVR: channel 3 disconnected, channel 4's main stream off."""
    async with DahuaDevice(kind="nvr", channels=4, offline=[3], disabled=[4]) as device:
        yield device
