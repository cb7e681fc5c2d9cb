"""The Hikvision hub: every channel of an NVR, with the device's names and online state."""

from __future__ import annotations

import asyncio

import pytest

import camsdk
from camsdk.drivers.hikvision._api import SESSIONS
from camsdk.testing import HikvisionDevice

from ._helpers import CREDS, FAST

pytestmark = pytest.mark.anyio


def _logins(device: HikvisionDevice) -> int:
    """Logins: identity requests, less the Digest challenge each one starts with."""
    asked = sum(1 for r in device.http.requests if r.path == "/ISAPI/System/deviceInfo")
    return asked // 2


async def test_the_hub_lists_every_channel_with_the_devices_names(nvr: HikvisionDevice) -> None:
    async with camsdk.hub(nvr.url, credentials=CREDS, config=FAST) as hub:
        listed = await hub.listing()
    assert [c.name for c in listed] == ["Camera 01", "Camera 02", "Camera 03", "Camera 04"]
    assert [c.id for c in listed] == [f"hikvision:{nvr.serial}/{n}" for n in range(1, 5)]
    assert [c.url for c in listed] == [nvr.camera_url(n) for n in range(1, 5)]
    assert listed[1].extra["streams"] == {"main": 201, "sub": 202}
    assert listed[1].extra["proxy"] is True


async def test_an_offline_channel_is_listed_with_the_devices_reason(nvr: HikvisionDevice) -> None:
    nvr.set_online(4, False, detect="passwordError")
    async with camsdk.hub(nvr.url, credentials=CREDS, config=FAST) as hub:
        listed = {c.extra["channel"]: c for c in await hub.listing()}
        cams = await hub.cameras()
        everything = await hub.cameras(include_offline=True)
    assert (listed[3].online, listed[3].reason) == (False, "offline")
    assert (listed[4].online, listed[4].reason) == (False, "passwordError")
    assert listed[1].online and listed[1].reason == ""
    assert len(cams) == 2 and len(everything) == 4


async def test_online_state_is_read_again_at_every_listing(nvr: HikvisionDevice) -> None:
    async with camsdk.hub(nvr.url, credentials=CREDS, config=FAST) as hub:
        assert len(await hub.cameras()) == 3
        nvr.set_online(3, True)
        assert len(await hub.cameras()) == 4


async def test_cameras_of_the_hub_share_its_one_login(nvr: HikvisionDevice) -> None:
    async with camsdk.hub(nvr.url, credentials=CREDS, config=FAST) as hub:
        cams = await hub.cameras()
        for cam in cams:
            await cam.connect()
        assert {cam.info.model for cam in cams} == {nvr.model}
        catalogue = [r for r in nvr.http.requests
                     if r.path == "/ISAPI/ContentMgmt/InputProxy/channels"]
    assert _logins(nvr) == 1
    assert len(catalogue) == 1


async def test_the_last_user_of_a_session_closes_it(nvr: HikvisionDevice) -> None:
    hub = camsdk.hub(nvr.url, credentials=CREDS, config=FAST)
    await hub.connect()
    cam = camsdk.open(nvr.camera_url(1), credentials=CREDS, config=FAST)
    await cam.connect()
    key = cam._driver._key  # type: ignore[attr-defined]
    assert SESSIONS.users(key) == 2
    await hub.aclose()
    assert SESSIONS.users(key) == 1
    await cam.aclose()
    assert SESSIONS.users(key) == 0


async def test_nvr_events_reach_the_camera_named_by_dyn_channel_id(nvr: HikvisionDevice) -> None:
    import anyio

    async with camsdk.hub(nvr.url, credentials=CREDS, config=FAST) as hub:
        one, two = (await hub.cameras())[:2]
        await one.connect()
        await two.connect()
        with anyio.fail_after(10):
            async with one.events(kinds="motion") as first, two.events(kinds="motion") as second:
                await nvr.wait_until(lambda d: d.alert_streams >= 1)
                nvr.emit("VMD", channel=2)  # channelID 34, dynChannelID 2
                event = await anext(aiter(second))
                assert first._subscription.pending == 0  # type: ignore[attr-defined]
        assert nvr.alert_connects == 1  # one alert stream for the whole device
    assert event.extra["channel"] == 2
    assert event.camera_id == two.id


async def test_a_single_camera_is_a_hub_of_one(camera: HikvisionDevice) -> None:
    async with camsdk.hub(camera.url, credentials=CREDS, config=FAST) as hub:
        [only] = await hub.listing()
    assert (only.name, only.online, only.extra["proxy"]) == ("Camera 01", True, False)


async def test_cameras_connecting_at_once_answer_stale_nonces_not_refusals() -> None:
    async with HikvisionDevice(username="admin", password="Hik-s3cret-Pw", kind="nvr",
                               channels=16, ptz=False, talk=None) as nvr:
        async with camsdk.hub(nvr.url, credentials=CREDS, config=FAST) as hub:
            cams = await hub.cameras()
            await asyncio.gather(*(cam.connect() for cam in cams))
            assert all(cam.state is camsdk.CameraState.OPEN for cam in cams)
        assert nvr.failed_logins == 0
