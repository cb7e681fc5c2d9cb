"""Battery cameras behind a Home Hub / NVR: no wake without asking, a budget, an audit trail.

Channel 3 of the ``nvr`` fixture is a sleeping Argus. ``GetChannelstatus``,
``GetMdState`` and ``GetAiState`` leave it asleep; a snapshot or a stream
wakes it, and the simulator counts every wake.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import AccessDeniedError, Action, Principal
from camsdk.privacy import Grant, GrantPolicy, MemoryAuditSink
from camsdk.testing import ReolinkDevice

from .conftest import options

pytestmark = pytest.mark.anyio

ARGUS = 3


def _forget_sleep_state(cam: camsdk.Camera) -> None:
    """Make the driver read GetChannelstatus again now (it keeps a copy for 2 s)."""
    cam._driver._state.status_read_at = 0.0  # type: ignore[attr-defined]


def _wakes(audit: MemoryAuditSink) -> list[dict[str, Any]]:
    return [r for r in audit.records if r.get("event") == "device.wake"]


async def test_a_sleeping_camera_is_not_woken_for_a_snapshot_nobody_asked_to_wake_for(
    nvr: ReolinkDevice,
) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(nvr.channel_url(ARGUS), **options()) as cam:
            assert cam.supports(camsdk.Capability.BATTERY)
            with pytest.raises(AccessDeniedError, match="wake=True"):
                await cam.snapshot()
    assert nvr.channels[ARGUS].wakes == 0 and nvr.account.commands["Snap"] == 0
    assert nvr.account.commands["GetEnc"] == 0


async def test_a_wake_is_audited_under_the_principal_who_asked(nvr: ReolinkDevice) -> None:
    audit = MemoryAuditSink()
    neighbour = Principal("neighbour")
    grant = Grant(principal="neighbour", cameras={"reolink:SIM0000REOLINK01/3"},
                  actions={Action.SNAPSHOT}, purpose="parcel",
                  expires_at=datetime.now(UTC) + timedelta(hours=1))
    with anyio.fail_after(10):
        async with camsdk.open(nvr.channel_url(ARGUS), principal=neighbour,
                               policy=GrantPolicy([grant]), audit=audit, **options()) as cam:
            snap = await cam.snapshot(wake=True, purpose="parcel")
    assert snap.source == "device" and nvr.channels[ARGUS].wakes == 1
    (wake,) = _wakes(audit)
    assert (wake["principal"], wake["purpose"], wake["reason"], wake["allowed"]) == (
        "neighbour", "parcel", "snapshot", True)
    assert wake["camera_id"] == "reolink:SIM0000REOLINK01/3"


async def test_asleep_again_it_answers_from_its_last_picture_with_its_age(
    nvr: ReolinkDevice,
) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(nvr.channel_url(ARGUS), **options()) as cam:
            fresh = await cam.snapshot(wake=True)
            nvr.channels[ARGUS].sleeping = True
            _forget_sleep_state(cam)
            kept = await cam.snapshot()
    assert kept.captured_at == fresh.captured_at and kept.jpeg == fresh.jpeg
    assert kept.age >= 0 and nvr.account.commands["Snap"] == 1


async def test_the_wake_budget_refuses_once_spent_and_says_so(nvr: ReolinkDevice) -> None:
    audit = MemoryAuditSink()
    with anyio.fail_after(10):
        async with camsdk.open(nvr.channel_url(ARGUS), audit=audit,
                               **options(wakes_per_hour=1)) as cam:
            await cam.snapshot(wake=True)
            nvr.channels[ARGUS].sleeping = True
            _forget_sleep_state(cam)
            with pytest.raises(AccessDeniedError, match="wake budget spent"):
                await cam.snapshot(wake=True)
            budget = await cam.call_extension("wake_budget")
    assert [w["allowed"] for w in _wakes(audit)] == [True, False]
    assert budget["wakes_left"] == 0 and budget["refused"] == 1
    assert nvr.channels[ARGUS].wakes == 1


async def test_a_stream_wake_is_charged_and_the_stream_closes_when_nobody_watches(
    nvr: ReolinkDevice,
) -> None:
    audit = MemoryAuditSink()
    assert nvr.rtsp is not None
    with anyio.fail_after(20):
        async with camsdk.open(nvr.channel_url(ARGUS), audit=audit, **options()) as cam:
            async with cam.stream("sub") as stream, stream.packets() as packets:
                await anext(aiter(packets))
            await nvr.rtsp.wait_sessions(0)  # battery: no idle grace period
    assert [w["reason"] for w in _wakes(audit)] == ["stream"]
    assert nvr.channels[ARGUS].wakes == 1


async def test_a_last_picture_older_than_max_age_is_not_given_without_a_wake(
    nvr: ReolinkDevice,
) -> None:
    with anyio.fail_after(10):
        async with camsdk.open(nvr.channel_url(ARGUS), **options()) as cam:
            await cam.snapshot(wake=True)
            nvr.channels[ARGUS].sleeping = True
            _forget_sleep_state(cam)
            with pytest.raises(AccessDeniedError, match="older than max_age"):
                await cam.snapshot(max_age=0)
    assert nvr.account.commands["Snap"] == 1
