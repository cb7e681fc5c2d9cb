"""The RTSP byte stream: framing, responses, header values; hostile input is bounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk._errors import CameraProtocolError
from camsdk._rtsp._message import (
    BODY_LIMIT,
    HEADER_LIMIT,
    RtspFramer,
    RtspRequest,
    RtspResponse,
    parse_response_head,
    parse_rtp_info,
    parse_session,
    parse_transport,
    render_request,
)


class Collector:
    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []
        self.responses: list[RtspResponse] = []
        self.requests: list[RtspRequest] = []
        self.framer = RtspFramer(
            lambda ch, data: self.frames.append((ch, data)), self.responses.append,
            self.requests.append,
        )


def frame(channel: int, data: bytes) -> bytes:
    return b"$" + bytes((channel,)) + len(data).to_bytes(2, "big") + data


OK = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 4\r\n\r\nbody"


def test_interleaved_frames_and_a_response_are_told_apart() -> None:
    c = Collector()
    c.framer.feed(frame(0, b"rtp-1") + OK + frame(1, b"rtcp"))
    assert c.frames == [(0, b"rtp-1"), (1, b"rtcp")]
    assert [(r.status, r.cseq, r.body) for r in c.responses] == [(200, 3, b"body")]


def test_units_split_at_every_byte_boundary_are_reassembled() -> None:
    stream = frame(0, b"a" * 300) + OK + frame(2, b"b" * 5)
    for cut in range(len(stream)):
        c = Collector()
        c.framer.feed(stream[:cut])
        c.framer.feed(stream[cut:])
        assert c.frames == [(0, b"a" * 300), (2, b"b" * 5)], cut
        assert len(c.responses) == 1


def test_garbage_between_messages_is_skipped_up_to_a_bound() -> None:
    c = Collector()
    c.framer.feed(b"\x00\x17junk junk\r\n" + frame(0, b"x"))
    assert c.frames == [(0, b"x")]
    with pytest.raises(CameraProtocolError, match="garbage"):
        Collector().framer.feed(b"\x01" * (70 * 1024))


def test_a_request_from_the_server_is_reported() -> None:
    c = Collector()
    c.framer.feed(b"OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n\r\n")
    assert [(r.method, r.header("cseq")) for r in c.requests] == [("OPTIONS", "9")]


def test_oversized_header_block_is_a_protocol_error() -> None:
    with pytest.raises(CameraProtocolError, match="too large"):
        Collector().framer.feed(b"RTSP/1.0 200 OK\r\nX: " + b"a" * (HEADER_LIMIT + 10))


def test_oversized_body_is_refused_before_it_is_read() -> None:
    head = f"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: {BODY_LIMIT + 1}\r\n\r\n".encode()
    with pytest.raises(CameraProtocolError, match="body"):
        Collector().framer.feed(head)


@pytest.mark.parametrize("head", [
    b"HTTP/1.0 200 OK",
    b"RTSP/1.0 2000 OK",
    b"RTSP/1.0 200 OK\r\nno colon here",
    b"RTSP/1.0 200 OK\r\nContent-Length: -5",
    b"RTSP/1.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 2",
])
def test_malformed_response_heads_are_protocol_errors(head: bytes) -> None:
    c = Collector()
    with pytest.raises(CameraProtocolError):
        c.framer.feed(head + b"\r\n\r\n")


def test_response_head_keeps_repeated_headers_in_order() -> None:
    status, reason, headers = parse_response_head(
        b"RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest a=1\r\n"
        b"www-authenticate: Basic realm=x\r\nX-Folded: one\r\n two")
    response = RtspResponse(status, reason, headers)
    assert response.all("WWW-Authenticate") == ["Digest a=1", "Basic realm=x"]
    assert response.header("x-folded") == "one two"


def test_requests_refuse_urls_and_headers_that_would_break_the_framing() -> None:
    assert render_request("OPTIONS", "rtsp://h/x", 1, [("User-Agent", "a")]).startswith(
        b"OPTIONS rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\n")
    with pytest.raises(CameraProtocolError):
        render_request("SETUP", "rtsp://h/a b", 2, [])
    with pytest.raises(CameraProtocolError):
        render_request("SETUP", "rtsp://h/a", 2, [("Transport", "x\r\nEvil: 1")])


def test_transport_session_and_rtp_info_values() -> None:
    spec = parse_transport("RTP/AVP/TCP;unicast;interleaved=4-5;ssrc=1A2B3C4D;mode=\"PLAY\"")
    assert (spec.protocol, spec.interleaved, spec.ssrc) == ("RTP/AVP/TCP", (4, 5), 0x1A2B3C4D)
    udp = parse_transport("RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971")
    assert (udp.client_port, udp.server_port) == ((5000, 5001), (6970, 6971))
    assert parse_transport("RTP/AVP;interleaved=999-1000").interleaved is None
    assert parse_session("12345678;timeout=30") == ("12345678", 30.0)
    assert parse_session("abc") == ("abc", None)
    assert parse_session("abc;timeout=0") == ("abc", None)
    with pytest.raises(CameraProtocolError):
        parse_session(" ;timeout=5")
    info = parse_rtp_info("url=rtsp://h/s/trackID=0;seq=17;rtptime=99,url=rtsp://h/s/t1;seq=2")
    assert info[0] == {"url": "rtsp://h/s/trackID=0", "seq": "17", "rtptime": "99"}


# -- fuzzing -----------------------------------------------------------------------------

_pieces = st.one_of(
    st.binary(max_size=64),
    st.just(OK),
    st.just(b"$\x00\x00\x05hello"),
    st.just(b"RTSP/1.0 "),
    st.just(b"\r\n\r\n"),
    st.just(b"Content-Length: 99999999\r\n"),
    st.just(b"$"),
    st.just(b"GET_PARAMETER rtsp://x RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=40), st.integers(min_value=1, max_value=97))
def test_fuzzed_streams_end_in_units_or_a_protocol_error_with_bounded_buffering(
    pieces: list[bytes], chunk: int
) -> None:
    c = Collector()
    data = b"".join(pieces)
    try:
        for pos in range(0, len(data), chunk):
            c.framer.feed(data[pos : pos + chunk])
            # At most one partial unit is held: a header block plus body, or a frame.
            assert c.framer.buffered <= HEADER_LIMIT + BODY_LIMIT + 8
    except CameraProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzzed_response_heads_parse_or_raise_a_protocol_error(head: bytes) -> None:
    try:
        status, _, headers = parse_response_head(b"RTSP/1.0 200 OK\r\n" + head)
    except CameraProtocolError:
        return
    assert status == 200 and len(headers) <= 64
