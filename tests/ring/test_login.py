"""Logging in to Ring: 2FA as a challenge, the install's hardware id, rotating tokens, lineages."""

from __future__ import annotations

import logging
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import RateLimitedError, ReauthRequiredError
from camsdk.cloud import FileTokenStore, MemoryTokenStore, TokenSet, login
from camsdk.testing import RingCloud

from .conftest import FAST, camera_url, credentials, log_in

pytestmark = pytest.mark.anyio

WORKTREE = Path(__file__).resolve().parents[2]


async def test_login_asks_for_the_sms_code_then_stores_the_tokens(
    cloud: RingCloud, store: MemoryTokenStore
) -> None:
    flow = await login("ring", account="home", store=store, credentials=credentials(cloud),
                       **cloud.options, token_store=store)
    assert not flow.done and flow.challenge is not None
    assert flow.challenge.kind == "sms" and flow.challenge.destination == "+1xxxxxxxx89"
    assert await store.load("ring", "home") is None
    await flow.complete(cloud.code)
    tokens = await store.load("ring", "home")
    assert flow.done and tokens is not None and tokens.refresh_token is not None
    assert len(tokens.extra["hardware_id"]) == 36
    assert tokens.extra["client_name"] == "camsdk-" + tokens.extra["hardware_id"][:8]
    assert (cloud.code_requests, cloud.password_grants) == (1, 1)


async def test_an_authenticator_app_account_is_asked_for_its_totp_code(
    store: MemoryTokenStore,
) -> None:
    async with RingCloud(tsv_state="totp") as cloud:
        flow = await login("ring", account="home", store=store, credentials=credentials(cloud),
                           **cloud.options)
        try:
            assert flow.challenge is not None and flow.challenge.kind == "totp"
        finally:
            await flow.aclose()


async def test_a_wrong_code_leaves_the_challenge_open_for_the_right_one(
    cloud: RingCloud, store: MemoryTokenStore
) -> None:
    flow = await login("ring", account="home", store=store, credentials=credentials(cloud),
                       **cloud.options)
    with pytest.raises(camsdk.AuthenticationError, match="verification code"):
        await flow.complete("000000")
    assert not flow.done and flow.challenge is not None
    await flow.complete(cloud.code)
    assert flow.done and cloud.code_requests == 1


async def test_a_wrong_password_is_an_authentication_error_without_a_code(
    cloud: RingCloud, store: MemoryTokenStore
) -> None:
    wrong = camsdk.Credentials(cloud.email, "not-the-password")
    with pytest.raises(camsdk.AuthenticationError, match="e-mail or password") as info:
        await login("ring", account="home", store=store, credentials=wrong, **cloud.options)
    assert "not-the-password" not in str(info.value)
    assert cloud.failed_logins == 1 and cloud.code_requests == 0


async def test_asking_for_another_code_at_once_is_refused_before_ring_sends_one(
    cloud: RingCloud, store: MemoryTokenStore
) -> None:
    first = await login("ring", account="home", store=store, credentials=credentials(cloud),
                        **cloud.options, code_spacing=60)
    await first.aclose()
    with pytest.raises(RateLimitedError) as info:
        await login("ring", account="home", store=store, credentials=credentials(cloud),
                    **cloud.options, code_spacing=60)
    assert 30 <= info.value.retry_after <= 60
    assert cloud.code_requests == 1


async def test_the_hardware_id_is_made_once_per_install_and_kept_with_the_tokens(
    store: MemoryTokenStore,
) -> None:
    async with RingCloud(next_code_in=0) as cloud:
        await log_in(cloud, store, code_spacing=0)
        first = await store.load("ring", "home")
        await log_in(cloud, store, code_spacing=0)  # logging in again, same install
        second = await store.load("ring", "home")
    assert first is not None and second is not None and first.lineage != second.lineage
    assert first.extra["hardware_id"] == second.extra["hardware_id"]


async def test_the_client_name_is_configurable(cloud: RingCloud, store: MemoryTokenStore) -> None:
    await log_in(cloud, store, client_name="kitchen-tablet")
    async with camsdk.hub("ring://home", **cloud.options, token_store=store, config=FAST):
        pass
    assert cloud.sessions[-1]["metadata"]["device_model"] == "kitchen-tablet"
    tokens = await store.load("ring", "home")
    assert tokens is not None and cloud.sessions[-1]["hardware_id"] == tokens.extra["hardware_id"]


async def test_an_expired_access_token_is_refreshed_once_and_the_rotation_saved_first(
    cloud: RingCloud, store: MemoryTokenStore, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options) as cam:
        cloud.expire_access_tokens()
        await cam.snapshot()
    assert cloud.refreshes == 1
    generations = [t.generation for t in store.saves]
    assert generations[0] == 0 and generations[-1] == 1
    stored = await store.load("ring", "home")
    assert stored is not None and stored.access_token.get_secret_value() == cloud.issued_access[-1]


