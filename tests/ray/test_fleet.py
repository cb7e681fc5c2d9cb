"""The fleet on a local multi-process Ray cluster: placement, the facade's shapes, the policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import camsdk
from camsdk import AccessDeniedError, ConfigurationError, Discontinuity, MediaPacket
from camsdk.privacy import Grant, sign_grant, verify_audit_log
from camsdk.ray import Fleet, FleetConfig, HashRing
from camsdk.ray._actor import audit_path

from .conftest import LocalCluster, ray

pytestmark = pytest.mark.anyio


async def test_cameras_are_spread_over_the_workers_and_none_on_the_head(
    fleet: Fleet, ray_cluster: LocalCluster
) -> None:
    placement = await fleet.placement()
    assert len(placement) == 20
    assert set(placement.values()) == ray_cluster.worker_ids()


async def test_each_camera_is_where_the_hash_ring_of_eligible_nodes_puts_it(
    fleet: Fleet, fleet_config: FleetConfig, ray_cluster: LocalCluster
) -> None:
    ring = HashRing(ray_cluster.worker_ids(), vnodes=fleet_config.fleet.vnodes)
    placement = await fleet.placement()
    expected = {c.name: ring.owner(fleet_config.group_of(c)) for c in fleet_config.cameras}
    assert placement == expected


async def test_snapshots_come_through_proxies_from_virtual_and_rtsp_cameras(fleet: Fleet) -> None:
    for name in ("virtual-03", "rtsp-2"):
        async with fleet.camera(name) as cam:
            snap = await cam.snapshot(purpose="test")
            assert snap.jpeg[:2] == b"\xff\xd8"
            assert (snap.width, snap.height) == ((160, 120) if name.startswith("v") else (320, 240))


async def test_packets_cross_nodes_starting_on_a_keyframe(fleet: Fleet) -> None:
    async with fleet.camera("rtsp-0") as cam:
        assert cam.node_id != ray.get_runtime_context().get_node_id()
        async with cam.stream() as s, s.packets() as packets:
            assert s.info.codec == "h264"
            got: list[MediaPacket] = []
            async for item in packets:
                if isinstance(item, MediaPacket):
                    got.append(item)
                if len(got) >= 15:
                    break
    assert got[0].keyframe
    dts = [p.dts for p in got if p.kind == "video" and p.dts is not None]
    assert dts == sorted(dts) and len(set(dts)) == len(dts)


async def test_events_come_through_the_fleet(fleet: Fleet) -> None:
    async with fleet.camera("virtual-05") as cam, cam.events(kinds="motion") as events:
        event = await asyncio.wait_for(anext(events), 30)
    assert event.kind is camsdk.EventKind.MOTION


async def test_ptz_calls_run_on_the_camera(fleet: Fleet) -> None:
    async with fleet.camera("virtual-06") as cam:
        assert camsdk.Capability.PTZ in cam.capabilities
        await cam.ptz.absolute(0.5, -0.25, 0.0)
        status = await cam.ptz.status()
    assert status.pan == pytest.approx(0.5, abs=0.05)


async def test_a_principal_without_a_grant_gets_nothing_through_a_proxy(fleet: Fleet) -> None:
    async with fleet.camera("virtual-07", principal="mallory") as cam:
        with pytest.raises(AccessDeniedError):
            await cam.snapshot()
        with pytest.raises(AccessDeniedError):
            await cam.stream().open()
        with pytest.raises(AccessDeniedError):
            async with cam.events() as events:
                await anext(events)
        with pytest.raises(AccessDeniedError):
            await cam.ptz.home()


def _grant(key: Any, camera_id: str, actions: set[camsdk.Action]) -> Grant:
    now = datetime.now(UTC)
    return Grant(principal="alice", cameras={camera_id}, actions=frozenset(actions),
                 purpose="doorbell", issued_at=now - timedelta(minutes=1),
                 expires_at=now + timedelta(hours=1))


async def test_a_signed_grant_presented_by_the_caller_allows_only_what_it_names(
    fleet: Fleet, grant_key: Any
) -> None:
    async with fleet.camera("virtual-08") as owner_view:
        camera_id = owner_view.id
    grant = sign_grant(_grant(grant_key, camera_id, {camsdk.Action.SNAPSHOT}), grant_key)
    async with fleet.camera("virtual-08", principal="alice", grants=[grant]) as cam:
        snap = await cam.snapshot(purpose="doorbell")
        assert snap.jpeg
        with pytest.raises(AccessDeniedError):
            await cam.stream(purpose="doorbell").open()


async def test_an_unsigned_grant_presented_by_the_caller_counts_for_nothing(
    fleet: Fleet, grant_key: Any
) -> None:
    async with fleet.camera("virtual-09") as owner_view:
        camera_id = owner_view.id
    grant = _grant(grant_key, camera_id, {camsdk.Action.SNAPSHOT})
    async with fleet.camera("virtual-09", principal="alice", grants=[grant]) as cam:
        with pytest.raises(AccessDeniedError):
            await cam.snapshot(purpose="doorbell")


async def test_audit_records_are_written_on_the_cameras_node(
    fleet: Fleet, fleet_config: FleetConfig
) -> None:
    name = "virtual-10"
    async with fleet.camera(name, principal="eve") as cam:
        with pytest.raises(AccessDeniedError):
            await cam.snapshot(purpose="curiosity")
        node = cam.node_id
    assert fleet_config.fleet.audit_dir is not None
    path = audit_path(fleet_config.fleet.audit_dir, node,
                      fleet_config.group_of(fleet_config.camera(name)))
    assert verify_audit_log(path).ok
    lines = path.read_text().splitlines()
    assert any('"principal":"eve"' in line and '"allowed":false' in line
               and '"purpose":"curiosity"' in line for line in lines)


async def test_frames_are_refused_to_a_consumer_on_another_node(fleet: Fleet) -> None:
    async with fleet.camera("rtsp-1") as cam, cam.stream() as s:
        with pytest.raises(ConfigurationError, match="camera's node"):
            async with s.frames(format="rgb24") as frames:
                await anext(frames)


@ray.remote(num_cpus=0)
def _read_frames_here(config_json: str, camera: str, count: int) -> list[tuple[Any, ...]]:
    """An analytics consumer: runs on the camera's node, reads frames zero-copy."""

    async def consume() -> list[tuple[Any, ...]]:
        seen: list[tuple[Any, ...]] = []
        fleet = Fleet(FleetConfig.model_validate_json(config_json))
        async with fleet, fleet.camera(camera) as cam, cam.stream() as s:
            async with s.frames(format="rgb24") as frames:
                async for frame in frames:
                    if isinstance(frame, Discontinuity):
                        continue
                    seen.append((frame.array.shape, frame.array.flags.writeable))
                    if len(seen) >= count:
                        break
        return seen

    return asyncio.run(consume())


async def test_frames_reach_a_consumer_on_the_cameras_node_without_a_copy(
    fleet: Fleet, fleet_config: FleetConfig
) -> None:
    options = await fleet.consumer_options("rtsp-1")
    seen = await _read_frames_here.options(**options).remote(
        fleet_config.model_dump_json(), "rtsp-1", 5)
    assert len(seen) == 5
    assert all(shape == (240, 320, 3) for shape, _ in seen)
    # Out of Ray's shared-memory object store: a read-only view, not a private copy.
    assert not any(writeable for _, writeable in seen)
