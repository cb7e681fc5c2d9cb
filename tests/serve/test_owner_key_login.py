"""Owner login with a key: a one-time challenge, bound to the address and the gateway's
name, signed with a key the site file allows, gives the same session as the password;
every refusal counts towards the lockout and is in the audit log."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camsdk import ConfigurationError
from camsdk.cli import main
from camsdk.privacy import generate_signing_key, key_id, save_private_key, save_public_key
from camsdk.serve import Gateway, OwnerKeyAuth, create_app, load_site_config
from camsdk.serve._app import running
from camsdk.serve._owner_login import login_payload, raw_public_key

from ._helpers import BASE, OWNER_HASH, login, site_config, started

pytestmark = pytest.mark.anyio

CHALLENGE = "/owner/api/login/challenge"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@contextlib.asynccontextmanager
async def _client(gateway: Gateway, address: str = "127.0.0.1",
                  auth: httpx.Auth | None = None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(gateway), client=(address, 40100))
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=auth) as client:
        yield client


async def _challenge(client: httpx.AsyncClient) -> str:
    answer = await client.get(CHALLENGE)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["challenge"])


def _signed(key: Ed25519PrivateKey, challenge: str, *, host: str = "127.0.0.1",
            presented: Ed25519PrivateKey | None = None) -> dict[str, str]:
    return {"challenge": challenge, "public_key": _b64(raw_public_key(presented or key)),
            "signature": _b64(key.sign(login_payload(host, challenge)))}


def _logins(gateway: Gateway) -> list[dict[str, Any]]:
    return [r for r in gateway.audit.records() if r.get("event") == "owner.login"]


async def _refused(gateway: Gateway, client: httpx.AsyncClient, body: dict[str, str],
                   reason: str) -> None:
    answer = await client.post("/owner/api/login", json=body)
    assert answer.status_code == 401, answer.text
    assert reason in answer.json()["error"]
    assert "set-cookie" not in answer.headers
    last = _logins(gateway)[-1]
    assert (last["allowed"], last["method"], last["reason"]) == (False, "key", reason)


async def test_the_owners_signing_key_logs_in_and_gets_a_session_with_csrf(
        gateway: Gateway) -> None:
    async with _client(gateway, auth=OwnerKeyAuth(gateway.key)) as owner:
        overview = await owner.get("/owner/api/overview")
        assert overview.status_code == 200
        issued = await owner.post("/owner/api/tokens", json={"name": "insurer"})
        assert issued.status_code == 201, issued.text
    last = _logins(gateway)[-1]
    assert (last["allowed"], last["method"], last["key_id"]) == (True, "key", key_id(gateway.key))


async def test_the_key_login_sets_the_same_cookie_as_the_password_login(
        gateway: Gateway) -> None:
    async with _client(gateway) as client:
        by_password = await login(client)
        by_key = await client.post("/owner/api/login",
                                   json=_signed(gateway.key, await _challenge(client)))
    assert by_key.status_code == 200 and by_key.json()["csrf"]
    flags = [c.lower().split("; ", 1)[1] for c in
             (by_password.headers["set-cookie"], by_key.headers["set-cookie"])]
    assert flags[0] == flags[1] and "httponly" in flags[1] and "samesite=strict" in flags[1]


async def test_a_key_listed_in_login_keys_logs_in_by_file_or_by_base64(tmp_path: Path) -> None:
    laptop, phone = generate_signing_key(), generate_signing_key()
    save_public_key(laptop, tmp_path / "laptop.pub")
    (tmp_path / "site.toml").write_text(f"""
