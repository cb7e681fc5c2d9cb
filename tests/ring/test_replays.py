"""respx replays of Ring's answers (shapes as Ring sends them, redacted), and hostile ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

import camsdk
from camsdk.cloud import MemoryTokenStore, TokenSet
from camsdk.drivers.ring import RingAuthenticator

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://api.ring.com"
OAUTH = "https://oauth.ring.com"
SNAPS = "https://app-snaps.ring.com"
FAST = {"connect_timeout": 2.0, "request_timeout": 2.0}
FRONT = 9007199254740993  # 2**53 + 1: a float would make it ...992


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def store() -> MemoryTokenStore:
    """A store with the account's tokens, as after ``camsdk login ring``."""
    tokens = TokenSet(scheme="ring", account="home", access_token=SecretStr("replay-access"),
                      refresh_token=SecretStr("replay-refresh"),
                      expires_at=datetime.now(UTC) + timedelta(hours=1),
                      extra={"hardware_id": "00000000-0000-4000-8000-000000000001"})
    return MemoryTokenStore({("ring", "home"): tokens})


@pytest.fixture
def ring() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.post(f"{API}/clients_api/session").respond(json={"profile": {"id": 1}})
        yield router


async def listing(store: MemoryTokenStore) -> dict[str, camsdk.driver.HubCamera]:
    async with camsdk.hub("ring://home", token_store=store, config=FAST) as hub:
        return {c.name: c for c in await hub.listing()}


async def test_a_replayed_account_lists_every_camera_family(
    ring: respx.MockRouter, store: MemoryTokenStore
) -> None:
    ring.get(f"{API}/clients_api/ring_devices").respond(json=fixture("ring_devices_mixed.json"))
    found = await listing(store)
    assert set(found) == {"Front Door", "Side Gate", "Mum's Doorbell", "Driveway",
                          "Back Garden", "Nursery", "Flat 3 Intercom"}
    assert found["Front Door"].id == f"ring:doorbot-{FRONT}"
    assert found["Driveway"].id == f"ring:stickup_cam-{FRONT}", "same id, another family"
    assert found["Side Gate"].extra["battery_level"] == 71
    assert found["Back Garden"].extra["battery_level"] == 56  # 4003 is millivolts
    assert found["Driveway"].extra["power"] == "wired"
    assert found["Mum's Doorbell"].extra["shared"] is True
    assert (found["Mum's Doorbell"].online, found["Mum's Doorbell"].reason) == (
        False, "the device is offline")
    assert found["Nursery"].extra["streaming"] == "blocked: end-to-end encryption"
    assert found["Flat 3 Intercom"].extra["model"] == "Intercom"


async def test_every_request_carries_the_token_and_the_hardware_id(
    ring: respx.MockRouter, store: MemoryTokenStore
) -> None:
    route = ring.get(f"{API}/clients_api/ring_devices").respond(
        json=fixture("ring_devices_mixed.json"))
    await listing(store)
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer replay-access"
    assert request.headers["hardware_id"] == "00000000-0000-4000-8000-000000000001"
    assert request.url.params["api_version"] == "11"


async def test_an_oversized_device_list_is_refused_at_the_cap(
    ring: respx.MockRouter, store: MemoryTokenStore
) -> None:
    ring.get(f"{API}/clients_api/ring_devices").respond(
        content=b'{"doorbots": [' + b'{"id": 1},' * 1_000_000 + b'{"id": 2}]}',
        headers={"content-type": "application/json"})
    with pytest.raises(camsdk.CameraProtocolError, match="cap"):
        await listing(store)


async def test_a_device_list_that_is_not_json_is_a_protocol_error(
    ring: respx.MockRouter, store: MemoryTokenStore
) -> None:
    ring.get(f"{API}/clients_api/ring_devices").respond(
        200, content=b"<html>maintenance</html>", headers={"content-type": "text/html"})
    with pytest.raises(camsdk.CameraProtocolError, match="JSON"):
        await listing(store)


async def test_a_slow_down_answer_is_a_rate_limit_error_with_its_wait(
    ring: respx.MockRouter, store: MemoryTokenStore
) -> None:
    ring.get(f"{API}/clients_api/ring_devices").respond(429, headers={"retry-after": "120"})
    with pytest.raises(camsdk.RateLimitedError) as info:
        await listing(store)
    assert info.value.retry_after == 120.0


