"""Software motion reads frames like any consumer: decided by the policy, audited, revocable."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from camsdk import AccessDeniedError, Action, Principal
from camsdk.drivers.virtual import virtual_device
from camsdk.privacy import Grant, GrantPolicy, MemoryAuditSink, RevocationList
from camsdk.testing import wait_until

from ._virtual import STILL, WAIT, open_camera

pytestmark = pytest.mark.anyio

NEIGHBOUR = Principal("neighbour")
PURPOSE = "software motion"


def grant(name: str, *actions: Action) -> Grant:
    return Grant(
        principal=NEIGHBOUR.id,
        cameras={f"virtual:{name}"},
        actions=set(actions),
        purpose=PURPOSE,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )


def access(sink: MemoryAuditSink, action: Action) -> list[dict[str, Any]]:
    return [r for r in sink.records if r["event"] == "access" and r["action"] == action.value]


def motion_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("camsdk-motion")]


async def test_a_principal_without_frames_cannot_start_it_and_the_refusal_is_audited() -> None:
    sink = MemoryAuditSink()
    policy = GrantPolicy([grant("acc-noframes", Action.STREAM_OPEN, Action.EVENTS_SUBSCRIBE)])
    async with open_camera(
        "acc-noframes", STILL, principal=NEIGHBOUR, policy=policy, audit=sink
    ) as cam:
        with pytest.raises(AccessDeniedError):
            async with cam.motion():
                raise AssertionError("the detector started without the frames grant")
        assert motion_threads() == []
    [record] = access(sink, Action.FRAMES)
    assert record["allowed"] is False
    assert record["principal"] == "neighbour"
    assert record["purpose"] == PURPOSE


async def test_a_principal_without_any_grant_is_refused_before_a_stream_opens() -> None:
    device = virtual_device("acc-nothing")
    sink = MemoryAuditSink()
    async with open_camera(
        "acc-nothing", STILL, principal=NEIGHBOUR, policy=GrantPolicy([]), audit=sink
    ) as cam:
        with pytest.raises(AccessDeniedError):
            async with cam.motion():
                raise AssertionError("the detector started without a grant")
    assert device.streams_opened == 0
    [record] = access(sink, Action.STREAM_OPEN)
    assert record["allowed"] is False


async def test_the_owner_detector_reads_frames_under_its_purpose_in_the_audit() -> None:
    sink = MemoryAuditSink()
    async with open_camera("acc-owner", STILL, audit=sink) as cam:
        async with cam.motion(fps=5.0, purpose="driveway watch") as detector:
            await wait_until(lambda: detector.stats.frames >= 1, timeout=WAIT)
    [stream_open] = access(sink, Action.STREAM_OPEN)
    [frames] = access(sink, Action.FRAMES)
    assert (stream_open["allowed"], stream_open["purpose"]) == (True, "driveway watch")
    assert (frames["allowed"], frames["purpose"]) == (True, "driveway watch")


async def test_a_revoked_grant_stops_the_detector_which_says_why_on_exit() -> None:
    revocations = RevocationList()
    given = grant("acc-revoke", Action.STREAM_OPEN, Action.FRAMES)
    policy = GrantPolicy([given], revocations=revocations)
    async with open_camera("acc-revoke", STILL, principal=NEIGHBOUR, policy=policy) as cam:
        with pytest.raises(AccessDeniedError, match="revoked"):
            async with cam.motion(fps=5.0) as detector:
                await wait_until(lambda: detector.stats.frames >= 1, timeout=WAIT)
                revocations.revoke(given.grant_id)
                await wait_until(lambda: not detector.running, timeout=WAIT)
                assert isinstance(detector.error, AccessDeniedError)
