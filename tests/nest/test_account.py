"""The shared Nest account: tokens, dead grants, Google's quotas and 429s, and the audit rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import camsdk
from camsdk.cloud import MemoryTokenStore
from camsdk.drivers.nest._quota import QuotaWindows
from camsdk.privacy import MemoryAuditSink
from camsdk.testing import NestCloud

from ..cloud._clock import ManualClock

pytestmark = pytest.mark.anyio


async def expired_store(cloud: NestCloud) -> MemoryTokenStore:
    store = MemoryTokenStore()
    tokens = cloud.tokens()
    await store.save(tokens.model_copy(update={"expires_at": datetime.now(UTC)
                                               - timedelta(minutes=1)}))
    return store


async def test_an_expired_access_token_is_refreshed_once_for_every_camera(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    store = await expired_store(cloud)
    options = {**options, "token_store": store}
    async with camsdk.hub(cloud.hub_url, **options) as hub:
        cams = await hub.cameras()
        for cam in cams:
            await cam.connect()
    assert cloud.oauth.refreshes == 1
    assert len(store.saves) == 2  # the login, then one rotation saved before use


async def test_a_dead_refresh_token_asks_to_log_in_again_with_the_seven_day_hint(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    store = await expired_store(cloud)
    cloud.revoke_grants()
    cam = camsdk.open(cloud.camera_url("Garage"), **{**options, "token_store": store})
    with pytest.raises(camsdk.ReauthRequiredError) as info:
        await cam.connect()
    assert "7 days" in info.value.action and "In production" in info.value.action
    assert "invalid_grant" in info.value.reason


async def test_after_a_dead_grant_no_request_reaches_google(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    store = await expired_store(cloud)
    async with camsdk.hub(cloud.hub_url, **{**options, "token_store": store}) as hub:
        cloud.revoke_grants()
        cloud.expire_access_tokens()
        hub_account = hub._driver.account  # type: ignore[attr-defined]
        with pytest.raises(camsdk.ReauthRequiredError):
            await hub_account.devices(fresh=True)
        requests = len(cloud.http.requests)
        for _ in range(3):
            with pytest.raises(camsdk.ReauthRequiredError):
                await hub_account.devices(fresh=True)
        assert len(cloud.http.requests) == requests


async def test_no_stored_login_is_reauth_required_before_any_request(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    cam = camsdk.open(cloud.camera_url("Garage"), **{**options, "token_store":
                                                     MemoryTokenStore()})
    with pytest.raises(camsdk.ReauthRequiredError) as info:
        await cam.connect()
    assert "camsdk login nest://" in info.value.action
    assert len(cloud.http.requests) == 0


async def test_a_wrong_client_secret_on_refresh_is_an_authentication_error(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    store = await expired_store(cloud)
    wrong = camsdk.Credentials(cloud.client_id, "not-the-secret")
    cam = camsdk.open(cloud.camera_url("Garage"),
                      **{**options, "token_store": store, "credentials": wrong})
    with pytest.raises(camsdk.AuthenticationError, match="invalid_client") as info:
        await cam.connect()
    assert "not-the-secret" not in str(info.value)


async def test_a_429_is_rate_limited_and_holds_the_account_without_a_hot_retry(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.hub(cloud.hub_url, **options) as hub:
        account = hub._driver.account  # type: ignore[attr-defined]
        cloud.throttle(1)
        with pytest.raises(camsdk.RateLimitedError) as info:
            await account.devices(fresh=True)
        assert info.value.retry_after == pytest.approx(60.0)
        requests = len(cloud.http.requests)
        with pytest.raises(camsdk.RateLimitedError):
            await account.devices(fresh=True)
        assert len(cloud.http.requests) == requests  # held locally: no second request
    assert cloud.throttled == 1


async def test_a_device_command_waits_for_its_quota_minute() -> None:
    clock = ManualClock()
    quota = QuotaWindows(clock=clock.clock, sleep=clock.sleep)
    for _ in range(5):
        await quota.acquire("dev:GenerateWebRtcStream", 5, max_wait=0)
    assert quota.wait_for("dev:GenerateWebRtcStream", 5) == pytest.approx(60.0)
    assert quota.wait_for("other:GenerateWebRtcStream", 5) == 0.0
    with pytest.raises(camsdk.RateLimitedError) as info:
        await quota.acquire("dev:GenerateWebRtcStream", 5, max_wait=10.0)
    assert info.value.retry_after == pytest.approx(60.0)
    await clock.advance(60.0)
    await quota.acquire("dev:GenerateWebRtcStream", 5, max_wait=0)


async def test_commands_over_the_quota_never_reach_google(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(cloud.camera_url("Garage"),
                           **{**options, "command_qpm": 2}) as cam:
        driver = cam._driver  # type: ignore[attr-defined]
        account, device = driver.account, driver.device.id
        for _ in range(2):
            await account.command(device, "CameraLiveStream.StopWebRtcStream",
                                   {"mediaSessionId": "none"}, why="stop", max_wait=0)
        with pytest.raises(camsdk.RateLimitedError, match="quota"):
            await account.command(device, "CameraLiveStream.StopWebRtcStream",
                                  {"mediaSessionId": "none"}, why="stop", max_wait=0)
    assert cloud.commands["StopWebRtcStream"] == 2 and cloud.throttled == 0


async def test_account_requests_are_audited_one_by_one_where_they_serve(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    hub_log, cam_log = MemoryAuditSink(), MemoryAuditSink()
    async with camsdk.hub(cloud.hub_url, **options, audit=hub_log):
        pass
    async with camsdk.open(cloud.camera_url("Garage"), **options, audit=cam_log):
        pass
    hub_requests = [r for r in hub_log.records if r["event"] == "cloud.request"]
    cam_requests = [r for r in cam_log.records if r["event"] == "cloud.request"]
    assert [r["why"] for r in hub_requests] == ["list the devices", "list the structures"]
    assert [r["why"] for r in cam_requests] == ["read the device", "list the structures"]
    assert all("?" not in r["path"] and r["host"] == "127.0.0.1" for r in hub_requests)
    assert hub_requests[0]["principal"] == "owner"


async def test_a_token_refresh_is_audited_with_no_secret(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    store = await expired_store(cloud)
    log = MemoryAuditSink()
    async with camsdk.open(cloud.camera_url("Garage"), **options | {"token_store": store},
                           audit=log):
        pass
    refresh = [r for r in log.records if r.get("why") == "refresh the access token"]
    assert len(refresh) == 1 and refresh[0]["path"] == "/token"
    text = repr(log.records)
    saved = await store.load("nest", cloud.project_id)
    assert saved is not None and saved.refresh_token is not None
    assert saved.refresh_token.get_secret_value() not in text
    assert cloud.client_secret not in text


async def test_an_audit_log_that_fails_stops_account_requests(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    class Broken:
        def write(self, record: Any) -> None:
            if record.get("event") == "cloud.request":
                raise OSError("disk full")

    with pytest.raises(camsdk.AccessDeniedError):
        async with camsdk.hub(cloud.hub_url, **options, audit=Broken()):
            pass
    assert cloud.reads["devices.list"] == 0