async def test_a_snapshot_answered_with_an_error_page_is_not_a_picture(
    ring: respx.MockRouter, store: MemoryTokenStore
) -> None:
    ring.get(f"{API}/clients_api/ring_devices").respond(json=fixture("ring_devices_mixed.json"))
    ring.get(f"{SNAPS}/snapshots/next/{FRONT}").respond(
        200, content=b"<html>Service Unavailable</html>", headers={"content-type": "text/html"})
    async with camsdk.open(f"ring://home/doorbot-{FRONT}", token_store=store,
                           config=FAST) as cam:
        with pytest.raises(camsdk.CameraProtocolError):
            await cam.snapshot(source="device")


async def test_a_recording_link_to_a_foreign_host_is_refused(
    ring: respx.MockRouter, store: MemoryTokenStore, tmp_path: Path
) -> None:
    ring.get(f"{API}/clients_api/ring_devices").respond(json=fixture("ring_devices_mixed.json"))
    ring.get(url__regex=rf"{API}/clients_api/video_search/history.*").respond(json={
        "video_search": [{"ding_id": "7300000000000000009", "created_at": 1_700_000_000_000,
                          "kind": "motion", "duration": 10, "state": "timed_out"}]})
    ring.get(f"{API}/clients_api/dings/7300000000000000009/share/play").respond(
        json={"url": "https://collector.example.com/steal.mp4"})
    async with camsdk.open(f"ring://home/doorbot-{FRONT}", token_store=store,
                           config=FAST) as cam:
        [rec] = await cam.recordings(datetime(2023, 11, 14, tzinfo=UTC),
                                     datetime(2023, 11, 15, tzinfo=UTC))
        assert rec.id == "7300000000000000009"
        with pytest.raises(camsdk.RedirectRefusedError):
            await rec.download(tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


async def test_an_email_challenge_is_read_from_ring_s_412(ring: respx.MockRouter) -> None:
    ring.post(f"{OAUTH}/oauth/token").respond(
        412, json={"next_time_in_secs": 60, "phone": "r***@e***.com", "tsv_state": "email"})
    steps = RingAuthenticator(account="home", credentials=camsdk.Credentials("a@b.c", "pw"),
                              hardware_id="hw-1")
    try:
        challenge = await steps.begin()
    finally:
        await steps.aclose()
    assert isinstance(challenge, camsdk.cloud.Challenge)
    assert (challenge.kind, challenge.destination) == ("email", "r***@e***.com")
    request = ring.calls.last.request
    assert request.headers["2fa-support"] == "true" and request.headers["hardware_id"] == "hw-1"
    assert json.loads(request.content)["client_id"] == "ring_official_android"


async def test_a_token_answer_without_an_access_token_is_a_protocol_error(
    ring: respx.MockRouter,
) -> None:
    ring.post(f"{OAUTH}/oauth/token").respond(200, json={"token_type": "Bearer"})
    steps = RingAuthenticator(account="home", credentials=camsdk.Credentials("a@b.c", "pw"),
                              hardware_id="hw-1")
    try:
        with pytest.raises(camsdk.CameraProtocolError, match="no access token"):
            await steps.begin()
    finally:
        await steps.aclose()


async def test_too_many_logins_is_a_rate_limit_error_with_ring_s_wait(
    ring: respx.MockRouter,
) -> None:
    ring.post(f"{OAUTH}/oauth/token").respond(429, headers={"retry-after": "300"},
                                             json={"error": "too many requests"})
    steps = RingAuthenticator(account="home", credentials=camsdk.Credentials("a@b.c", "pw"),
                              hardware_id="hw-1")
    try:
        with pytest.raises(camsdk.RateLimitedError) as info:
            await steps.begin()
    finally:
        await steps.aclose()
    assert info.value.retry_after == 300.0


def test_the_endpoints_are_ring_s_hosts_by_default() -> None:
    from camsdk.drivers.ring import RingDriver

    hosts = set(RingDriver.egress_hosts)
    assert {"oauth.ring.com", "api.ring.com", "app-snaps.ring.com"} <= hosts
    assert httpx.URL("https://api.prod.signalling.ring.devices.a2z.com").host in hosts