[owner]
password_hash = "{OWNER_HASH}"
login_keys = ["laptop.pub", "{_b64(raw_public_key(phone))}="]
[storage]
data_dir = "data"
""", "utf-8")
    gw = await started(load_site_config(tmp_path / "site.toml"))
    try:
        for key in (laptop, phone):
            async with _client(gw, auth=OwnerKeyAuth(key)) as owner:
                assert (await owner.get("/owner/api/overview")).status_code == 200
    finally:
        await gw.aclose()


async def test_a_key_the_site_does_not_allow_is_refused_and_audited(gateway: Gateway) -> None:
    stranger = generate_signing_key()
    async with _client(gateway) as client:
        await _refused(gateway, client, _signed(stranger, await _challenge(client)),
                       "key not allowed to log in")
    assert _logins(gateway)[-1]["key_id"] == key_id(stranger)


async def test_the_signing_key_is_refused_when_signing_key_login_is_off(tmp_path: Path) -> None:
    gw = await started(site_config(tmp_path, owner={"signing_key_login": False}))
    try:
        async with _client(gw) as client:
            assert (await client.get(CHALLENGE)).status_code == 404
            assert (await login(client)).status_code == 200
    finally:
        await gw.aclose()


async def test_a_signature_by_another_key_is_refused_and_audited(gateway: Gateway) -> None:
    forger = generate_signing_key()
    async with _client(gateway) as client:
        body = _signed(forger, await _challenge(client), presented=gateway.key)
        await _refused(gateway, client, body, "signature does not verify")


async def test_a_signature_made_for_another_gateway_is_refused(gateway: Gateway) -> None:
    async with _client(gateway) as client:
        body = _signed(gateway.key, await _challenge(client), host="evil.example")
        await _refused(gateway, client, body, "signature does not verify")


async def test_a_replayed_login_is_refused_and_audited(gateway: Gateway) -> None:
    async with _client(gateway) as client:
        body = _signed(gateway.key, await _challenge(client))
        assert (await client.post("/owner/api/login", json=body)).status_code == 200
        await _refused(gateway, client, body, "challenge already used (replayed)")


async def test_an_expired_challenge_is_refused_and_audited(gateway: Gateway) -> None:
    challenges = gateway.login_challenges
    now = challenges.clock()
    async with _client(gateway) as client:
        body = _signed(gateway.key, await _challenge(client))
        challenges.clock = lambda: now + challenges.ttl + 1
        await _refused(gateway, client, body, "challenge expired")


async def test_a_challenge_from_another_address_is_refused_and_audited(
        gateway: Gateway) -> None:
    async with _client(gateway, "127.0.0.1") as asked, _client(gateway, "127.0.0.9") as other:
        body = _signed(gateway.key, await _challenge(asked))
        await _refused(gateway, other, body, "challenge issued to another address")
        # Not spent by the foreign attempt: the address it was issued to can still use it.
        assert (await asked.post("/owner/api/login", json=body)).status_code == 200


async def test_an_unknown_challenge_is_refused_and_audited(gateway: Gateway) -> None:
    async with _client(gateway) as client:
        await _refused(gateway, client, _signed(gateway.key, "made-up"), "unknown challenge")


async def test_a_password_and_a_signature_together_are_malformed(gateway: Gateway) -> None:
    async with _client(gateway) as client:
        body = {"password": "x", **_signed(gateway.key, await _challenge(client))}
        assert (await client.post("/owner/api/login", json=body)).status_code == 422


async def test_failed_key_logins_lock_the_address_out_for_both_ways(gateway: Gateway) -> None:
    stranger = generate_signing_key()
    attempts = gateway.config.limits.login_attempts
    async with _client(gateway) as client:
        for _ in range(attempts):
            answer = await client.post("/owner/api/login",
                                       json=_signed(stranger, await _challenge(client)))
            assert answer.status_code == 401
        assert (await client.get(CHALLENGE)).status_code == 429
        assert (await login(client)).status_code == 429
    async with _client(gateway, "127.0.0.1") as same:
        signed = await same.post("/owner/api/login", json=_signed(gateway.key, "any"))
        assert signed.status_code == 429
    assert _logins(gateway)[-1]["reason"] == "locked out"


async def test_a_site_where_nobody_can_log_in_is_refused_at_start(tmp_path: Path) -> None:
    config = site_config(tmp_path, owner={"password_hash": None, "signing_key_login": False})
    with pytest.raises(ConfigurationError, match="could not log in"):
        await Gateway(config).start()


def test_serve_check_refuses_a_site_where_nobody_can_log_in(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[owner]\nsigning_key_login = false\n[storage]\ndata_dir = "data"\n')
    assert main(["serve", "--check", str(site)]) == 2
    assert "could not log in" in capsys.readouterr().err
    site.write_text('[owner]\nsigning_key_login = false\nlogin_keys = ["'
                    f'{_b64(raw_public_key(generate_signing_key()))}"]\n')
    assert main(["serve", "--check", str(site)]) == 0


async def test_an_unreadable_login_key_file_is_refused_at_start(tmp_path: Path) -> None:
    config = site_config(tmp_path, owner={"login_keys": [str(tmp_path / "missing.pub")]})
    with pytest.raises(ConfigurationError, match=r"missing\.pub"):
        await Gateway(config).start()


@pytest.mark.slow
async def test_camsdk_serve_login_key_prints_a_working_session(gateway: Gateway,
                                                               tmp_path: Path) -> None:
    save_private_key(gateway.key, tmp_path / "owner.key")
    async with running(gateway) as url:
        done = await anyio.to_thread.run_sync(lambda: subprocess.run(
            [sys.executable, "-m", "camsdk", "serve", "login-key", "--key",
             str(tmp_path / "owner.key"), "--url", url],
            capture_output=True, text=True, timeout=60, check=False))
        assert done.returncode == 0, done.stderr
        printed = dict(line.split("=", 1) for line in done.stdout.split())
        async with httpx.AsyncClient(base_url=url) as client:
            client.cookies.set("camsdk_owner", printed["CAMSDK_OWNER_SESSION"])
            session = await client.get("/owner/api/session")
        assert session.json() == {"csrf": printed["CAMSDK_OWNER_CSRF"]}


@pytest.mark.slow
async def test_camsdk_serve_login_key_fails_with_a_key_the_site_does_not_allow(
        gateway: Gateway, tmp_path: Path) -> None:
    save_private_key(generate_signing_key(), tmp_path / "stranger.key")
    async with running(gateway) as url:
        done = await anyio.to_thread.run_sync(lambda: subprocess.run(
            [sys.executable, "-m", "camsdk", "serve", "login-key", "--key",
             str(tmp_path / "stranger.key"), "--url", url],
            capture_output=True, text=True, timeout=60, check=False))
    assert done.returncode == 1
    assert "key not allowed to log in" in done.stderr and done.stdout == ""
