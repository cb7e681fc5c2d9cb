"""The event connection against the simulator: heartbeats, dead sockets, faults, RPC2, auth."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import camsdk
from camsdk import AuthenticationError, Credentials, EventKind
from camsdk.testing import DahuaDevice

from .conftest import FAST

pytestmark = pytest.mark.anyio

DEVICE_KINDS = set(EventKind) - {EventKind.CONNECTION, EventKind.STREAM_STATE}


async def _next(events: Any) -> camsdk.CameraEvent:
    with anyio.fail_after(10):
        return await anext(aiter(events))


async def test_a_silent_half_open_connection_is_replaced_after_missed_heartbeats() -> None:
    async with DahuaDevice() as device:
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST, heartbeat=1, heartbeat_misses=2) as cam:
            async with cam.events(kinds=DEVICE_KINDS) as events:
                await device.wait_until(lambda d: d.event_streams == 1)
                attaches = device.requests_to("/cgi-bin/eventManager.cgi")
                assert device.silence_events() == 1
                await device.wait_until(
                    lambda d: d.requests_to("/cgi-bin/eventManager.cgi") > attaches
                    and d.event_streams >= 1, timeout=10)
                device.emit("VideoMotion", "Start", 0)
                event = await _next(events)
    assert event.kind is EventKind.MOTION


async def test_heartbeats_keep_a_quiet_connection_open() -> None:
    async with DahuaDevice() as device:
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST, heartbeat=1, heartbeat_misses=2) as cam:
            async with cam.events(kinds=DEVICE_KINDS) as events:
                await device.wait_until(lambda d: d.event_streams == 1)
                with anyio.move_on_after(3.5):
                    await _next(events)  # nothing to say for three idle periods
                attaches = device.requests_to("/cgi-bin/eventManager.cgi")
    assert attaches == 1  # Digest state is shared: one request, one stream, no reconnect


@pytest.mark.parametrize("sizes", [[1], [7], [3, 50, 1]])
async def test_events_split_at_any_byte_on_the_wire_arrive_whole(sizes: list[int]) -> None:
    async with DahuaDevice() as device:
        device.routes["events"].split_chunks(sizes)
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST) as cam, cam.events(kinds=DEVICE_KINDS) as events:
            await device.wait_until(lambda d: d.event_streams == 1)
            device.emit("CrossLineDetection", "Start", 0, {"Name": "Gate", "UTC": 1717236000})
            event = await _next(events)
    assert (event.kind, event.zone) == (EventKind.LINE_CROSSING, "Gate")


async def test_parts_with_a_lying_content_length_still_arrive() -> None:
    async with DahuaDevice() as device:
        device.bus.part_length_error = 3
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST) as cam, cam.events(kinds=DEVICE_KINDS) as events:
            await device.wait_until(lambda d: d.event_streams == 1)
            device.emit("VideoMotion", "Start", 0)
            device.emit("VideoMotion", "Stop", 0)
            first, second = await _next(events), await _next(events)
    assert [(first.kind, first.active), (second.kind, second.active)] == [
        (EventKind.MOTION, True), (EventKind.MOTION, False)]


async def test_an_oversized_part_drops_the_connection_and_events_resume() -> None:
    async with DahuaDevice() as device:
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST) as cam, cam.events(kinds=DEVICE_KINDS) as events:
            await device.wait_until(lambda d: d.event_streams == 1)
            device.bus.inject(b"--myboundary\r\nContent-Length: 999999\r\n\r\n" + b"A" * 400_000)
            await device.wait_until(
                lambda d: d.requests_to("/cgi-bin/eventManager.cgi") >= 2, timeout=10)
            await device.wait_until(lambda d: d.event_streams == 1)
            device.emit("AlarmLocal", "Start", 0)
            event = await _next(events)
    assert event.kind is EventKind.INPUT


async def test_firmware_without_the_attach_cgi_falls_back_to_rpc2() -> None:
    async with DahuaDevice(cgi_events=False) as device:
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST) as cam, cam.events(kinds=DEVICE_KINDS) as events:
            await device.wait_until(lambda d: d.bus.streams("rpc2") == 1)
            device.emit("SmartMotionVehicle", "Start", 0, {"Object": {"ObjectType": "Vehicle"}})
            event = await _next(events)
        assert device.rpc2.logins == 1
    assert (event.kind, event.extra["source"]) == (EventKind.VEHICLE, "rpc2")


async def test_rpc2_session_loss_logs_in_again_and_resumes() -> None:
    from camsdk.drivers.dahua._event_source import EventSource

    async with DahuaDevice(cgi_events=False) as device:
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST, events="rpc2") as cam:
            source = cam._driver.session.event_source()  # type: ignore[attr-defined]
            assert isinstance(source, EventSource)
            source.keepalive_interval = 0.2
            async with cam.events(kinds=DEVICE_KINDS) as events:
                await device.wait_until(lambda d: d.bus.streams("rpc2") == 1)
                device.rpc2.drop_sessions()
                await device.wait_until(lambda d: d.rpc2.logins == 2, timeout=10)
                await device.wait_until(lambda d: d.bus.streams("rpc2") >= 1)
                device.emit("VideoMotion", "Start", 0)
                event = await _next(events)
    assert event.kind is EventKind.MOTION


async def test_a_wrong_rpc2_password_stops_at_once_without_retries() -> None:
    async with DahuaDevice(cgi_events=False, auth="basic") as device:
        # The CGI accepts the account (Basic); the RPC2 login is what fails.
        device.rpc2.set_password("changed-on-the-device")
        async with camsdk.open(device.camera_url(), credentials=device.credentials,
                               config=FAST) as cam:
            with anyio.fail_after(10):
                async with cam.events(kinds=set(EventKind)) as events:
                    event = await anext(aiter(events))
                    while event.kind is not EventKind.CONNECTION:
                        event = await anext(aiter(events))
            failed = device.rpc2.failed_logins
            with anyio.fail_after(10), pytest.raises(camsdk.AuthenticationError):
                async with cam.events(kinds=DEVICE_KINDS) as again:
                    await anext(aiter(again))  # refused by the driver, without a login
        assert failed == 1 and device.rpc2.failed_logins == 1
    assert "refused" in event.extra["reason"]


async def test_channels_of_a_recorder_share_one_event_connection_routed_by_index() -> None:
    async with DahuaDevice(kind="nvr", channels=4) as device:
        creds = device.credentials
        async with camsdk.hub(device.url, credentials=creds, config=FAST) as hub:
            cams = await hub.cameras()
            for cam in cams:
                await cam.connect()
            async with cams[1].events(kinds=DEVICE_KINDS) as two, \
                    cams[3].events(kinds=DEVICE_KINDS) as four:
                await device.wait_until(lambda d: d.event_streams == 1)
                device.emit("VideoMotion", "Start", index=3)
                device.emit("VideoMotion", "Start", index=1)
                got_two, got_four = await _next(two), await _next(four)
            assert device.event_streams <= 1
    assert (got_two.extra["channel"], got_four.extra["channel"]) == (2, 4)
    assert got_two.camera_id.endswith("/2") and got_four.camera_id.endswith("/4")


async def test_a_locked_account_is_reported_as_locked() -> None:
    async with DahuaDevice(lockout_after=2) as device:
        wrong = Credentials(device.username, "wrong-password")
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                async with camsdk.open(device.camera_url(), credentials=wrong, config=FAST):
                    pass
        assert device.locked
        with pytest.raises(AuthenticationError) as info:
            async with camsdk.open(device.camera_url(), credentials=device.credentials,
                                   config=FAST):
                pass
    assert "locked" in str(info.value)
