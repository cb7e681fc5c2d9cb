"""Fixtures of the Hikvision tests.

- ``loopback_only`` (autouse, shared with the ONVIF tests): any connect or
  datagram to an address that is not loopback fails the test.
- ``fresh_refusals`` (autouse): forgets refused logins between tests, as a
  new process would.
- ``camera`` / ``nvr``: running simulators (a PTZ dome with talk; a 4-channel
  NVR with channel 3 offline), with fast heartbeats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from camsdk.drivers.hikvision._api import forget_refusals
from camsdk.testing import HikvisionDevice
from tests.onvif.conftest import loopback_only  # noqa: F401 - the autouse guard

from ._helpers import PASSWORD, USER


@pytest.fixture(autouse=True)
def fresh_refusals() -> Iterator[None]:
    """No refused login carries over from another test."""
    forget_refusals()
    yield
    forget_refusals()


@pytest.fixture
async def camera() -> AsyncIterator[HikvisionDevice]:
    """A simulated PTZ camera with two-way audio (Digest, heartbeats every 0.5 s)."""
    async with HikvisionDevice(username=USER, password=PASSWORD, heartbeat=0.5) as device:
        yield device


@pytest.fixture
async def nvr() -> AsyncIterator[HikvisionDevice]:
    """A simulated 4-channel NVR whose channel 3 is offline."""
    async with HikvisionDevice(username=USER, password=PASSWORD, kind="nvr", channels=4,
                               offline={3}, ptz={1}, talk=None, heartbeat=0.5) as device:
        yield device
