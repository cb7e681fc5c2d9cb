"""Logging in to a Tapo camera: both variants, session renewal, and device care."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import AuthenticationError, Credentials, DeviceError, UnsupportedCapabilityError
from camsdk.drivers.tapo import _api
from camsdk.testing import TapoDevice

from .conftest import PASSWORD, USER, device, options

pytestmark = pytest.mark.anyio

WRONG = Credentials(USER, "not-the-cloud-password")


async def details(cam: camsdk.Camera) -> dict[str, Any]:
    result: dict[str, Any] = await cam.call_extension("login_details")
    return result


@pytest.mark.parametrize("password_hash", ["sha256", "md5"])
async def test_the_secure_login_finds_how_the_camera_hashes_the_password(
    password_hash: str,
) -> None:
    async with device(password_hash=password_hash) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            assert (await details(cam))["password_hash"] == password_hash
            assert cam.info.extra["login"] == "secure"
        assert sim.counters.logins == 1


async def test_every_secure_request_carries_a_fresh_sequence_and_a_valid_tag(
    camera: TapoDevice,
) -> None:
    async with camsdk.open(camera.url, **options()) as cam:
        for _ in range(5):
            await cam.ptz.presets()
        assert camera.counters.tag_failures == 0
        assert (await details(cam))["requests"] >= 5


async def test_a_camera_without_the_secure_login_gets_the_legacy_one(
    legacy_camera: TapoDevice,
) -> None:
    async with camsdk.open(legacy_camera.url, **options()) as cam:
        assert cam.info.extra["login"] == "legacy"
        assert cam.info.model == "C200"
    assert legacy_camera.counters.logins == 1


async def test_a_wrong_password_is_caught_by_the_cameras_proof_before_any_digest_is_sent(
    camera: TapoDevice,
) -> None:
    with anyio.fail_after(10), pytest.raises(AuthenticationError) as info:
        await camsdk.open(camera.url, **options(credentials=WRONG)).connect()
    assert "cloud password" in str(info.value)
    sent = [p for p in camera.counters.login_params if "digest_passwd" in p]
    assert sent == [] and camera.counters.failed_logins == 0


async def test_a_wrong_legacy_password_is_an_authentication_error(
    legacy_camera: TapoDevice,
) -> None:
    with anyio.fail_after(10), pytest.raises(AuthenticationError):
        await camsdk.open(legacy_camera.url, **options(credentials=WRONG)).connect()
    assert legacy_camera.counters.failed_logins == 1


async def test_refused_credentials_are_never_sent_again_in_this_process(
    legacy_camera: TapoDevice,
) -> None:
    for _ in range(3):
        with anyio.fail_after(10), pytest.raises(AuthenticationError):
            await camsdk.open(legacy_camera.url, **options(credentials=WRONG)).connect()
    assert legacy_camera.counters.failed_logins == 1


async def test_a_lockout_is_an_authentication_error_that_is_not_retried() -> None:
    async with device(secure=False, lockout_after=2) as sim:
        for password in ("wrong-1", "wrong-2"):
            with pytest.raises(AuthenticationError):
                await camsdk.open(sim.url, **options(
                    credentials=Credentials(USER, password))).connect()
        assert sim.locked
        with pytest.raises(AuthenticationError) as info:
            await camsdk.open(sim.url, **options()).connect()
        assert "locked" in str(info.value)
        attempts = len(sim.counters.login_params)
        with pytest.raises(AuthenticationError):
            await camsdk.open(sim.url, **options()).connect()
        assert len(sim.counters.login_params) == attempts  # nothing sent while locked


async def test_an_expired_session_logs_in_again_once(camera: TapoDevice) -> None:
    async with camsdk.open(camera.url, **options()) as cam:
        camera.expire_sessions()
        await cam.ptz.presets()
        assert (await details(cam))["logins"] == 2
    assert camera.counters.expired == 1


async def test_sessions_that_wear_out_after_a_few_requests_are_renewed_as_they_go() -> None:
    async with device(session_requests=3) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            for _ in range(7):
                await cam.ptz.presets()
            assert (await details(cam))["logins"] >= 3
        assert sim.counters.tag_failures == 0


async def test_sessions_expire_by_age_on_the_device_clock() -> None:
    now = [1000.0]
    async with device(session_ttl=60.0, clock=lambda: now[0]) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            await cam.ptz.presets()
            now[0] += 61.0
            await cam.ptz.presets()
            assert (await details(cam))["logins"] == 2


async def test_a_camera_that_keeps_refusing_fresh_sessions_is_a_device_error_not_a_loop() -> None:
    async with device(session_requests=0) as sim:
        with anyio.fail_after(10), pytest.raises(DeviceError):
            await camsdk.open(sim.url, **options()).connect()
        assert sim.counters.logins == 2


async def test_a_camera_that_only_speaks_tpap_says_so() -> None:
    async with device(tpap=True) as sim:
        with pytest.raises(UnsupportedCapabilityError) as info:
            await camsdk.open(sim.url, **options()).connect()
    assert "TPAP" in str(info.value)


async def test_a_secure_login_that_is_not_the_owners_is_refused_with_advice() -> None:
    async with device(user_group="guest") as sim:
        with pytest.raises(AuthenticationError) as info:
            await camsdk.open(sim.url, **options()).connect()
    assert "'admin'" in str(info.value)


async def test_cameras_on_one_device_share_one_login(camera: TapoDevice) -> None:
    async with camsdk.open(camera.url, **options()) as first:
        async with camsdk.open(camera.url, **options()) as second:
            assert first.id == second.id
            assert _api.SESSIONS.users(_api.session_key("127.0.0.1", camera.port, USER,
                                                        PASSWORD)) == 2
    assert camera.counters.logins == 1


@pytest.mark.parametrize("secure", [True, False])
async def test_no_secret_reaches_the_logs(secure: bool, caplog: pytest.LogCaptureFixture) -> None:
    from camsdk import EventKind
    from camsdk.drivers.tapo._crypto import hashed_password

    from .conftest import STREAM_PASSWORD

    caplog.set_level(logging.DEBUG)
    async with device(secure=secure) as sim:
        async with camsdk.open(sim.url, **options()) as cam:
            sim.expire_sessions()
            await cam.ptz.presets()
            await cam.snapshot()
            async with cam.events(kinds={EventKind.PERSON}) as events:
                await sim.onvif.wait_until(lambda d: d.subscriptions >= 1)
                sim.detect("person")
                await anext(aiter(events))
            stoks = list(sim.sessions)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "/stok=***/ds" in text  # httpx logged the API's URLs, with the token scrubbed
    hashes = [hashed_password(PASSWORD, kind) for kind in ("md5", "sha256")]
    for secret in (PASSWORD, STREAM_PASSWORD, *hashes, *stoks):
        assert secret not in text
