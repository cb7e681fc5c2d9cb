"""Reading Dahua answers: key=value bodies, error bodies, event parts and their framing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk import EventKind
from camsdk.drivers.dahua import classify
from camsdk.drivers.dahua._device import parse_channels, video_codec
from camsdk.drivers.dahua._events import (
    DahuaEvent,
    JsonObjects,
    channel_of,
    parse_event_text,
    parse_notify,
    to_events,
)
from camsdk.drivers.dahua._framing import EventFramingError, EventParts, looks_whole
from camsdk.drivers.dahua._text import MAX_LINES, error_reason, indexed, parse_kv


def test_key_value_lines_drop_the_table_prefix_and_keep_equals_in_values() -> None:
    text = "table.RTSP.Port=554\r\nversion=2.420.AC00.18.R, build : 2017-06-29\r\nnoise\r\n"
    assert parse_kv(text) == {"RTSP.Port": "554",
                              "version": "2.420.AC00.18.R, build : 2017-06-29"}


def test_a_config_table_that_never_ends_is_read_only_up_to_the_line_cap() -> None:
    text = "".join(f"table.X{i}=1\r\n" for i in range(MAX_LINES + 5000))
    assert len(parse_kv(text)) == MAX_LINES


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Error\r\nBad Request!\r\n", "Bad Request!"),
        ("Error\r\nInvalid Authority!\r\n", "Invalid Authority!"),
        ("Error: no such table\r\n", "no such table"),
        ("Error\r\n", ""),
        ("OK\r\n", None),
        ("type=IPC\r\n", None),
    ],
)
def test_error_bodies_are_recognised_with_their_reason(body: str, reason: str | None) -> None:
    assert error_reason(body) == reason


def test_indexed_entries_group_by_index() -> None:
    values = parse_kv("table.ChannelTitle[0].Name=A\r\ntable.ChannelTitle[12].Name=B\r\n")
    assert indexed(values, "ChannelTitle") == {0: {"Name": "A"}, 12: {"Name": "B"}}


@pytest.mark.parametrize(
    ("compression", "codec"),
    [("H.264", "h264"), ("H.264H", "h264"), ("H.264B", "h264"), ("H.265", "hevc"),
     ("MJPG", "mjpeg"), ("", None)],
)
def test_compression_names_map_to_ffmpeg_codecs(compression: str, codec: str | None) -> None:
    assert video_codec(compression) == codec


def test_channels_take_titles_formats_and_recorder_states_counting_from_zero() -> None:
    titles = parse_kv("table.ChannelTitle[0].Name=Gate\r\ntable.ChannelTitle[1].Name=Yard\r\n")
    encode = parse_kv(
        "table.Encode[0].MainFormat[0].Video.Compression=H.265\r\n"
        "table.Encode[0].MainFormat[0].Video.resolution=4M\r\n"
        "table.Encode[1].MainFormat[0].Video.Compression=H.264\r\n"
        "table.Encode[1].MainFormat[0].VideoEnable=false\r\n"
    )
    states = parse_kv("states[0].channel=0\r\nstates[0].connectionState=Disconnected\r\n")
    one, two = parse_channels(titles, encode, states).values()
    assert (one.number, one.title, one.online) == (1, "Gate", False)
    assert "Disconnected" in one.reason
    assert (one.formats[0].codec, one.formats[0].width, one.formats[0].height) == (
        "hevc", 2688, 1520)
    assert (two.number, two.online) == (2, False)
    assert "disables the main stream" in two.reason


@pytest.mark.parametrize(
    ("code", "data", "kind"),
    [
        ("VideoMotion", None, EventKind.MOTION),
        ("SmartMotionHuman", None, EventKind.PERSON),
        ("SmartMotionVehicle", None, EventKind.VEHICLE),
        ("CrossLineDetection", None, EventKind.LINE_CROSSING),
        ("CrossRegionDetection", None, EventKind.INTRUSION),
        ("AlarmLocal", None, EventKind.INPUT),
        ("VideoBlind", None, EventKind.TAMPER),
        ("DoorBell", None, EventKind.DOORBELL),
        ("DoorbellPress", None, EventKind.DOORBELL),
        ("CallNoAnswered", None, EventKind.DOORBELL),
        ("AudioMutation", None, EventKind.SOUND),
        ("FaceDetection", None, EventKind.FACE_DETECTED),
        ("VideoMotion", {"Object": {"ObjectType": "Human"}}, EventKind.PERSON),
        ("VideoLoss", None, EventKind.OTHER),
        ("StorageLowSpace", None, EventKind.OTHER),
        ("IntelliFrame", None, None),
        ("NewFile", None, None),
    ],
)
def test_codes_map_to_event_kinds(code: str, data: object, kind: EventKind | None) -> None:
    assert classify(code, data) is kind


def test_a_part_with_several_records_and_multi_line_data_reads_each() -> None:
    text = ('Code=VideoMotion;action=Start;index=0\r\n'
            'Code=CrossLineDetection;action=Stop;index=2;data={\n "Name" : "Gate",\n'
            ' "Code=" : "x"\n}\n')
    first, second = parse_event_text(text)
    assert (first.code, first.action, first.index, first.data) == ("VideoMotion", "Start", 0,
                                                                   None)
    assert (second.code, second.index, second.data) == ("CrossLineDetection", 2,
                                                        {"Name": "Gate", "Code=": "x"})


def test_data_nested_too_deep_is_kept_as_bounded_text_not_a_crash() -> None:
    text = "Code=VideoMotion;action=Start;index=0;data=" + "[" * 50_000 + "]" * 50_000
    [event] = parse_event_text(text)
    assert event.data is None and len(event.raw_data) <= 2048


@pytest.mark.parametrize(
    ("action", "phases"), [("Start", [True]), ("Stop", [False]), ("Pulse", [True, False])]
)
def test_actions_become_starts_ends_and_momentary_events(action: str, phases: list[bool]) -> None:
    events = to_events(DahuaEvent("VideoMotion", action, 0))
    assert [e.active for e in events] == phases
    assert all(e.topic == "VideoMotion" and e.vendor == "dahua" for e in events)
    assert events[0].extra["code"] == "VideoMotion" and events[0].extra["action"] == action


def test_rule_names_become_zones_and_the_raw_data_is_kept() -> None:
    [event] = to_events(DahuaEvent("CrossRegionDetection", "Start", 1,
                                   {"Name": "Pool", "UTC": 1717236000}))
    assert event.zone == "Pool" and event.extra["data"]["Name"] == "Pool"
    assert event.device_time is not None and event.device_time.year == 2024


def test_video_codes_belong_to_a_channel_counted_from_one_and_inputs_to_all() -> None:
    assert channel_of(DahuaEvent("VideoMotion", "Start", 0)) == 1
    assert channel_of(DahuaEvent("SmartMotionHuman", "Start", 5)) == 6
    assert channel_of(DahuaEvent("AlarmLocal", "Start", 0)) is None
    assert channel_of(DahuaEvent("DoorBell", "Pulse", 0)) is None


def test_rpc2_notifications_read_like_cgi_events() -> None:
    message = {"method": "client.notifyEventStream", "params": {"SID": 1, "eventList": [
        {"Action": "Start", "Code": "VideoMotion", "Index": 2, "Data": {"Id": [0]}},
        {"Action": "Stop", "Code": 7, "Index": 0}]}}
    [event] = parse_notify(message)
    assert (event.code, event.action, event.index, event.source) == ("VideoMotion", "Start", 2,
                                                                     "rpc2")
    assert parse_notify({"method": "client.notifyDevInfo"}) == []


def test_json_objects_are_found_in_script_wrapped_streams_split_anywhere() -> None:
    stream = (b'<script>var json={"a":"}{","b":[1,{"c":2}]};receiveMessage(json);</script>\r\n'
              b'<script>var json={"d":1};</script>')
    scanner = JsonObjects()
    found = []
    for byte in stream:
        found += scanner.feed(bytes([byte]))
    assert found == [{"a": "}{", "b": [1, {"c": 2}]}, {"d": 1}]


def test_json_objects_too_big_or_too_deep_are_skipped_in_bounded_memory() -> None:
    scanner = JsonObjects(max_object=1000, max_depth=8)
    assert scanner.feed(b'{"x":"' + b"A" * 5000 + b'"}' + b"[" * 20 + b'{"ok":1}') == [{"ok": 1}]
    assert scanner.feed(b"{" + b"[" * 20 + b"]" * 20 + b'}{"y":2}') == [{"y": 2}]
    assert scanner.skipped == 2


PARTS = (b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 37\r\n\r\n"
         b"Code=VideoMotion;action=Start;index=0\r\n"
         b"--myboundary\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nHeartbeat\r\n")


def test_a_part_is_delivered_as_soon_as_its_length_and_line_ending_arrive() -> None:
    parser = EventParts("myboundary")
    first = PARTS.index(b"\r\n--myboundary", 10) + 2
    assert parser.feed(PARTS[:first]) == [b"Code=VideoMotion;action=Start;index=0"]
    assert parser.feed(PARTS[first:]) == [b"Heartbeat"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(PARTS)), min_size=1, max_size=12))
def test_parts_split_across_reads_at_any_byte_come_out_whole(cuts: list[int]) -> None:
    parser = EventParts("myboundary")
    points = sorted(set(cuts) | {len(PARTS)})
    found, start = [], 0
    for point in points:
        found += parser.feed(PARTS[start:point])
        start = point
    assert found == [b"Code=VideoMotion;action=Start;index=0", b"Heartbeat"]


@pytest.mark.parametrize("error", [-5, -1, 1, 7, 400])
def test_a_wrong_content_length_falls_back_to_the_boundary(error: int) -> None:
    body = b"Code=VideoMotion;action=Start;index=0"
    head = f"--myboundary\r\nContent-Length: {len(body) + error}\r\n\r\n".encode()
    stream = head + body + b"\r\n" + PARTS[PARTS.index(b"--myboundary", 10):]
    parser = EventParts("myboundary")
    found = [p.strip() for p in parser.feed(stream)]
    assert found == [body, b"Heartbeat"]


def test_a_part_without_a_header_block_and_an_undeclared_boundary_still_read() -> None:
    parser = EventParts(None)
    found = parser.feed(b"--myboundary\r\nCode=AlarmLocal;action=Start;index=0\r\n--myboundary\r\n")
    assert found == [b"Code=AlarmLocal;action=Start;index=0"]


def test_garbage_without_a_boundary_is_an_error_not_an_endless_buffer() -> None:
    parser = EventParts("myboundary", max_part=64 * 1024)
    with pytest.raises(EventFramingError):
        for _ in range(10):
            parser.feed(b"Z" * 32 * 1024)


def test_cut_records_and_unbalanced_data_do_not_look_whole() -> None:
    assert looks_whole(b"Heartbeat") and looks_whole(b"Code=A;action=Start;index=0")
    assert not looks_whole(b'Code=A;action=Start;index=0;data={\n "x" : [1,')
    assert not looks_whole(b"index=0")
