"""The Ring driver, and the cameras its account hub hands out, pass the conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest

import camsdk
from camsdk.cloud import MemoryTokenStore
from camsdk.testing import RingCloud, closed_port
from camsdk.testing.conformance import CameraConformance, Hook

from .conftest import EVENTS, FAST, log_in


class TestRingConformance(CameraConformance):
    """The wired doorbell; the endpoints ride in the URL so a test can point one elsewhere."""

    @pytest.fixture
    async def logged_in(self, cloud: RingCloud, store: MemoryTokenStore) -> MemoryTokenStore:
        await log_in(cloud, store)
        tokens = await store.load("ring", "home")
        assert tokens is not None
        # A second account name for the unreachable test (its own session).
        await store.save(tokens.model_copy(update={"account": "elsewhere"}))
        return store

    @pytest.fixture
    def camera_url(self, cloud: RingCloud, logged_in: MemoryTokenStore) -> str:
        return f"ring://home/{cloud.device(0).key}?{urlencode(cloud.options)}"

    @pytest.fixture
    def camera_options(self, logged_in: MemoryTokenStore) -> dict[str, Any]:
        return {"token_store": logged_in, "config": FAST, **EVENTS}

    @pytest.fixture
    def unreachable_url(self, cloud: RingCloud) -> str:
        dead = f"http://127.0.0.1:{closed_port()}"
        endpoints = {**cloud.options, "api_url": dead, "oauth_url": dead}
        return f"ring://elsewhere/{cloud.device(0).key}?{urlencode(endpoints)}"

    @pytest.fixture
    def bad_credentials(self, camera_options: dict[str, Any]) -> dict[str, Any]:
        # Ring is logged in to once: a store without the account's tokens is the wrong key.
        return {**camera_options, "token_store": MemoryTokenStore()}

    @pytest.fixture
    def break_stream(self, cloud: RingCloud) -> Hook:
        async def drop() -> None:
            await cloud.drop_live_views()

        return drop

    @pytest.fixture
    def trigger_event(self, cloud: RingCloud) -> Hook:
        async def press() -> None:
            await cloud.wait_until(lambda c: len(c.poll_times) >= 1)  # the camera listens
            cloud.ding(0, "ding")

        return press


class TestRingHubConformance(TestRingConformance):
    """The same suite on the doorbell as the account hub lists it, while the hub is open."""

    @pytest.fixture
    async def hub(self, cloud: RingCloud, logged_in: MemoryTokenStore
                  ) -> AsyncIterator[camsdk.Hub]:
        async with camsdk.hub("ring://home", **cloud.options, token_store=logged_in,
                              config=FAST, **EVENTS) as hub:
            yield hub

    @pytest.fixture
    async def camera_url(self, cloud: RingCloud, hub: camsdk.Hub) -> str:  # type: ignore[override]
        listing = await hub.listing()
        return next(c.url for c in listing if c.id == f"ring:{cloud.device(0).key}")
