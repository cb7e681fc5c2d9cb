"""The camera's self-signed certificate: pinned on first use, never trusted blindly."""

from __future__ import annotations

import pytest

import camsdk
from camsdk import CameraConnectionError
from camsdk.cloud import MemoryTokenStore, TokenSet
from camsdk.drivers.tapo._tls import CertificateChangedError, PinStore
from camsdk.testing import TapoDevice

from .conftest import options

pytestmark = pytest.mark.anyio


async def test_the_first_certificate_seen_is_pinned(camera: TapoDevice) -> None:
    store = MemoryTokenStore()
    async with camsdk.open(camera.url, **options(pin_store=store)):
        pass
    assert await PinStore("127.0.0.1", camera.port, store=store).load() == camera.fingerprint


async def test_another_certificate_later_is_refused_before_any_login(
    camera: TapoDevice,
) -> None:
    store = MemoryTokenStore()
    pins = PinStore("127.0.0.1", camera.port, store=store)
    await store.save(TokenSet(scheme="tapo", account=pins.account, extra={"sha256": "ab" * 32}))
    with pytest.raises(CertificateChangedError) as info:
        await camsdk.open(camera.url, **options(pin_store=store)).connect()
    assert info.value.seen == camera.fingerprint and info.value.expected == "ab" * 32
    assert camera.counters.login_params == []


async def test_a_given_fingerprint_is_checked_and_nothing_else_is_trusted(
    camera: TapoDevice,
) -> None:
    good = ":".join(camera.fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    async with camsdk.open(camera.url, **options(fingerprint=good)) as cam:
        assert cam.info.model == "C210"
    with pytest.raises(CertificateChangedError):
        await camsdk.open(camera.url, **options(fingerprint="0" * 64)).connect()


async def test_system_verification_refuses_a_self_signed_certificate(
    camera: TapoDevice,
) -> None:
    with pytest.raises(CameraConnectionError):
        await camsdk.open(camera.url, **options(tls="system")).connect()
    assert camera.counters.login_params == []


async def test_verification_turned_off_is_an_explicit_audited_choice(
    camera: TapoDevice,
) -> None:
    from camsdk.privacy import MemoryAuditSink

    audit = MemoryAuditSink()
    config = {**options()["config"], "verify_tls": False}
    async with camsdk.open(camera.url, **options(config=config, audit=audit)) as cam:
        assert cam.info.model == "C210"
    assert [r for r in audit.records if r["event"] == "tls.insecure"]
