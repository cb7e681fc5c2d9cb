"""The Nest driver (an RTSP camera) and the cameras its hub lists (a WebRTC camera) pass the
driver conformance suite against the simulated cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

import camsdk
from camsdk.cloud import MemoryTokenStore
from camsdk.testing import NestCloud, closed_port
from camsdk.testing.conformance import CameraConformance, Hook

from .conftest import FAST


def endpoints(cloud: NestCloud, base: str | None = None) -> str:
    """The simulator's endpoints as URL query text (``base`` moves the SDM API elsewhere)."""
    options = cloud.options()
    query = {"sdm_url": base or options["sdm_url"], "token_url": options["token_url"],
             "pubsub_url": options["pubsub_url"], "subscription": options["subscription"],
             "webrtc_hosts": "127.0.0.1", "feed_window": "5"}
    return urlencode(query)


class TestNestConformance(CameraConformance):
    """A wired Nest camera that streams RTSP (a Nest Cam IQ on the Nest app)."""

    device = "Rtsp"

    @pytest.fixture
    def camera_url(self, cloud: NestCloud) -> str:
        return f"{cloud.camera_url(self.device)}?{endpoints(cloud)}"

    @pytest.fixture
    def camera_options(self, cloud: NestCloud, store: MemoryTokenStore) -> dict[str, Any]:
        return {"token_store": store, "credentials": cloud.credentials, "config": FAST}

    @pytest.fixture
    def unreachable_url(self, cloud: NestCloud) -> str:
        base = f"http://127.0.0.1:{closed_port()}/v1"
        return f"{cloud.camera_url(self.device)}?{endpoints(cloud, base)}"

    @pytest.fixture
    async def bad_credentials(self, cloud: NestCloud) -> dict[str, Any]:
        expired = MemoryTokenStore()
        tokens = cloud.tokens()
        await expired.save(tokens.model_copy(update={
            "expires_at": datetime.now(UTC) - timedelta(minutes=1)}))
        return {"token_store": expired, "config": FAST,
                "credentials": camsdk.Credentials(cloud.client_id, "wrong-client-secret")}

    @pytest.fixture
    def break_stream(self, cloud: NestCloud) -> Hook:
        return cloud.break_streams

    @pytest.fixture
    def trigger_event(self, cloud: NestCloud) -> Hook:
        async def motion() -> None:
            cloud.start_event(self.device, "motion")

        return motion


class TestNestHubConformance(TestNestConformance):
    """The same suite on a WebRTC camera as the account hub lists it, while the hub is open."""

    device = "Garage"

    @pytest.fixture
    async def hub(self, cloud: NestCloud, camera_options: dict[str, Any]
                  ) -> AsyncIterator[camsdk.Hub]:
        async with camsdk.hub(f"{cloud.hub_url}?{endpoints(cloud)}", **camera_options) as hub:
            yield hub

    @pytest.fixture
    async def camera_url(self, cloud: NestCloud, hub: camsdk.Hub) -> str:  # type: ignore[override]
        listing = await hub.listing()
        garage = next(c for c in listing if c.name == "Garage")
        return garage.url
