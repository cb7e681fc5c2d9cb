"""The secure login's arithmetic: the driver's side against the simulator's own.

The two ends are written apart (`camsdk.drivers.tapo._crypto` and
`camsdk.testing._tapo_device._crypto`), so these tests catch a mistake in
either instead of one shared by both.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk.drivers.tapo._crypto import (
    SecureChannel,
    confirm_kind,
    digest_password,
    hashed_password,
)
from camsdk.testing._tapo_device._crypto import (
    DeviceChannel,
    device_confirm,
    expected_digest,
    stored_hash,
)

CNONCE, NONCE = "0123456789ABCDEF", "FEDCBA9876543210"


def test_passwords_are_hashed_as_upper_case_hex_of_md5_or_sha256() -> None:
    assert hashed_password("admin", "md5") == "21232F297A57A5A743894A0E4A801FC3"
    assert hashed_password("admin", "sha256") == (
        "8C6976E5B5410415BDE908BD4DEE15DFB167A9C873FC4BB8A81F6F2AB448A918")


@pytest.mark.parametrize("kind", ["md5", "sha256"])
def test_the_devices_proof_tells_which_hash_it_keeps(kind: str) -> None:
    proof = device_confirm(stored_hash("s3cret", kind), CNONCE, NONCE)
    assert confirm_kind("s3cret", CNONCE, NONCE, proof) == kind
    assert confirm_kind("other", CNONCE, NONCE, proof) is None


def test_a_proof_for_other_nonces_is_not_accepted() -> None:
    proof = device_confirm(stored_hash("s3cret", "sha256"), CNONCE, NONCE)
    assert confirm_kind("s3cret", CNONCE, "0" * 16, proof) is None
    assert confirm_kind("s3cret", CNONCE, NONCE, proof + "00") is None


@pytest.mark.parametrize("kind", ["md5", "sha256"])
def test_the_digest_the_client_sends_is_the_one_the_device_expects(kind: str) -> None:
    stored = stored_hash("s3cret", kind)
    assert digest_password(hashed_password("s3cret", kind), CNONCE, NONCE) == expected_digest(
        stored, CNONCE, NONCE)


def channels(seq: int = 41) -> tuple[SecureChannel, DeviceChannel]:
    stored = stored_hash("s3cret", "sha256")
    return (SecureChannel(hashed_password("s3cret", "sha256"), CNONCE, NONCE, seq),
            DeviceChannel(stored, CNONCE, NONCE, start_seq=seq))


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2048))
def test_requests_and_answers_cross_the_channel_both_ways(data: bytes) -> None:
    import base64

    client, device = channels()
    assert device.open(base64.b64encode(client.encrypt(data)).decode()) == data
    assert client.decrypt(base64.b64decode(device.seal(data))) == data


def test_a_tagged_request_is_accepted_once_and_only_unchanged() -> None:
    client, device = channels()
    body = b'{"method":"securePassthrough"}'
    seq = client.next_seq()
    tag = client.tag(body, seq)
    assert device.tag_ok(body, str(seq), tag)
    assert not device.tag_ok(body, str(seq), tag)  # replayed
    later = client.next_seq()
    assert not device.tag_ok(body + b" ", str(later), client.tag(body, later))
    assert device.tag_ok(body, str(later), client.tag(body, later))


@pytest.mark.parametrize("data", [b"", b"\x00" * 15, b"\x01" * 32])
def test_a_message_that_is_not_a_whole_padded_ciphertext_is_a_value_error(data: bytes) -> None:
    client, _ = channels()
    with pytest.raises(ValueError):
        client.decrypt(data)
