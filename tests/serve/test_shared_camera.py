"""`Camera.acting_for`: another principal's door to the same device and the same upstream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

import camsdk
from camsdk import AccessDeniedError, Action, CameraClosedError, MediaPacket
from camsdk.privacy import Grant, GrantPolicy, MemoryAuditSink
from camsdk.testing import virtual_device

pytestmark = pytest.mark.anyio

URL = "virtual://shared-{}?size=160x120&fps=15&gop=15"
WAIT = 20.0


def _policy(camera: str, **grant: object) -> GrantPolicy:
    now = datetime.now(UTC)
    fields: dict[str, object] = {
        "grant_id": "g1", "principal": "neighbour", "cameras": {f"virtual:{camera}"},
        "actions": {Action.STREAM_OPEN, Action.PACKETS, Action.RECORD}, "purpose": "watch",
        "expires_at": now + timedelta(hours=1), **grant,
    }
    return GrantPolicy([Grant.model_validate(fields)])


async def _packets(stream: camsdk.MediaStream, count: int) -> int:
    seen = 0
    with anyio.fail_after(WAIT):
        async for item in stream.packets():
            if isinstance(item, MediaPacket):
                seen += 1
                if seen >= count:
                    break
    return seen


async def test_a_shared_camera_rides_the_owners_upstream() -> None:
    name = "one-upstream"
    async with camsdk.open(URL.format(name), policy=_policy(f"shared-{name}")) as cam:
        async with cam.stream() as owners:
            view = cam.acting_for("neighbour")
            try:
                async with view.stream(purpose="watch") as theirs:
                    assert await _packets(theirs, 3) == 3
                    assert await _packets(owners, 3) == 3
                    assert virtual_device(f"shared-{name}").streams_opened == 1
            finally:
                await view.aclose()


async def test_its_decisions_and_records_name_the_other_principal() -> None:
    audit = MemoryAuditSink()
    name = "records"
    async with camsdk.open(URL.format(name), policy=_policy(f"shared-{name}"),
                           audit=audit) as cam:
        view = cam.acting_for("neighbour")
        try:
            async with view.stream(purpose="watch") as stream:
                await _packets(stream, 2)
            with pytest.raises(AccessDeniedError):
                await view.snapshot(purpose="watch")  # not granted
        finally:
            await view.aclose()
    access = [r for r in audit.records if r["event"] == "access"]
    assert {(r["principal"], r["action"], r["allowed"]) for r in access} == {
        ("neighbour", "stream.open", True), ("neighbour", "packets", True),
        ("neighbour", "snapshot", False),
    }
    assert all(r["grant_id"] == "g1" for r in access if r["allowed"])


async def test_closing_it_leaves_the_owners_stream_running() -> None:
    name = "close-view"
    async with camsdk.open(URL.format(name), policy=_policy(f"shared-{name}")) as cam:
        async with cam.stream() as owners:
            view = cam.acting_for("neighbour")
            async with view.stream(purpose="watch") as theirs:
                await _packets(theirs, 1)
            await view.aclose()
            assert await _packets(owners, 5) == 5
            with pytest.raises(CameraClosedError):
                view.stream(purpose="watch")


async def test_closing_the_owners_camera_closes_the_door_it_gave() -> None:
    name = "close-root"
    cam = camsdk.open(URL.format(name), policy=_policy(f"shared-{name}"))
    await cam.connect()
    view = cam.acting_for("neighbour")
    await cam.aclose()
    with pytest.raises(CameraClosedError):
        view.stream(purpose="watch")
    await view.aclose()


async def test_the_gate_checks_kept_footage_against_the_grants_window() -> None:
    audit = MemoryAuditSink()
    now = datetime.now(UTC)
    name = "window"
    policy = _policy(f"shared-{name}", footage_from=now - timedelta(hours=2),
                     footage_until=now - timedelta(hours=1))
    async with camsdk.open(URL.format(name), policy=policy, audit=audit) as cam:
        view = cam.acting_for("neighbour")
        try:
            inside = now - timedelta(minutes=90)
            view._gate.authorize(view._ref, Action.RECORD, "watch", at=inside)
            with pytest.raises(AccessDeniedError, match="outside the footage window"):
                view._gate.authorize(view._ref, Action.RECORD, "watch", at=now)
        finally:
            await view.aclose()
    recorded = [r.get("footage_at") for r in audit.records if r["event"] == "access"]
    assert recorded == [inside.isoformat(), now.isoformat()]


async def test_a_camera_opened_for_someone_else_cannot_act_for_the_owner() -> None:
    audit = MemoryAuditSink()
    name = "escalation"
    async with camsdk.open(URL.format(name), principal="neighbour",
                           policy=_policy(f"shared-{name}"), audit=audit) as cam:
        with pytest.raises(AccessDeniedError, match="only the owner's camera"):
            cam.acting_for("owner")
    [refusal] = [r for r in audit.records if r["event"] == "access"]
    assert (refusal["principal"], refusal["action"], refusal["allowed"]) == (
        "neighbour", "acting_for", False)
