"""The account's devices: families, exact ids, power, sharing, E2EE, intercoms."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import camsdk
from camsdk import Capability
from camsdk.drivers.ring._devices import device_id, parse_devices, parse_key
from camsdk.testing import RingCloud
from camsdk.testing import RingSimDevice as SimDevice

from .conftest import camera_url

pytestmark = pytest.mark.anyio

BIG = 2**60


async def test_the_hub_lists_every_camera_keyed_by_family_and_exact_id(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.hub("ring://home", **options) as hub:
        listing = {c.id: c for c in await hub.listing()}
    assert set(listing) == {
        f"ring:doorbot-{BIG + 7}", f"ring:stickup_cam-{BIG + 21}", f"ring:doorbot-{BIG + 99}",
        f"ring:intercom-{BIG + 7}", f"ring:stickup_cam-{BIG + 42}",
    }, "the intercom and the doorbell share an id and are two cameras"
    front = listing[f"ring:doorbot-{BIG + 7}"]
    assert front.extra["ring_id"] == BIG + 7 and isinstance(front.extra["ring_id"], int)
    assert front.name == "Front Door" and front.extra["model"] == "Video Doorbell Pro 2"
    assert front.url == f"ring://home/doorbot-{BIG + 7}" or front.url.startswith(
        f"ring://home/doorbot-{BIG + 7}?")
    assert "Hall Chime" not in {c.name for c in listing.values()}


async def test_battery_wired_firmware_and_location_come_from_the_device_list(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.hub("ring://home", **options) as hub:
        listing = {c.name: c.extra for c in await hub.listing()}
    assert listing["Front Door"]["power"] == "wired"
    assert listing["Front Door"]["battery_level"] is None
    assert listing["Garden"]["power"] == "battery" and listing["Garden"]["battery_level"] == 87
    assert listing["Garden"]["firmware"] == "cam-1.24.5000"
    assert listing["Garden"]["location_id"] == "sim-location-1"


async def test_a_shared_device_is_marked(cloud: RingCloud, options: dict[str, Any]) -> None:
    async with camsdk.hub("ring://home", **options) as hub:
        listing = {c.name: c.extra["shared"] for c in await hub.listing()}
    assert listing["Neighbour's Door"] is True and listing["Front Door"] is False


async def test_camera_info_carries_model_battery_and_power(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud, 1), **options) as cam:
        info = cam.info
        assert cam.supports(Capability.BATTERY)
    assert info.id == f"ring:stickup_cam-{BIG + 21}" and info.vendor == "Ring"
    assert info.model == "Spotlight Cam Battery" and info.firmware == "cam-1.24.5000"
    assert info.extra["battery_level"] == "87" and info.extra["power"] == "battery"
    assert info.location == "1 Simulated Street"


async def test_an_e2ee_camera_says_third_party_streaming_is_blocked_at_once(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud, 4), **options) as cam:
        assert cam.info.extra["e2ee"] == "1"
        assert not cam.supports(Capability.STREAM) and cam.supports(Capability.EVENTS)
        with anyio.fail_after(1.0):  # refused, not a hang until a deadline
            with pytest.raises(camsdk.UnsupportedCapabilityError, match="end-to-end"):
                cam.stream()
            with pytest.raises(camsdk.UnsupportedCapabilityError, match="end-to-end"):
                await cam.snapshot()
            with pytest.raises(camsdk.UnsupportedCapabilityError, match="end-to-end"):
                cam.talk()
    assert cloud.live_sessions == [] and cloud.snapshot_requests == 0


async def test_the_hub_lists_an_e2ee_camera_as_usable_for_events_only(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.hub("ring://home", **options) as hub:
        garage = next(c for c in await hub.listing() if c.name == "Garage")
    assert garage.online and garage.extra["e2ee"] is True
    assert garage.extra["streaming"] == "blocked: end-to-end encryption"


async def test_an_intercom_reports_events_and_no_camera(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    async with camsdk.open(camera_url(cloud, 3), **options) as cam:
        assert cam.capabilities == Capability.EVENTS
        with pytest.raises(camsdk.UnsupportedCapabilityError, match="no camera"):
            cam.stream()


async def test_an_offline_device_is_listed_unusable_with_the_reason(
    store: Any,
) -> None:
    devices = [SimDevice("doorbot", BIG + 1, "Porch", "doorbell_v3"),
               SimDevice("stickup_cam", BIG + 2, "Shed", "stickup_cam_lunar", battery=5,
                         online=False)]
    async with RingCloud(devices=devices) as cloud:
        from .conftest import FAST, log_in

        await log_in(cloud, store)
        async with camsdk.hub("ring://home", **cloud.options, token_store=store,
                              config=FAST) as hub:
            listing = {c.name: c for c in await hub.listing()}
            online = await hub.cameras()
    assert listing["Shed"].online is False and listing["Shed"].reason == "the device is offline"
    assert [c.id for c in online] == [f"ring:doorbot-{BIG + 1}"]


async def test_an_unknown_device_key_lists_the_known_ones(
    cloud: RingCloud, options: dict[str, Any]
) -> None:
    with pytest.raises(camsdk.ConfigurationError, match="known: doorbot-"):
        async with camsdk.open("ring://home/doorbot-1", **options):
            pass


def test_ids_stay_exact_integers_and_floats_are_never_taken() -> None:
    assert device_id(2**63 + 1) == 2**63 + 1
    assert device_id("18446744073709551617") == 18446744073709551617
    assert device_id(1.152921504606847e18) is None
    assert device_id(True) is None and device_id(-4) is None
    assert parse_key("doorbot-1152921504606846983") == ("doorbot", 1152921504606846983)
    assert parse_key("chime-1") is None and parse_key("doorbot-1.5") is None


def test_a_device_with_a_float_id_is_kept_but_marked_unusable() -> None:
    devices = parse_devices({"doorbots": [{"id": 1.152921504606847e18, "description": "Odd",
                                           "kind": "doorbell_v3"}]})
    assert len(devices) == 1 and devices[0].problem == "the device id is not an integer"


def test_battery_life_is_read_as_a_percentage_only() -> None:
    devices = parse_devices({"stickup_cams": [
        {"id": 1, "kind": "stickup_cam_v4", "battery_life": "71", "battery_life_2": 64},
        {"id": 2, "kind": "stickup_cam_v4", "battery_life": 4003},  # millivolts, not %
        {"id": 3, "kind": "hp_cam_v2", "battery_life": None, "external_connection": True},
        {"id": 4, "kind": "cocoa_camera", "battery_life": "100",
         "settings": {"power_mode": "wired"}},
    ]})
    levels = [(d.battery_level, d.battery_powered) for d in devices]
    assert levels == [(64, True), (None, False), (None, False), (100, False)]


def test_hostile_device_lists_stay_bounded() -> None:
    assert parse_devices(["not", "an", "object"]) == []
    assert parse_devices({"doorbots": "nope", "stickup_cams": [1, "x", None]}) == []
    many = parse_devices({"doorbots": [{"id": i, "kind": "x"} for i in range(5000)]})
    assert len(many) == 1000
    long = parse_devices({"doorbots": [{"id": 1, "description": "x" * 10_000}]})
    assert len(long[0].name) == 200
