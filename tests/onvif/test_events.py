"""ONVIF events: topic mapping, property operations, and the PullPoint loop (respx)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest

import camsdk
from camsdk import CameraEvent, Credentials, DeviceError, EventKind
from camsdk.driver import xml as x
from camsdk.drivers.onvif import classify
from camsdk.drivers.onvif._events import Notification, for_channel, parse_notifications, to_events

from ._helpers import PASSWORD, USER, SoapReplay, axis_device, fixture_text, onvif_driver, stamp

pytestmark = pytest.mark.anyio

URL = "onvif://cam.example.invalid:8080"
SERVICES = "/onvif/services"


@pytest.mark.parametrize(
    ("topic", "data", "kind"),
    [
        ("RuleEngine/CellMotionDetector/Motion", {}, EventKind.MOTION),
        ("VideoSource/MotionAlarm", {}, EventKind.MOTION),
        ("RuleEngine/MotionRegionDetector/Motion", {}, EventKind.MOTION),
        ("RuleEngine/FieldDetector/ObjectsInside", {}, EventKind.INTRUSION),
        ("RuleEngine/LineDetector/Crossed", {}, EventKind.LINE_CROSSING),
        ("RuleEngine/TamperDetector/Tamper", {}, EventKind.TAMPER),
        ("VideoSource/GlobalSceneChange/ImagingService", {}, EventKind.TAMPER),
        ("Device/Trigger/DigitalInput", {}, EventKind.INPUT),
        ("RuleEngine/MyRuleDetector/PeopleDetect", {}, EventKind.PERSON),
        ("RuleEngine/MyRuleDetector/VehicleDetect", {}, EventKind.VEHICLE),
        ("RuleEngine/MyRuleDetector/DogCatDetect", {}, EventKind.ANIMAL),
        ("RuleEngine/MyRuleDetector/FaceDetect", {}, EventKind.FACE_DETECTED),
        ("RuleEngine/MyRuleDetector/Visitor", {}, EventKind.DOORBELL),
        ("Device/Doorbell/Pressed", {}, EventKind.DOORBELL),
        ("RuleEngine/CellMotionDetector/Motion", {"ObjectType": "Human"}, EventKind.PERSON),
        ("RuleEngine/ObjectDetection/Object", {"ClassTypes": "Vehicle"}, EventKind.VEHICLE),
        ("CameraApplicationPlatform/VMD/Camera1Profile1", {}, EventKind.OTHER),
        ("Monitoring/ProcessorUsage", {}, EventKind.OTHER),
    ],
)
def test_topics_map_to_event_kinds(topic: str, data: dict[str, str], kind: EventKind) -> None:
    assert classify(topic, data) is kind


def note(operation: str, data: dict[str, str]) -> Notification:
    return Notification(
        topic="RuleEngine/CellMotionDetector/Motion",
        raw_topic="tns1:RuleEngine/CellMotionDetector/Motion",
        operation=operation,
        data=data,
    )


@pytest.mark.parametrize(
    ("operation", "data", "phases"),
    [
        ("Initialized", {"IsMotion": "false"}, []),
        ("Initialized", {"IsMotion": "true"}, [True]),
        ("Changed", {"IsMotion": "true"}, [True]),
        ("Changed", {"IsMotion": "false"}, [False]),
        ("Deleted", {"IsMotion": "true"}, [False]),
        ("", {"ObjectId": "7"}, [True, False]),
        ("Initialized", {"ObjectId": "7"}, []),
    ],
)
def test_property_operations_become_starts_and_ends(
    operation: str, data: dict[str, str], phases: list[bool]
) -> None:
    assert [e.active for e in to_events(note(operation, data))] == phases


def test_a_mixed_pull_answer_reads_in_order_with_prefix_variety() -> None:
    now = datetime.now(UTC)
    answer = x.parse(
        fixture_text(
            "events/PullMessages_mixed.xml", CURRENT=stamp(now), TERMINATION=stamp(now)
        ).encode()
    )
    events = [e for n in parse_notifications(answer) for e in to_events(n)]
    assert [(e.kind, e.active) for e in events] == [
        (EventKind.MOTION, True),
        (EventKind.MOTION, True),
        (EventKind.INTRUSION, True),
        (EventKind.LINE_CROSSING, True),
        (EventKind.LINE_CROSSING, False),
        (EventKind.TAMPER, True),
        (EventKind.INPUT, True),
        (EventKind.PERSON, True),
        (EventKind.VEHICLE, True),
        (EventKind.DOORBELL, True),
        (EventKind.OTHER, True),
        # A property without an on/off state (CPU usage) is kept as a momentary event.
        (EventKind.OTHER, True),
        (EventKind.OTHER, False),
        (EventKind.MOTION, False),
    ]
    first = events[0]
    assert first.topic == "tns1:RuleEngine/CellMotionDetector/Motion"
    assert first.extra["topic_path"] == "RuleEngine/CellMotionDetector/Motion"
    assert events[1].topic == "ns5:VideoSource/MotionAlarm"  # kept as sent
    assert first.zone == "MyMotionDetectorRule" and first.vendor == "onvif"
    assert first.device_time == datetime(2024, 5, 1, 10, 0, 1, 250000, tzinfo=UTC)
    assert events[10].topic == "tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1"
    assert events[11].extra["data"] == {"Value": "12.5"}


def test_nvr_notifications_are_routed_by_video_source() -> None:
    mine = Notification("t", "t", source={"VideoSourceConfigurationToken": "VSC_2"})
    other = Notification("t", "t", source={"VideoSourceConfigurationToken": "VSC_1"})
    device_wide = Notification("t", "t", source={"InputToken": "AlarmIn_1"})
    tokens = {"VSC_2", "VideoSource_2"}
    assert [for_channel(n, tokens) for n in (mine, other, device_wide)] == [True, False, True]


def pull_answer(fixture: str, lifetime: float = 60.0) -> httpx.Response:
    now = datetime.now(UTC)
    text = fixture_text(
        fixture, CURRENT=stamp(now), TERMINATION=stamp(now + timedelta(seconds=lifetime))
    )
    return httpx.Response(200, text=text)


async def long_poll(request: httpx.Request) -> httpx.Response:
    """A PullMessages with nothing to report: the device holds it until we give up."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def collect(driver_events: object, count: int) -> list[CameraEvent]:
    found: list[CameraEvent] = []
    iterator = driver_events
    with anyio.fail_after(10):
        async with contextlib.aclosing(iterator) as events:  # type: ignore[type-var]
            async for event in events:
                found.append(event)
                if len(found) == count:
                    break
    return found


