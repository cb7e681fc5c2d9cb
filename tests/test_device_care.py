"""Device care in the kit: who asks (for wake attribution), one login per device, privacy mode.

Drivers learn whom they act for from `camsdk.driver.current_request`, write
what the owner should see with `audit_record`, and share one login per
device through `DeviceSessions`. Privacy mode is a device control the facade
gates like any other action: owner-only by default, audited, and while it is
on streams end with `PrivacyModeError` and snapshots raise it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import anyio
import pytest

import camsdk
from camsdk import AccessDeniedError, Action, Capability, Principal, PrivacyModeError
from camsdk.driver import (
    DeviceSessions,
    RequestContext,
    Snapshot,
    current_request,
)
from camsdk.drivers.virtual import VirtualDriver, virtual_device
from camsdk.privacy import Grant, GrantPolicy, MemoryAuditSink

pytestmark = pytest.mark.anyio

FAST = "size=160x120&fps=30&gop=15"
WAIT = 10.0


class WakingCamera(VirtualDriver):
    """A virtual camera that notes who woke it for a still, and whether they asked to."""

    schemes: ClassVar[tuple[str, ...]] = ("waking",)
    seen: ClassVar[list[RequestContext]] = []

    async def snapshot(self, profile: str) -> Snapshot:
        request = current_request()
        WakingCamera.seen.append(request)
        self.audit_record("device.wake", wake=request.wake)
        from camsdk.driver import UnsupportedCapabilityError

        raise UnsupportedCapabilityError("use the stream")


async def test_a_driver_knows_who_asks_and_its_records_name_them() -> None:
    camsdk.register_driver("waking", WakingCamera)
    WakingCamera.seen.clear()
    audit = MemoryAuditSink()
    neighbour = Principal("neighbour")
    grant = Grant(principal="neighbour", cameras={"virtual:wake1"}, actions={Action.SNAPSHOT},
                  purpose="parcel", expires_at=datetime.now(UTC) + timedelta(hours=1))
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"waking://wake1?{FAST}", principal=neighbour,
                               policy=GrantPolicy([grant]), audit=audit) as cam:
            await cam.snapshot(purpose="parcel", wake=True)
    assert [(r.principal, r.action, r.purpose, r.wake) for r in WakingCamera.seen] == [
        (neighbour, Action.SNAPSHOT, "parcel", True)
    ]
    wakes = [r for r in audit.records if r.get("event") == "device.wake"]
    assert [(r["principal"], r["purpose"], r["wake"], r["camera_id"]) for r in wakes] == [
        ("neighbour", "parcel", True, "virtual:wake1")
    ]


def test_outside_the_facade_the_owner_asks() -> None:
    assert current_request().principal == camsdk.OWNER


async def test_one_login_per_device_is_shared_and_closed_by_the_last_user() -> None:
    sessions: DeviceSessions[str] = DeviceSessions()
    logins: list[str] = []
    logouts: list[str] = []
    gate = asyncio.Event()

    async def login() -> str:
        await gate.wait()
        logins.append("token")
        return "token"

    async def logout(token: str) -> None:
        logouts.append(token)

    key = ("cam.local", 80, "admin")
    first = asyncio.ensure_future(sessions.acquire(key, open=login, close=logout))
    second = asyncio.ensure_future(sessions.acquire(key, open=login, close=logout))
    await asyncio.sleep(0)
    gate.set()
    assert await first == await second == "token"
    assert logins == ["token"] and sessions.users(key) == 2
    await sessions.release(key)
    assert logouts == []
    await sessions.release(key)
    assert logouts == ["token"] and sessions.users(key) == 0


async def test_a_failed_login_is_not_kept() -> None:
    sessions: DeviceSessions[str] = DeviceSessions()
    attempts = 0

    async def login() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise camsdk.AuthenticationError("wrong password")
        return "token"

    async def logout(token: str) -> None:
        pass

    with pytest.raises(camsdk.AuthenticationError):
        await sessions.acquire("dev", open=login, close=logout)
    assert sessions.users("dev") == 0
    assert await sessions.acquire("dev", open=login, close=logout) == "token"
    await sessions.release("dev")


# -- privacy mode ------------------------------------------------------------------------


async def test_privacy_mode_ends_streams_with_a_typed_reason_and_refuses_snapshots() -> None:
    audit = MemoryAuditSink()
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://priv1?{FAST}", audit=audit) as cam:
            assert cam.supports(Capability.PRIVACY_MODE) and cam.privacy_mode is False
            async with cam.stream() as stream, stream.packets() as packets:
                await anext(packets)
                await cam.set_privacy_mode(True, purpose="guests are here")
                with pytest.raises(PrivacyModeError):
                    async for _ in packets:
                        pass
            assert cam.privacy_mode is True
            with pytest.raises(PrivacyModeError):
                await cam.snapshot()
            with pytest.raises(PrivacyModeError):
                async with cam.stream():
                    pass
            await cam.set_privacy_mode(False)
            snap = await cam.snapshot()
    assert snap.jpeg[:2] == b"\xff\xd8"
    switches = [(r["on"], r["purpose"]) for r in audit.records if r["event"] == "privacy_mode"]
    assert switches == [(True, "guests are here"), (False, "")]


async def test_privacy_mode_switched_on_the_device_itself_is_learned_and_unlearned() -> None:
    device = virtual_device("priv-app")  # the vendor's app switches it, not camsdk
    with anyio.fail_after(WAIT):
        async with camsdk.open(f"virtual://priv-app?{FAST}") as cam:
            async with cam.stream() as stream, stream.packets() as packets:
                await anext(packets)
                device.privacy_mode = True
                with pytest.raises(PrivacyModeError):
                    async for _ in packets:
                        pass
            assert cam.privacy_mode is True
            device.privacy_mode = False
            snap = await cam.snapshot()
            assert cam.privacy_mode is False
    assert snap.jpeg[:2] == b"\xff\xd8"


async def test_a_device_already_in_privacy_mode_is_reported_at_connect() -> None:
    device = virtual_device("priv2")  # held: devices live while someone holds them
    device.privacy_mode = True
    async with camsdk.open(f"virtual://priv2?{FAST}") as cam:
        assert cam.privacy_mode is True
        with pytest.raises(PrivacyModeError):
            await cam.snapshot()


async def test_only_the_owner_may_switch_privacy_mode_by_default() -> None:
    audit = MemoryAuditSink()
    async with camsdk.open(f"virtual://priv3?{FAST}", principal="guest", audit=audit) as cam:
        with pytest.raises(AccessDeniedError):
            await cam.set_privacy_mode(True)
    assert virtual_device("priv3").privacy_mode is False
    denied = [r for r in audit.records if r.get("action") == "config"]
    assert [r["allowed"] for r in denied] == [False]


@pytest.mark.parametrize("value", [1, "on", None])
async def test_privacy_mode_is_switched_with_a_bool(value: Any) -> None:
    async with camsdk.open(f"virtual://priv4?{FAST}") as cam:
        with pytest.raises(camsdk.ConfigurationError):
            await cam.set_privacy_mode(value)


