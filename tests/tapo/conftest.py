"""Fixtures of the Tapo tests: simulated cameras on 127.0.0.1, fast settings.

- ``camera``: a C210-like PTZ camera on current firmware (secure login,
  password kept as SHA-256).
- ``legacy_camera``: a C200-like camera on older firmware (legacy MD5
  login, 1.3-style answers).

Every test starts with no pinned certificates and no refused credentials
carried over from another. The passwords are the simulator's test
accounts; they are no real secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from camsdk import Credentials
from camsdk.drivers.tapo import _api, _tls
from camsdk.testing import TapoDevice

USER, PASSWORD = "admin", "tapo-cloud-pw"
STREAM_USER, STREAM_PASSWORD = "camera-user", "tapo-stream-pw"
CREDS = Credentials(USER, PASSWORD)
STREAM_CREDS = Credentials(STREAM_USER, STREAM_PASSWORD)
#: Fast reconnects: tests wait on events, never on the clock.
FAST = {"backoff_base": 0.05, "backoff_cap": 0.2, "connect_timeout": 5.0,
        "request_timeout": 5.0}


def options(**extra: Any) -> dict[str, Any]:
    """`camsdk.open` keywords for the simulators: both accounts and a fast config."""
    return {"credentials": CREDS, "stream_credentials": STREAM_CREDS, "config": FAST, **extra}


def device(**kwargs: Any) -> TapoDevice:
    """A simulator with the test accounts."""
    return TapoDevice(username=USER, password=PASSWORD, stream_user=STREAM_USER,
                      stream_password=STREAM_PASSWORD, **kwargs)


@pytest.fixture(autouse=True)
def fresh_tapo_state() -> Iterator[None]:
    """No pins or refused credentials carried from one test to the next."""
    _api.forget_refusals()
    _tls.forget_process_pins()
    yield
    _api.forget_refusals()
    _tls.forget_process_pins()


@pytest.fixture
async def camera() -> AsyncIterator[TapoDevice]:
    """A PTZ camera on current firmware (secure login)."""
    async with device() as sim:
        yield sim


@pytest.fixture
async def legacy_camera() -> AsyncIterator[TapoDevice]:
    """A camera on older firmware (legacy MD5 login, 1.3-style answers)."""
    async with device(secure=False, legacy_format=True, model="C200", hardware="1.0",
                      firmware="1.3.17 Build 260112 Rel.54862n(4555)") as sim:
        yield sim
