"""Fixtures of the Reolink tests: simulated devices on 127.0.0.1.

- ``camera``: a single PTZ camera (RLC-823A-like) with ONVIF off, so event
  tests see the plain polling path unless they ask for ONVIF.
- ``nvr``: a 4-channel NVR: channel 1 refuses its streams, channel 2 is
  offline, channel 3 is a sleeping battery camera (Argus on a Home Hub).

Credentials are the simulator's test account; they are no real secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from camsdk import Credentials
from camsdk.testing import ReolinkDevice

USER, PASSWORD = "admin", "reolink-sim-pw"
CREDS = Credentials(USER, PASSWORD)
#: Fast reconnects and polls: tests wait on events, never on the clock.
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "connect_timeout": 5.0,
        "request_timeout": 5.0}


def options(**extra: Any) -> dict[str, Any]:
    """`camsdk.open` keywords for the simulators: credentials, fast config, fast polls."""
    return {"credentials": CREDS, "config": FAST, "poll_interval": 0.1, **extra}


@pytest.fixture
async def camera() -> AsyncIterator[ReolinkDevice]:
    """A single PTZ camera."""
    async with ReolinkDevice(username=USER, password=PASSWORD, ptz=True,
                             model="RLC-823A") as device:
        yield device


@pytest.fixture
async def nvr() -> AsyncIterator[ReolinkDevice]:
    """A 4-channel NVR with a refused, an offline and a sleeping battery channel."""
    async with ReolinkDevice(username=USER, password=PASSWORD, channels=4, name="Garage NVR",
                             refuse_stream=[1], offline=[2], battery=[3]) as device:
        yield device
