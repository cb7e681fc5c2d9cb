"""Alert parsing, kinds and the alert-stream framing (split at any byte, lying lengths)."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk import EventKind
from camsdk.driver import MultipartError, Part, xml
from camsdk.drivers.hikvision._alerts import classify, parse_alert, parse_alert_xml
from camsdk.drivers.hikvision._events import ActivityTracker
from camsdk.drivers.hikvision._framing import AlertFramer

from ._helpers import fixture_bytes


def test_an_acusense_line_crossing_keeps_its_kind_and_its_target() -> None:
    alert = parse_alert_xml(xml.parse(fixture_bytes("ipc_v5_new/alert_acusense.xml")))
    assert alert is not None
    assert (alert.event_type, alert.active, alert.channel) == ("linedetection", True, 1)
    assert (alert.region, alert.target) == ("1", "human")
    assert classify(alert.event_type, alert.target) is EventKind.LINE_CROSSING
    assert alert.time is not None and alert.time.utcoffset() is not None


def test_an_nvr_alert_names_the_camera_in_dyn_channel_id() -> None:
    alert = parse_alert_xml(xml.parse(fixture_bytes("nvr_k/alert_nvr.xml")))
    assert alert is not None and alert.channel == 2  # not channelID 34
    assert classify(alert.event_type) is EventKind.INTRUSION


def test_a_json_alert_with_a_vehicle_target_on_motion_is_a_vehicle() -> None:
    part = Part({"content-type": "application/json"}, fixture_bytes("oem/alert.json"))
    alert = parse_alert(part)
    assert alert is not None and (alert.region, alert.target) == ("2", "vehicle")
    assert classify(alert.event_type, alert.target) is EventKind.VEHICLE


def test_videoloss_inactive_is_a_heartbeat_and_pictures_are_no_alerts() -> None:
    beat = parse_alert(Part({}, b"<EventNotificationAlert><eventType>videoloss</eventType>"
                                b"<eventState>inactive</eventState></EventNotificationAlert>"))
    assert beat is not None and beat.heartbeat
    assert parse_alert(Part({"content-type": "image/jpeg"}, b"\xff\xd8\xff\xd9")) is None


def test_huge_fields_are_capped() -> None:
    body = (b"<EventNotificationAlert><eventType>" + b"V" * 100_000
            + b"</eventType></EventNotificationAlert>")
    alert = parse_alert(Part({}, body))
    assert alert is not None and len(alert.event_type) == 200


def test_an_end_without_its_region_ends_every_region_of_its_type() -> None:
    from camsdk.drivers.hikvision._alerts import Alert

    tracker = ActivityTracker(timeout=5)
    tracker.feed(Alert("fielddetection", True, 1, region="1"), 0.0)
    tracker.feed(Alert("fielddetection", True, 1, region="2"), 0.0)
    ends = tracker.feed(Alert("fielddetection", False, 1), 1.0)
    assert sorted(e.zone or "" for e in ends) == ["region 1", "region 2"]
    assert tracker.next_expiry(1.0) is None


def _alert(n: int) -> bytes:
    return (f"<EventNotificationAlert><eventType>VMD</eventType><activePostCount>{n}"
            "</activePostCount></EventNotificationAlert>").encode()


def _stream(count: int, lie: int = 0, with_length: bool = True) -> bytes:
    out = b""
    for n in range(count):
        body = _alert(n)
        length = f"Content-Length: {len(body) + lie}\r\n" if with_length else ""
        out += (b"--boundary\r\nContent-Type: application/xml\r\n" + length.encode()
                + b"\r\n" + body + b"\r\n")
    return out


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30),
       lie=st.sampled_from([0, 7, -5]), with_length=st.booleans())
def test_parts_come_out_whole_however_the_bytes_are_cut(
    cuts: list[int], lie: int, with_length: bool
) -> None:
    data = _stream(5, lie, with_length) + b"--boundary\r\n"
    framer = AlertFramer("boundary")
    parts: list[Part] = []
    at = 0
    for size in itertools.islice(itertools.cycle(cuts), len(data)):
        if at >= len(data):
            break
        parts += framer.feed(data[at:at + size])
        at += size
    assert [p.body for p in parts] == [_alert(n) for n in range(5)]


def test_a_complete_alert_is_delivered_before_the_next_boundary() -> None:
    framer = AlertFramer("boundary")
    assert len(framer.feed(_stream(1))) == 1  # no heartbeat needed to release it


def test_a_boundary_is_learnt_when_the_content_type_has_none() -> None:
    framer = AlertFramer(None)
    assert [p.body for p in framer.feed(_stream(2))] == [_alert(0), _alert(1)]


def test_an_oversized_part_and_endless_garbage_are_errors_not_growth() -> None:
    framer = AlertFramer("boundary", max_part=1024)
    with pytest.raises(MultipartError):
        framer.feed(b"--boundary\r\nContent-Length: 999999\r\n\r\n")
    framer = AlertFramer("boundary", max_part=1024)
    with pytest.raises(MultipartError):
        framer.feed(b"x" * 2048)
    framer = AlertFramer("boundary", max_part=1024, max_header=512)
    with pytest.raises(MultipartError):
        framer.feed(b"--boundary\r\n" + b"X-Padding: yyyy\r\n" * 64)


def test_a_json_part_is_whole_at_its_closing_brace() -> None:
    body = json.dumps({"eventType": "VMD", "eventState": "active"}).encode()
    framer = AlertFramer("boundary")
    [part] = framer.feed(b"--boundary\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert part.body == body