class CrashingStore(MemoryTokenStore):
    """A store whose disk fails when a rotated token set is saved."""

    async def save(self, tokens: TokenSet) -> None:
        if tokens.generation > 0:
            raise OSError(28, "No space left on device")
        await super().save(tokens)


async def test_a_rotated_token_that_cannot_be_saved_is_never_used(cloud: RingCloud) -> None:
    store = CrashingStore()
    await log_in(cloud, store)
    async with camsdk.open(camera_url(cloud), **cloud.options, token_store=store,
                           config=FAST) as cam:
        cloud.expire_access_tokens()
        with pytest.raises(camsdk.CamError):
            await cam.snapshot(source="device")
    assert cloud.refreshes == 1
    assert cloud.issued_access[-1] not in cloud.used_access


async def test_a_dead_refresh_token_asks_to_log_in_again(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud), **options) as cam:
        cloud.expire_access_tokens()
        cloud.revoke_refresh_tokens()
        with pytest.raises(ReauthRequiredError) as info:
            await cam.snapshot(source="device")
    assert "camsdk login ring" in info.value.action


async def test_no_stored_tokens_is_a_reauth_error_naming_the_login_command(
    cloud: RingCloud,
) -> None:
    with pytest.raises(ReauthRequiredError) as info:
        async with camsdk.hub("ring://home", **cloud.options, token_store=MemoryTokenStore()):
            pass
    assert "camsdk login ring" in info.value.action


def test_a_password_is_refused_at_open_time_with_the_login_hint() -> None:
    with pytest.raises(camsdk.ConfigurationError, match="camsdk login ring"):
        camsdk.open("ring://home/doorbot-1", credentials=camsdk.Credentials("me", "pw"))


async def test_a_restart_resumes_with_the_stored_and_rotated_tokens(
    cloud: RingCloud, tmp_path: Path
) -> None:
    directory = str(tmp_path / "tokens")
    await log_in(cloud, FileTokenStore(directory))
    for _ in range(3):  # three runs of the application, access token dead each time
        cloud.expire_access_tokens()
        async with camsdk.hub("ring://home", **cloud.options, token_dir=directory,
                              config=FAST) as hub:
            assert len(await hub.listing()) == 5
    assert (cloud.password_grants, cloud.code_requests) == (1, 1)
    assert cloud.refreshes == 3 and cloud.refused_refreshes == 0
    stored = await FileTokenStore(directory).load("ring", "home")
    assert stored is not None and stored.generation == 3


async def test_a_second_process_on_the_lineage_is_refused_and_the_first_keeps_working(
    cloud: RingCloud, tmp_path: Path
) -> None:
    directory = str(tmp_path / "tokens")
    await log_in(cloud, FileTokenStore(directory))
    script = textwrap.dedent(f"""
        import asyncio, camsdk

        async def main():
            try:
                async with camsdk.hub("ring://home", token_dir={directory!r},
                                      **{cloud.options!r}):
                    print("opened")
            except camsdk.TokenLineageInUseError as exc:
                print("refused:", exc)

        asyncio.run(main())
    """)
    async with camsdk.hub("ring://home", **cloud.options, token_dir=directory,
                          config=FAST) as hub:
        env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
        second = await anyio.run_process([sys.executable, "-c", script], cwd=WORKTREE,
                                          env=env, check=True)
        assert second.stdout.decode().startswith("refused:")
        cloud.expire_access_tokens()
        cameras = await hub.cameras()
        async with cameras[0] as cam:
            await cam.snapshot(source="device")
    assert cloud.refreshes == 1 and cloud.refused_refreshes == 0


async def test_the_hub_and_its_cameras_share_one_session_of_the_account(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.hub("ring://home", **options) as hub:
        cameras = await hub.cameras()
        async with cameras[0], cameras[1], camsdk.open(camera_url(cloud, 2), **options):
            pass
    assert len(cloud.sessions) == 1
    assert [m for m, p in cloud.requests if p == "/clients_api/ring_devices"] == ["GET"]


async def test_no_token_reaches_a_log_line_or_a_repr(
    cloud: RingCloud, store: MemoryTokenStore, options: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with camsdk.hub("ring://home", **options) as hub:
        cameras = await hub.cameras()
        async with cameras[0] as cam:
            cloud.expire_access_tokens()
            await cam.snapshot()
            texts = [repr(hub), repr(cam), repr(cam.info), repr(store.saves)]
    tokens = await store.load("ring", "home")
    assert tokens is not None and tokens.refresh_token is not None
    secrets = [tokens.access_token.get_secret_value(), tokens.refresh_token.get_secret_value(),
               cloud.password, *cloud.issued_access]
    texts += [record.getMessage() for record in caplog.records]
    assert not [t for t in texts for s in secrets if s in t]
