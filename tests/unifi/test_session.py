"""Console sessions: certificate pinning, one login shared, stored sessions, lockouts."""

from __future__ import annotations

from typing import Any

import pytest

import camsdk
from camsdk.cloud import MemoryTokenStore
from camsdk.drivers.unifi import CertificateChangedError
from camsdk.testing import UnifiConsole

from .conftest import PASSWORD, USER

pytestmark = pytest.mark.anyio


async def test_the_first_certificate_is_pinned_and_stored(
    console: UnifiConsole, options: dict[str, Any], store: MemoryTokenStore
) -> None:
    async with camsdk.open(console.camera_url(0), **options) as cam:
        assert cam.info.extra["tls_sha256"] == console.fingerprint
    pins = [s for s in store.saves if s.extra.get("sha256")]
    assert [p.extra["sha256"] for p in pins] == [console.fingerprint]


async def test_a_changed_certificate_is_refused_naming_both_fingerprints(
    options: dict[str, Any]
) -> None:
    async with UnifiConsole(username=USER, password=PASSWORD) as first:
        async with camsdk.open(first.camera_url(0), **options):
            pass
        old = first.fingerprint
    # Another console (another certificate) at an address the store has a pin for.
    async with UnifiConsole(username=USER, password=PASSWORD) as second:
        url = second.camera_url(0)
        with pytest.raises(CertificateChangedError) as info:
            await camsdk.open(url, **{**options, "fingerprint": old}).connect()
    assert info.value.expected == old and info.value.seen == second.fingerprint
    assert old in str(info.value) and second.fingerprint in str(info.value)
    assert isinstance(info.value, camsdk.CameraConnectionError)
    assert second.logins == 0


async def test_a_restart_resumes_the_stored_session_without_logging_in(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    async with camsdk.open(console.camera_url(0), **options):
        pass
    async with camsdk.open(console.camera_url(1), **options):
        pass
    assert console.logins == 1


async def test_the_hub_and_its_cameras_share_one_login(
    console: UnifiConsole, options: dict[str, Any], store: MemoryTokenStore
) -> None:
    async with camsdk.hub(console.url, **options) as hub:
        cams = await hub.cameras()
        for cam in cams:
            await cam.connect()
    assert console.logins == 1
    assert console.sessions == 1


async def test_a_wrong_password_is_sent_once_and_never_again(
    console: UnifiConsole, options: dict[str, Any]
) -> None:
    bad = {**options, "credentials": camsdk.Credentials(USER, "wrong")}
    for _ in range(3):
        with pytest.raises(camsdk.AuthenticationError):
            await camsdk.open(console.camera_url(0), **bad).connect()
    assert console.failed_logins == 1


async def test_a_locked_console_is_a_typed_error_and_not_retried(
    options: dict[str, Any]
) -> None:
    async with UnifiConsole(username=USER, password=PASSWORD, lockout_after=1) as console:
        with pytest.raises(camsdk.AuthenticationError):
            await camsdk.open(console.camera_url(0),
                              **{**options, "credentials": camsdk.Credentials(USER, "x")}).connect()
        assert console.locked
        with pytest.raises(camsdk.RateLimitedError) as info:
            await camsdk.open(console.camera_url(0), **options).connect()
        assert info.value.retry_after == 900
        with pytest.raises(camsdk.RateLimitedError):
            await camsdk.open(console.camera_url(0), **options).connect()
        assert len([r for r in console.http.requests if r.path == "/api/auth/login"]) == 2


async def test_logins_are_spaced_by_the_limiter(console: UnifiConsole,
                                                options: dict[str, Any]) -> None:
    spaced = {**options, "login_spacing": 600}
    async with camsdk.open(console.camera_url(0), **spaced) as cam:
        console.expire_sessions()
        with pytest.raises(camsdk.RateLimitedError):
            await cam.snapshot(source="device")
    assert console.logins == 1


async def test_a_lapsed_session_logs_in_again_once(console: UnifiConsole,
                                                   options: dict[str, Any]) -> None:
    async with camsdk.open(console.camera_url(0), **options) as cam:
        console.expire_sessions()
        snap = await cam.snapshot(source="device")
    assert snap.source == "device"
    assert console.logins == 2


async def test_a_session_cap_is_a_rate_limit(options: dict[str, Any]) -> None:
    async with UnifiConsole(username=USER, password=PASSWORD, max_sessions=0) as console:
        with pytest.raises(camsdk.RateLimitedError):
            await camsdk.open(console.camera_url(0), **options).connect()


async def test_an_api_key_uses_the_integration_api(console: UnifiConsole,
                                                   options: dict[str, Any]) -> None:
    from .conftest import API_KEY

    keyed = {k: v for k, v in options.items() if k != "credentials"}
    async with camsdk.open(console.camera_url(0), **keyed, api_key=API_KEY) as cam:
        assert cam.info.extra["api"] == "integration"
        assert [p.name for p in cam.info.profiles] == ["high", "medium", "low"]
    assert console.logins == 0
    # The key travels in its header only, never in a URL.
    assert all(API_KEY not in f"{r.path}?{r.query}" for r in console.http.requests)
    assert all(r.headers.get("x-api-key") == API_KEY for r in console.http.requests)


async def test_no_credentials_and_no_key_is_an_authentication_error(
    console: UnifiConsole, store: MemoryTokenStore
) -> None:
    with pytest.raises(camsdk.AuthenticationError, match="api_key"):
        await camsdk.open(console.camera_url(0), token_store=store).connect()
