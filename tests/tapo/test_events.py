"""Tapo detections from the ONVIF PullPoint, mapped to camsdk's kinds.

The table of `TAPO_ITEMS` is checked twice: on ONVIF events as the ONVIF
driver hands them over (unit tests of `TapoEventMapper`) and end to end,
from the simulator's notification to ``cam.events()``.
"""

from __future__ import annotations

import anyio
import pytest

import camsdk
from camsdk import AuthenticationError, CameraEvent, Credentials, EventKind
from camsdk.drivers.tapo._events import TapoEventMapper
from camsdk.testing import TapoDevice

from .conftest import STREAM_USER, options

pytestmark = pytest.mark.anyio
WAIT = 20
DEVICE_KINDS = set(EventKind) - {EventKind.CONNECTION, EventKind.STREAM_STATE}


def onvif_event(topic: str, data: dict[str, str], *, active: bool = True,
                kind: EventKind = EventKind.OTHER, operation: str = "Changed") -> CameraEvent:
    """An event as camsdk's ONVIF driver hands it over."""
    path = topic.split(":", 1)[1]
    return CameraEvent(kind=kind, active=active, vendor="onvif", topic=topic, camera_id="onvif:x",
                       extra={"topic_path": path, "operation": operation, "data": data,
                              "source": {}})


PEOPLE = "tns1:RuleEngine/PeopleDetector/People"
SMART = "tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent"


@pytest.mark.parametrize(
    ("topic", "item", "kind", "code"),
    [
        ("tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion", EventKind.MOTION, "motion"),
        (PEOPLE, "IsPeople", EventKind.PERSON, "person"),
        ("tns1:RuleEngine/CellMotionDetector/People", "IsPeople", EventKind.PERSON, "person"),
        (SMART, "IsVehicle", EventKind.VEHICLE, "vehicle"),
        (SMART, "IsPet", EventKind.ANIMAL, "pet"),
        ("tns1:RuleEngine/LineCrossDetector/LineCross", "IsLineCross", EventKind.LINE_CROSSING,
         "line_crossing"),
        ("tns1:RuleEngine/IntrusionDetector/Intrusion", "IsIntrusion", EventKind.INTRUSION,
         "intrusion"),
        ("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper", EventKind.TAMPER, "tamper"),
        ("tns1:RuleEngine/BabyCryDetector/BabyCry", "IsBabyCry", EventKind.SOUND, "baby_cry"),
        (SMART, "IsTPSmartEvent", EventKind.OTHER, "smart_event"),
    ],
)
def test_each_tapo_item_maps_to_its_kind_with_start_and_end(
    topic: str, item: str, kind: EventKind, code: str
) -> None:
    mapper = TapoEventMapper()
    (start,) = mapper.translate(onvif_event(topic, {item: "true"}))
    (end,) = mapper.translate(onvif_event(topic, {item: "false"}))
    assert (start.kind, start.active, start.extra["code"]) == (kind, True, code)
    assert (end.kind, end.active) == (kind, False)
    assert start.event_id == end.event_id
    assert start.vendor == "tapo" and start.topic == topic and start.camera_id == ""


def test_the_two_events_of_one_stateless_notification_count_once() -> None:
    mapper = TapoEventMapper()
    note = {"IsVehicle": "true"}
    out = mapper.translate(onvif_event(SMART, note, active=True))
    out += mapper.translate(onvif_event(SMART, note, active=False))
    assert [(e.kind, e.active) for e in out] == [(EventKind.VEHICLE, True)]


def test_a_resent_state_is_quiet_and_an_end_without_start_is_dropped() -> None:
    mapper = TapoEventMapper()
    assert mapper.translate(onvif_event(PEOPLE, {"IsPeople": "false"})) == []
    assert len(mapper.translate(onvif_event(PEOPLE, {"IsPeople": "true"}))) == 1
    assert mapper.translate(onvif_event(PEOPLE, {"IsPeople": "true"})) == []


def test_a_smart_event_naming_what_it_saw_is_that_kind_not_the_catch_all() -> None:
    out = TapoEventMapper().translate(
        onvif_event(SMART, {"IsTPSmartEvent": "true", "IsVehicle": "true", "IsPet": "false"}))
    assert [(e.kind, e.active) for e in out] == [(EventKind.VEHICLE, True)]


def test_a_notification_without_tapo_items_passes_as_the_onvif_driver_classified_it() -> None:
    note = onvif_event("tns1:VideoSource/ImageTooDark", {"State": "true"}, kind=EventKind.TAMPER)
    (out,) = TapoEventMapper().translate(note)
    assert (out.kind, out.vendor, out.extra["code"]) == (EventKind.TAMPER, "tapo", "onvif")


