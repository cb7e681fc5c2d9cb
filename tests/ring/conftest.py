"""Fixtures of the Ring tests: a simulated cloud, a logged-in token store, fast settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import camsdk
from camsdk.cloud import MemoryTokenStore, login
from camsdk.drivers.ring import _auth
from camsdk.drivers.virtual._scene import encoded_loop
from camsdk.testing import RingCloud

FAST = {"backoff_base": 0.05, "backoff_cap": 0.3, "connect_timeout": 5.0,
        "request_timeout": 5.0, "open_timeout": 10.0, "stall_timeout": 5.0}
#: Events: push counts as silent after 1 s without a byte; polls every 0.2 s.
EVENTS = {"push_health": 1.0, "poll_interval": 0.2, "poll_cap": 1.0}


@pytest.fixture(scope="session", autouse=True)
def _encoded_loop() -> None:
    """Encode the simulator's video loop once, up front."""
    from camsdk.drivers.virtual._scene import LoopParams

    encoded_loop(LoopParams(width=320, height=240, fps=15, gop=15, seconds=2))


@pytest.fixture(autouse=True)
def fresh_code_limits() -> Iterator[None]:
    """Each test starts with no 2FA code spacing carried over from another."""
    _auth._CODE_LIMITERS.clear()
    yield
    _auth._CODE_LIMITERS.clear()


@pytest.fixture
async def cloud(camsdk_no_task_leaks: None) -> AsyncIterator[RingCloud]:
    """The simulated cloud with its default devices (see `default_devices`).

    Closed before the task-leak check runs (hence the dependency on it).
    """
    async with RingCloud(push_heartbeat=0.2) as sim:  # five heartbeats per health window
        yield sim


@pytest.fixture
def store() -> MemoryTokenStore:
    """The test's own token store."""
    return MemoryTokenStore()


def credentials(cloud: RingCloud) -> camsdk.Credentials:
    """The simulated account's e-mail and password."""
    return camsdk.Credentials(cloud.email, cloud.password)


async def log_in(cloud: RingCloud, store: Any, account: str = "home", **options: Any) -> None:
    """Log in with 2FA through `camsdk.cloud.login`, as ``camsdk login ring`` does."""
    flow = await login("ring", account=account, store=store, credentials=credentials(cloud),
                       **{**cloud.options, "token_store": store, **options})
    await flow.complete(cloud.code)
    assert flow.done


@pytest.fixture
async def options(cloud: RingCloud, store: MemoryTokenStore) -> dict[str, Any]:
    """`camsdk.open`/`camsdk.hub` keywords for an account logged in to the cloud fixture."""
    await log_in(cloud, store)
    return {**cloud.options, "token_store": store, "config": FAST, **EVENTS}


def camera_url(cloud: RingCloud, which: int | str = 0, account: str = "home") -> str:
    """The ``ring://`` URL of a simulated device."""
    return f"ring://{account}/{cloud.device(which).key}"


@pytest.fixture(autouse=True)
def no_account_session_left_open() -> Iterator[None]:
    """Every test releases the account sessions it opened (the last user closes them)."""
    from camsdk.drivers.ring._account import SESSIONS

    yield
    left = dict(SESSIONS._entries)
    assert not left, f"ring sessions left open: {left}"
