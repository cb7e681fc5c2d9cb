"""The updates websocket's binary codec: round trips, compression, hostile packets."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk import CameraProtocolError
from camsdk.drivers.unifi._codec import UpdatePacket, decode_packet, encode_packet

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=4),
    max_leaves=12,
)
actions = st.fixed_dictionaries({
    "action": st.sampled_from(["add", "update", "remove"]),
    "modelKey": st.sampled_from(["camera", "event", "nvr", "light", "futureThing"]),
    "id": st.text(min_size=1, max_size=24),
    "newUpdateId": st.text(max_size=36),
})


@given(action=actions, data=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
       compress=st.booleans())
@settings(max_examples=150, deadline=None)
def test_a_packet_round_trips_compressed_or_not(action: dict, data: dict, compress: bool) -> None:
    packet = UpdatePacket(action, data)
    assert decode_packet(encode_packet(packet, compress=compress)) == packet


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_decode_or_fail_typed(blob: bytes) -> None:
    try:
        decode_packet(blob)
    except CameraProtocolError:
        pass


@given(st.binary(min_size=1, max_size=40), st.integers(0, 60))
@settings(max_examples=200, deadline=None)
def test_a_mangled_valid_packet_decodes_or_fails_typed(noise: bytes, at: int) -> None:
    good = encode_packet(UpdatePacket({"action": "add", "modelKey": "event", "id": "x"},
                                      {"type": "motion"}), compress=True)
    mangled = good[:at] + noise + good[at + len(noise):]
    try:
        decode_packet(mangled)
    except CameraProtocolError:
        pass


def test_text_and_binary_payloads_keep_their_type() -> None:
    packet = UpdatePacket({"action": "update", "modelKey": "camera", "id": "c"}, "plain text")
    assert decode_packet(encode_packet(packet)).data == "plain text"
    raw = UpdatePacket({"action": "update", "modelKey": "camera", "id": "c"}, b"\x00\x01")
    assert decode_packet(encode_packet(raw, compress=True)).data == b"\x00\x01"


def test_a_frame_claiming_more_bytes_than_sent_is_refused() -> None:
    good = encode_packet(UpdatePacket({"action": "add", "modelKey": "event", "id": "x"}, {}))
    lying = good[:4] + struct.pack(">I", 10_000) + good[8:]
    with pytest.raises(CameraProtocolError, match="claims"):
        decode_packet(lying)


def test_a_deflate_bomb_stops_at_the_cap() -> None:
    bomb = zlib.compress(b"{" + b" " * (8 * 1024 * 1024) + b"}")
    header = struct.pack(">BBBBI", 1, 1, 1, 0, len(bomb))
    with pytest.raises(CameraProtocolError, match="inflates beyond"):
        decode_packet(header + bomb + header + bomb, max_inflated=1024 * 1024)


def test_trailing_bytes_after_the_data_frame_are_refused() -> None:
    good = encode_packet(UpdatePacket({"action": "add", "modelKey": "event", "id": "x"}, {}))
    with pytest.raises(CameraProtocolError, match="after the data frame"):
        decode_packet(good + b"\x00")


def test_an_unknown_payload_format_is_refused() -> None:
    frame = struct.pack(">BBBBI", 1, 9, 0, 0, 2) + b"{}"
    with pytest.raises(CameraProtocolError, match="format"):
        decode_packet(frame + frame)
