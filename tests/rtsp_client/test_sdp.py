"""SDP parsing and control URLs: bases, trailing slashes, other hosts; fuzzed bodies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk._errors import CameraProtocolError
from camsdk._rtsp._sdp import parse_sdp
from camsdk._rtsp._urls import Origin, resolve_control

ORIGIN = Origin.parse("rtsp://cam.local:8554/live")

SDP = b"""v=0\r
o=- 1 1 IN IP4 0.0.0.0\r
s=Camera\r
t=0 0\r
a=control:*\r
m=video 0 RTP/AVP 96\r
a=rtpmap:96 H264/90000\r
a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAHpWoKA9k,aM48gA==\r
a=framerate:25\r
a=recvonly\r
a=control:trackID=1\r
m=audio 0 RTP/AVP 0\r
a=control:trackID=2\r
m=audio 0 RTP/AVP 8\r
a=rtpmap:8 PCMA/8000\r
a=sendonly\r
a=control:back\r
m=application 0 RTP/AVP 107\r
a=rtpmap:107 vnd.onvif.metadata/90000\r
a=control:meta\r
"""


def test_media_sections_codecs_and_directions() -> None:
    desc = parse_sdp(SDP, request_url="rtsp://cam.local:8554/live", content_base=None,
                     origin=ORIGIN)
    assert desc.session_name == "Camera"
    video, audio, back, meta = desc.media
    assert (video.codec, video.clock_rate, video.framerate) == ("h264", 90000, 25.0)
    assert video.sprop_parameter_sets() == [bytes.fromhex("6742001e95a8280f64"),
                                            bytes.fromhex("68ce3c80")]
    assert (audio.codec, audio.clock_rate, audio.payload_type) == ("pcm_mulaw", 8000, 0)
    assert desc.audio is audio and desc.backchannel is back and desc.metadata is meta
    assert back.direction == "sendonly" and back.codec == "pcm_alaw"
    assert video.control_url == "rtsp://cam.local:8554/live/trackID=1"
    assert desc.control_url == "rtsp://cam.local:8554/live"


@pytest.mark.parametrize(("base", "control", "expected"), [
    ("rtsp://cam/live/", "trackID=0", "rtsp://cam/live/trackID=0"),
    ("rtsp://cam/live", "trackID=0", "rtsp://cam/live/trackID=0"),
    ("rtsp://cam/live/", "*", "rtsp://cam/live/"),
    ("rtsp://cam/live", None, "rtsp://cam/live"),
    ("rtsp://cam/live", "/other/track1", "rtsp://cam/other/track1"),
    ("rtsp://cam/live", "rtsp://cam/live/abs", "rtsp://cam/live/abs"),
    ("rtsp://cam/cam/realmonitor?channel=1&subtype=0", "trackID=0",
     "rtsp://cam/cam/realmonitor?channel=1&subtype=0/trackID=0"),
    # Devices behind NAT name an internal address: moved onto the caller's origin.
    ("rtsp://cam/live", "rtsp://10.0.0.7:554/live/trackID=1", "rtsp://cam:554/live/trackID=1"),
    ("rtsp://cam/live", "rtsp://user:pw@cam/live/t", "rtsp://cam:554/live/t"),
])
def test_control_urls_resolve_onto_the_callers_origin(
    base: str, control: str | None, expected: str
) -> None:
    assert resolve_control(base, control, Origin.parse("rtsp://cam/x")) == expected


def test_a_content_base_naming_another_host_is_rewritten() -> None:
    desc = parse_sdp(SDP, request_url="rtsp://cam.local:8554/live",
                     content_base="rtsp://192.168.77.5/live/", origin=ORIGIN)
    assert {m.control_url.split("/live")[0] for m in desc.media} == {"rtsp://cam.local:8554"}


def test_control_urls_with_spaces_are_a_protocol_error() -> None:
    with pytest.raises(CameraProtocolError):
        parse_sdp(SDP.replace(b"trackID=1", b"track ID"), request_url="rtsp://cam.local:8554/x",
                  content_base=None, origin=ORIGIN)


@pytest.mark.parametrize("body", [b"", b"v=zero\r\n", b"<html>", b"v=0\r\nthis is not SDP\r\n"])
def test_bodies_that_are_not_sdp_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(CameraProtocolError):
        parse_sdp(body, request_url="rtsp://cam/x", content_base=None, origin=ORIGIN)


def test_too_many_media_sections_are_refused() -> None:
    body = b"v=0\r\n" + b"m=video 0 RTP/AVP 96\r\n" * 40
    with pytest.raises(CameraProtocolError, match="media sections"):
        parse_sdp(body, request_url="rtsp://cam/x", content_base=None, origin=ORIGIN)


_lines = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=control:trackID=0",
                     "a=fmtp:96 sprop-parameter-sets=!!!,Zz", "a=rtpmap:96 H265/x/y",
                     "m=audio 0 RTP/AVP 0 8 101", "a=framerate:nan", "a=control:rtsp://[::1",
                     "m=application", "a=sendonly"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_lines, max_size=60))
def test_fuzzed_sdp_parses_or_raises_a_protocol_error(lines: list[str]) -> None:
    body = ("v=0\r\n" + "\r\n".join(lines)).encode("utf-8", "surrogatepass")
    try:
        desc = parse_sdp(body, request_url="rtsp://cam/x", content_base=None, origin=ORIGIN)
    except CameraProtocolError:
        return
    for media in desc.media:
        assert Origin.parse(media.control_url).same_place(ORIGIN)
        media.sprop_parameter_sets()
        media.sprop_hevc()