def test_garbage_values_change_nothing() -> None:
    mapper = TapoEventMapper()
    out = mapper.translate(onvif_event(PEOPLE, {"IsPeople": "maybe", "IsPet": "\x00" * 10**5}))
    assert [e.extra["code"] for e in out] == ["onvif"]


def test_a_lost_connection_ends_what_was_on() -> None:
    mapper = TapoEventMapper()
    (start,) = mapper.translate(onvif_event(PEOPLE, {"IsPeople": "true"}))
    (end,) = mapper.reset()
    assert (end.kind, end.active, end.event_id) == (EventKind.PERSON, False, start.event_id)
    assert end.extra["closed_by"] == "reconnect"


# -- end to end ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "kind"),
    [("motion", EventKind.MOTION), ("person", EventKind.PERSON),
     ("vehicle", EventKind.VEHICLE), ("pet", EventKind.ANIMAL),
     ("line_crossing", EventKind.LINE_CROSSING), ("baby_cry", EventKind.SOUND)],
)
async def test_a_detection_arrives_as_its_kind_and_ends_with_the_same_id(
    camera: TapoDevice, what: str, kind: EventKind
) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera.url, **options()) as cam:
            async with cam.events(kinds=DEVICE_KINDS) as events:
                await camera.onvif.wait_until(lambda d: d.subscriptions >= 1)
                camera.detect(what, True)
                start = await anext(aiter(events))
                camera.detect(what, False)
                end = await anext(aiter(events))
    assert (start.kind, start.active, end.kind, end.active) == (kind, True, kind, False)
    assert start.event_id == end.event_id and start.camera_id == cam.id
    assert start.topic.startswith("tns1:RuleEngine/")


async def test_cameras_on_one_device_share_one_onvif_subscription(camera: TapoDevice) -> None:
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera.url, **options()) as first, \
                camsdk.open(camera.url, **options()) as second:
            async with first.events(kinds=DEVICE_KINDS) as a, \
                    second.events(kinds=DEVICE_KINDS) as b:
                await camera.onvif.wait_until(lambda d: d.subscriptions >= 1)
                camera.detect("person")
                seen = (await anext(aiter(a)), await anext(aiter(b)))
                assert camera.onvif.subscriptions == 1
    assert seen[0].event_id == seen[1].event_id


async def test_a_wrong_camera_account_stops_events_without_sending_it_again(
    camera: TapoDevice,
) -> None:
    wrong = Credentials(STREAM_USER, "not-the-stream-password")
    failures = []
    with anyio.fail_after(WAIT):
        async with camsdk.open(camera.url, **options(stream_credentials=wrong)) as cam:
            with pytest.raises(AuthenticationError) as refused:
                async with cam.events() as events:
                    async for event in events:
                        assert event.kind is EventKind.CONNECTION and not event.active
                        failures.append(event)
            attempts = camera.onvif.requests.count("GetDeviceInformation")
            # A new subscription is refused from memory: the account is not sent again.
            with pytest.raises(AuthenticationError):
                async with cam.events() as again:
                    async for _ in again:
                        pass
            state = (await cam.call_extension("event_source"))["state"]
    # One last CONNECTION event says why, then the feed ends: no retry loop that
    # could lock the camera account.
    assert [e.extra.get("final") for e in failures] == [True]
    assert "AuthenticationError" in failures[0].extra["reason"]
    assert camera.onvif.requests.count("GetDeviceInformation") == attempts
    assert state == "refused"
    assert "not-the-stream-password" not in str(refused.value)
    assert "not-the-stream-password" not in failures[0].extra["reason"]


async def test_an_unreachable_onvif_service_is_a_connection_event_and_still_tried(
    camera: TapoDevice,
) -> None:
    from camsdk.testing import closed_port

    url = camera.url.replace(f"onvif_port={camera.onvif_port}", f"onvif_port={closed_port()}")
    with anyio.fail_after(WAIT):
        async with camsdk.open(url, **options()) as cam:
            async with cam.events() as events:
                event = await anext(aiter(events))
                source = await cam.call_extension("event_source")
    assert event.kind is EventKind.CONNECTION and not event.active
    assert "Unreachable" in event.extra["reason"]
    assert source["state"] in ("connecting", "failed") and source["connects"] >= 1


async def test_without_a_camera_account_there_are_no_events_or_streams() -> None:
    from .conftest import CREDS, FAST, device

    async with device() as sim:
        async with camsdk.open(sim.url, credentials=CREDS, config=FAST) as cam:
            assert not cam.supports(camsdk.Capability.EVENTS)
            assert not cam.supports(camsdk.Capability.STREAM)
            assert cam.supports(camsdk.Capability.PRIVACY_MODE | camsdk.Capability.PTZ)
            assert cam.info.extra["camera_account"] == "missing"