async def test_pull_loop_echoes_reference_parameters_and_unsubscribes(soap: SoapReplay) -> None:
    axis_device(soap)
    answers = iter([pull_answer("events/PullMessages_mixed.xml")])
    soap.on(SERVICES, "PullMessages", lambda request: next(answers))
    async with onvif_driver(URL, credentials=Credentials(USER, PASSWORD)) as drv:
        events = await collect(drv.events(), 3)
    assert [e.kind for e in events] == [EventKind.MOTION, EventKind.MOTION, EventKind.INTRUSION]
    pull = next(request for _, op, request in soap.calls if op == "PullMessages")
    # The device said 10.0.0.9; the request went to the caller's host, the header
    # still names the address the device gave, and its reference parameters.
    assert pull.url.host == "cam.example.invalid"
    assert b"<wsa:To>http://10.0.0.9/onvif/services</wsa:To>" in pull.content
    assert b"SubscriptionId" in pull.content and b">42<" in pull.content
    assert soap.operations()[-1] == "Unsubscribe"


async def test_a_short_lived_subscription_is_renewed_before_it_terminates(
    soap: SoapReplay,
) -> None:
    axis_device(soap, lifetime=0.8)
    soap.on(SERVICES, "Renew", lambda request: pull_answer("events/RenewResponse.xml"))
    answers = iter([pull_answer("events/PullMessages_mixed.xml")])
    soap.on(SERVICES, "PullMessages", lambda request: next(answers))
    async with onvif_driver(URL, Credentials(USER, PASSWORD), pull_timeout=0.5) as drv:
        await collect(drv.events(), 1)
    operations = soap.operations()
    assert operations.index("Renew") < operations.index("PullMessages")
    renew = next(request for _, op, request in soap.calls if op == "Renew")
    assert b"RenewRequest</wsa:Action>" in renew.content


async def test_firmware_without_renew_gets_a_fresh_subscription(soap: SoapReplay) -> None:
    axis_device(soap, lifetime=0.8)
    soap.on(SERVICES, "Renew", "faults/ActionNotSupported.xml", status=500)
    answers = iter([pull_answer("events/PullMessages_mixed.xml", lifetime=60)])
    soap.on(SERVICES, "PullMessages", lambda request: next(answers))
    async with onvif_driver(URL, Credentials(USER, PASSWORD), pull_timeout=0.5) as drv:
        await collect(drv.events(), 1)
    assert soap.operations().count("CreatePullPointSubscription") == 2
    assert soap.operations()[-1] == "Unsubscribe"


async def test_a_failing_pull_ends_the_iterator_with_a_typed_error(soap: SoapReplay) -> None:
    axis_device(soap)
    soap.on(SERVICES, "PullMessages", "faults/InvalidArgVal.xml", status=400)
    async with onvif_driver(URL, credentials=Credentials(USER, PASSWORD)) as drv:
        with pytest.raises(DeviceError, match="InvalidArgVal"):
            await collect(drv.events(), 1)
    assert soap.operations()[-1] == "Unsubscribe"


async def test_events_reach_facade_subscribers_as_start_and_end(soap: SoapReplay) -> None:
    axis_device(soap)
    first = pull_answer("events/PullMessages_mixed.xml")
    soap.on(SERVICES, "PullMessages", _first_then_hold(first))  # type: ignore[arg-type]
    async with camsdk.open(URL, credentials=Credentials(USER, PASSWORD)) as cam:
        seen: list[CameraEvent] = []
        with anyio.fail_after(10):
            async with cam.events(kinds={EventKind.LINE_CROSSING}) as events:
                async for event in events:
                    seen.append(event)
                    if not event.active:
                        break
        camera_id = cam.info.id
    start, end = seen
    assert start.event_id == end.event_id and end.ended_at is not None
    assert start.camera_id == camera_id


def _first_then_hold(first: httpx.Response) -> object:
    sent = False

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        if sent:
            return await long_poll(request)
        sent = True
        return first

    return answer
