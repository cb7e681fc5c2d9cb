"""Hardened XML and the small value parsers the ONVIF driver reads devices with."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camsdk.driver import xml as x
from camsdk.drivers.onvif._media import codec_name, jpeg_size

from ._helpers import fixture_text


@pytest.mark.parametrize(
    "name",
    ["hostile/billion_laughs.xml", "hostile/external_entity.xml", "hostile/external_dtd.xml"],
)
def test_hostile_documents_are_refused_fast_without_expansion(name: str) -> None:
    data = fixture_text(name).encode()
    started = time.perf_counter()
    with pytest.raises(x.XmlError, match="refused"):
        x.parse(data)
    assert time.perf_counter() - started < 0.1


def test_malformed_xml_is_an_xml_error() -> None:
    with pytest.raises(x.XmlError, match="malformed"):
        x.parse(b"<a><b></a>")


def test_reading_ignores_namespace_prefixes() -> None:
    default_ns = x.parse(fixture_text("axis/GetDeviceInformation.xml").encode())
    prefixed = x.parse(fixture_text("hik/GetDeviceInformation.xml").encode())
    assert x.text(x.find(default_ns, "Body"), "GetDeviceInformationResponse", "Model") == "Q1656"
    assert x.text(x.find(prefixed, "Body"), "GetDeviceInformationResponse", "Model") == (
        "DS-2CD2143G2-I"
    )


def test_missing_elements_read_as_defaults() -> None:
    root = x.parse(b"<a><b/></a>")
    assert x.text(root, "b", "c") == ""
    assert x.text(root, "nope", default="-") == "-"
    assert x.attr(None, "token") == ""


def test_strip_prefixes_drops_arbitrary_namespace_prefixes() -> None:
    assert x.strip_prefixes("tns1:RuleEngine/CellMotionDetector/Motion") == (
        "RuleEngine/CellMotionDetector/Motion"
    )
    assert x.strip_prefixes("ns5:VideoSource/ns5:MotionAlarm") == "VideoSource/MotionAlarm"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT10S", 10.0), ("PT1M30S", 90.0), ("PT0.5S", 0.5), ("P1D", 86400.0), ("PT2H", 7200.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert x.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "10", "PTXS", "P1Y"])
def test_invalid_durations_are_none(text: str) -> None:
    assert x.parse_duration(text) is None


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda v: round(v, 3)))
def test_durations_round_trip(seconds: float) -> None:
    assert x.parse_duration(x.format_duration(seconds)) == pytest.approx(seconds, abs=1e-3)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T10:00:00.0000001Z",
    ],
)
def test_datetimes_without_or_with_zone_become_utc(text: str) -> None:
    assert x.parse_datetime(text) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@given(st.binary(max_size=256))
def test_jpeg_size_never_raises_on_garbage(data: bytes) -> None:
    for candidate in (data, b"\xff\xd8" + data):
        size = jpeg_size(candidate)
        assert size is None or (size[0] > 0 and size[1] > 0)


def test_jpeg_size_reads_the_frame_header() -> None:
    sof = b"\xff\xc0\x00\x11\x08\x00\x78\x00\xa0\x03" + b"\x00" * 9
    assert jpeg_size(b"\xff\xd8\xff\xe0\x00\x04ab" + sof) == (160, 120)
    assert jpeg_size(b"GIF89a") is None


@pytest.mark.parametrize(
    ("encoding", "audio", "expected"),
    [
        ("H264", False, "h264"),
        ("H265", False, "hevc"),
        ("JPEG", False, "mjpeg"),
        ("G711", True, "pcm_mulaw"),
        ("MP4A-LATM", True, "aac"),
        ("", False, None),
    ],
)
def test_codec_names(encoding: str, audio: bool, expected: str | None) -> None:
    assert codec_name(encoding, audio=audio) == expected
