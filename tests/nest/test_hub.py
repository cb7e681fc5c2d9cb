"""The Nest account hub: cameras listed with Nest names, unusable ones explained, one account."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import camsdk
from camsdk import EventKind
from camsdk.cloud import MemoryTokenStore
from camsdk.testing._nest_cloud import NestCloud, SimDevice, default_devices

from .test_events import ACTIVITIES, next_event

pytestmark = pytest.mark.anyio


async def test_the_hub_lists_every_camera_with_its_name_place_and_protocols(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.hub(cloud.hub_url, **options) as hub:
        listing = await hub.listing()
    by_name = {c.name: c for c in listing}
    assert set(by_name) == {"Living Room Camera", "Front Door", "Garage"}  # no thermostat
    door = by_name["Front Door"]
    assert door.online and door.id == f"nest:{cloud.device('Doorbell').id}"
    assert door.extra["protocols"] == ["WEB_RTC"] and door.extra["room"] == "Entryway"
    assert door.extra["structure"] == "Home" and door.extra["model"] == "Nest Doorbell"
    assert by_name["Living Room Camera"].extra["protocols"] == ["RTSP"]


async def test_unusable_cameras_are_listed_with_the_reason_not_failing_the_hub(
    options: dict[str, Any],
) -> None:
    devices = [*default_devices()[:1],
               SimDevice("Hubmax", "DISPLAY", "Kitchen Display", "Kitchen", protocol="NONE",
                         media="image"),
               SimDevice("Off", "CAMERA", "Shed", "Shed", online=False)]
    async with NestCloud(devices=devices) as sim:
        store = MemoryTokenStore()
        await store.save(sim.tokens())
        hub_options = {**options, **sim.options(), "token_store": store,
                       "credentials": sim.credentials}
        async with camsdk.hub(sim.hub_url, **hub_options) as hub:
            listing = {c.name: c for c in await hub.listing()}
            usable = await hub.cameras()
    assert listing["Shed"].reason == "the device is offline" and not listing["Shed"].online
    assert not listing["Kitchen Display"].online
    assert "camsdk cannot read" in listing["Kitchen Display"].reason
    assert len(usable) == 1


async def test_the_hubs_cameras_share_one_account_and_one_device_list(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.hub(cloud.hub_url, **options) as hub:
        cams = await hub.cameras()
        for cam in cams:
            await cam.connect()
        accounts = {id(cam._driver.account) for cam in cams}  # type: ignore[attr-defined]
    assert len(accounts) == 1
    assert cloud.reads["devices.list"] == 1 and cloud.reads["structures.list"] == 1


async def test_two_cameras_listening_share_one_event_feed(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.hub(cloud.hub_url, **options) as hub:
        cams = {c.id: c for c in await hub.cameras()}
        garage = cams[f"nest:{cloud.device('Garage').id}"]
        door = cams[f"nest:{cloud.device('Doorbell').id}"]
        async with garage, door, garage.events(kinds=ACTIVITIES) as one, \
                door.events(kinds=ACTIVITIES) as two:
            cloud.start_event("Garage", "motion")
            cloud.ring("Doorbell")
            first, second = await next_event(one), await next_event(two)
            feeds = {id(c._driver.account.feed) for c in (garage, door)}  # type: ignore[attr-defined]
    assert first.kind is EventKind.MOTION and second.kind is EventKind.DOORBELL
    assert len(feeds) == 1
    assert cloud.subscription.waiting_pulls <= 1


async def test_a_camera_can_be_opened_by_its_nest_name(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    async with camsdk.open(f"{cloud.hub_url}/Front%20Door", **options) as cam:
        assert cam.id == f"nest:{cloud.device('Doorbell').id}"
        assert cam.info.model == "Nest Doorbell" and cam.info.vendor == "Google Nest"


async def test_an_unknown_camera_is_a_configuration_error_naming_the_known_ones(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    with pytest.raises(camsdk.ConfigurationError, match="Front Door"):
        await camsdk.open(f"{cloud.hub_url}/Backyard", **options).connect()


def test_urls_name_a_project_and_for_a_camera_a_device() -> None:
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.hub("nest://project/device")
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.open("nest://project")
    with pytest.raises(camsdk.ConfigurationError):
        camsdk.open("nest://project/device?subscription=not-a-subscription")


async def test_the_oauth_client_secret_never_reaches_a_camera_url(
    cloud: NestCloud, options: dict[str, Any],
) -> None:
    options = {**options, "client_id": cloud.client_id, "client_secret": cloud.client_secret}
    options.pop("credentials")
    with anyio.fail_after(20):
        async with camsdk.hub(cloud.hub_url, **options) as hub:
            urls = [c.url for c in await hub.listing()]
    assert urls and not [u for u in urls if cloud.client_secret in u]
    assert all(f"client_id={cloud.client_id}" in u for u in urls)
