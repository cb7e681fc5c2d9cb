"""Events through the facade: snapshots of the moment, stream health as events."""

from __future__ import annotations

import io

import anyio
import av
import pytest

import camsdk
from camsdk import EventKind, MediaPacket, StreamState
from camsdk.drivers.virtual import virtual_device

pytestmark = pytest.mark.anyio

FAST = "size=160x120&fps=30&gop=30"


async def test_event_snapshot_shows_the_moment_of_the_event() -> None:
    async with camsdk.open(f"virtual://evsnap?{FAST}") as cam, cam.stream() as stream:
        async with stream.packets() as packets, cam.events(with_snapshot=True) as events:
            with anyio.fail_after(10):
                seen = 0
                async for item in packets:  # run into the middle of a GOP
                    seen += isinstance(item, MediaPacket)
                    if seen == 45:
                        break
                virtual_device("evsnap").inject_event(EventKind.PERSON, score=0.9)
                event = await events.__anext__()
    snap = event.snapshot
    assert snap is not None and snap.source == "stream"
    # Decoded up to the event, not the GOP's keyframe a second earlier.
    assert abs((event.received_at - snap.captured_at).total_seconds()) < 0.2
    with av.open(io.BytesIO(snap.jpeg), "r") as container:
        assert next(container.decode(video=0)).width == 160


async def test_event_snapshot_without_a_running_stream_takes_a_fresh_still() -> None:
    async with camsdk.open(f"virtual://evsnap2?{FAST}") as cam:
        async with cam.events(with_snapshot=True) as events:
            virtual_device("evsnap2").inject_event(EventKind.MOTION)
            with anyio.fail_after(10):
                event = await events.__anext__()
    assert event.snapshot is not None and event.snapshot.jpeg[:2] == b"\xff\xd8"


async def test_event_snapshots_pass_the_access_policy() -> None:
    from camsdk.privacy import MemoryAuditSink

    audit = MemoryAuditSink()
    async with camsdk.open(f"virtual://evsnap3?{FAST}", audit=audit) as cam:
        async with cam.events(with_snapshot=True, purpose="doorbell app") as events:
            virtual_device("evsnap3").inject_event(EventKind.DOORBELL)
            with anyio.fail_after(10):
                await events.__anext__()
    actions = [(r.get("event"), r.get("action")) for r in audit.records]
    assert ("access", "snapshot") in actions


async def test_stream_health_changes_are_events() -> None:
    config = {"backoff_base": 0.01, "backoff_cap": 0.02}
    async with camsdk.open(f"virtual://health?{FAST}", config=config) as cam:
        async with cam.events(kinds={EventKind.STREAM_STATE}) as events:
            async with cam.stream():
                states: list[str] = []
                with anyio.fail_after(10):
                    async for event in events:
                        states.append(event.extra["state"])
                        if event.extra["state"] == StreamState.STREAMING.value:
                            if "backoff" in states:
                                break
                            virtual_device("health").inject_fault("drop_after:1")
    assert states[:2] == ["connecting", "streaming"]
    assert "backoff" in states and states[-1] == "streaming"


async def test_a_camera_without_events_still_reports_its_stream_health() -> None:
    from camsdk.testing import RtspServer, generate_source

    loop = generate_source(width=160, height=120, fps=30, gop=15, seconds=1.0)
    async with RtspServer(loop) as server:
        async with camsdk.open(server.url, config={"open_timeout": 5.0}) as cam:
            assert not cam.supports(camsdk.Capability.EVENTS)
            async with cam.events(kinds={EventKind.STREAM_STATE}) as events:
                async with cam.stream():
                    with anyio.fail_after(10):
                        async for event in events:
                            if event.extra["state"] == StreamState.STREAMING.value:
                                break
    assert event.active and event.camera_id == cam.id
