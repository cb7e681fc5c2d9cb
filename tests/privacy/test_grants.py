"""Grants as data: validation, canonical signing, files, keys and the revocation list."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from camsdk._access import Action
from camsdk.privacy import (
    Grant,
    PrivacyMask,
    RevocationList,
    generate_signing_key,
    key_id,
    load_grants,
    load_private_key,
    load_public_key,
    save_grants,
    save_private_key,
    save_public_key,
    sign_grant,
    verify_grant,
)

from ._helpers import T0, FakeClock, make_grant

# -- validation -----------------------------------------------------------------------------


def test_expiry_is_required() -> None:
    with pytest.raises(ValidationError, match="expires_at"):
        Grant(principal="n", cameras={"c"}, actions={Action.SNAPSHOT}, purpose="p")  # type: ignore[call-arg]


def test_purpose_is_required_and_not_blank() -> None:
    with pytest.raises(ValidationError, match="purpose"):
        make_grant(purpose="  ")


def test_naive_times_are_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        make_grant(expires_at=datetime(2030, 1, 1))


def test_expiry_must_follow_issue() -> None:
    with pytest.raises(ValidationError, match="after issued_at"):
        make_grant(issued_at=T0, expires_at=T0)


def test_footage_window_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="footage_until"):
        make_grant(footage_from=T0, footage_until=T0)


def test_grant_needs_at_least_one_action_and_camera() -> None:
    with pytest.raises(ValidationError):
        make_grant(actions=set())
    with pytest.raises(ValidationError):
        make_grant(cameras=set())


def test_single_camera_string_becomes_a_set() -> None:
    assert make_grant(cameras="porch").cameras == frozenset({"porch"})


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        make_grant(admin=True)


def test_grant_is_immutable() -> None:
    with pytest.raises(ValidationError):
        make_grant().purpose = "other"  # type: ignore[misc]


def test_times_are_kept_in_utc() -> None:
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))
    grant = make_grant(expires_at=datetime(2030, 1, 1, 14, 0, tzinfo=plus_two))
    assert grant.expires_at.utcoffset() == timedelta(0)
    assert grant.expires_at.hour == 12


# -- signing ------------------------------------------------------------------------------------


def test_signed_grant_verifies(signing_key: Ed25519PrivateKey) -> None:
    grant = sign_grant(make_grant(), signing_key)
    assert grant.signature
    assert verify_grant(grant, [signing_key.public_key()])


def test_unsigned_grant_does_not_verify(signing_key: Ed25519PrivateKey) -> None:
    assert not verify_grant(make_grant(), [signing_key.public_key()])


def test_forged_signature_does_not_verify(signing_key: Ed25519PrivateKey) -> None:
    forged = sign_grant(make_grant(), generate_signing_key())
    assert not verify_grant(forged, [signing_key.public_key()])


def test_garbage_signature_does_not_verify(signing_key: Ed25519PrivateKey) -> None:
    grant = make_grant().model_copy(update={"signature": "%%% not base64 %%%"})
    assert not verify_grant(grant, [signing_key.public_key()])


@pytest.mark.parametrize(
    "change",
    [
        {"expires_at": T0 + timedelta(days=365)},
        {"cameras": frozenset({"porch", "bedroom"})},
        {"actions": frozenset({Action.SNAPSHOT, Action.RAW_MEDIA})},
        {"purpose": "*"},
        {"principal": "someone-else"},
        {"masks": ()},
        {"footage_from": T0 - timedelta(days=30)},
        {"issuer": "mallory"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_altering_any_field_breaks_the_signature(
    signing_key: Ed25519PrivateKey, change: dict[str, object]
) -> None:
    masked = make_grant(masks=(PrivacyMask.rectangle(0, 0, 0.2, 0.2),))
    signed = sign_grant(masked, signing_key)
    assert not verify_grant(signed.model_copy(update=change), [signing_key.public_key()])


def test_signing_payload_does_not_depend_on_set_order() -> None:
    a = make_grant(cameras=["b", "a", "c"], actions=[Action.FRAMES, Action.SNAPSHOT])
    b = make_grant(cameras=["c", "a", "b"], actions=[Action.SNAPSHOT, Action.FRAMES])
    assert a.signing_payload() == b.signing_payload()


def test_signing_payload_excludes_the_signature(signing_key: Ed25519PrivateKey) -> None:
    grant = make_grant()
    assert sign_grant(grant, signing_key).signing_payload() == grant.signing_payload()


# -- files ----------------------------------------------------------------------------------------


def test_grant_file_round_trip_keeps_signatures_valid(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    window = PrivacyMask(points=((0.1, 0.1), (0.4, 0.1), (0.25, 0.5)), label="window")
    grants = [sign_grant(make_grant(masks=(window,)), signing_key), make_grant(grant_id="g2")]
    path = tmp_path / "grants.json"
    save_grants(path, grants)
    loaded = load_grants(path)
    assert loaded == grants
    assert verify_grant(loaded[0], [signing_key.public_key()])


def test_loading_an_invalid_grant_names_it(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    path.write_text('{"version": 1, "grants": [{"principal": "x"}]}')
    with pytest.raises(ValueError, match="grant #0"):
        load_grants(path)


def test_a_file_with_one_grant_object_loads(tmp_path: Path) -> None:
    path = tmp_path / "grant.json"
    path.write_text(make_grant().model_dump_json())
    assert load_grants(path) == [make_grant()]


def test_private_key_pem_round_trip(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    path = tmp_path / "owner.key"
    save_private_key(signing_key, path)
    assert path.stat().st_mode & 0o077 == 0
    assert key_id(load_private_key(path)) == key_id(signing_key)


def test_encrypted_private_key_needs_its_password(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "owner.key"
    save_private_key(signing_key, path, password=b"pw")
    assert key_id(load_private_key(path, password=b"pw")) == key_id(signing_key)
    with pytest.raises(TypeError):
        load_private_key(path)


def test_public_key_loads_from_pem_raw_and_hex(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    from cryptography.hazmat.primitives import serialization

    public = signing_key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = tmp_path / "owner.pub"
    save_public_key(signing_key, pem)
    (tmp_path / "raw.pub").write_bytes(raw)
    (tmp_path / "hex.pub").write_text(raw.hex() + "\n")
    for name in ("owner.pub", "raw.pub", "hex.pub"):
        assert key_id(load_public_key(tmp_path / name)) == key_id(public)


def test_not_a_key_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_text("hello")
    with pytest.raises(ValueError):
        load_public_key(path)
    with pytest.raises(ValueError):
        load_private_key(path)


# -- revocation list ------------------------------------------------------------------------------


def test_revoke_reports_whether_it_was_new() -> None:
    revocations = RevocationList()
    assert revocations.revoke("g1")
    assert not revocations.revoke("g1")
    assert "g1" in revocations and revocations.is_revoked("g1")


def test_version_increases_with_each_new_revocation() -> None:
    revocations = RevocationList()
    versions = [revocations.version]
    for grant_id in ("a", "b", "b", "c"):
        revocations.revoke(grant_id)
        versions.append(revocations.version)
    assert versions == [0, 1, 2, 2, 3]


def test_revocation_time_comes_from_the_clock(clock: FakeClock) -> None:
    revocations = RevocationList(clock=clock.now)
    clock.advance(60)
    revocations.revoke("g1")
    assert revocations.revoked_at("g1") == T0 + timedelta(seconds=60)


def test_watch_turns_true_only_for_its_own_grant() -> None:
    revocations = RevocationList()
    watch = revocations.watch("g1")
    revocations.revoke("g2")
    assert not watch()
    revocations.revoke("g1")
    assert watch()


def test_concurrent_revocations_are_all_counted() -> None:
    revocations = RevocationList()

    def revoke_many(prefix: str) -> None:
        for i in range(500):
            revocations.revoke(f"{prefix}{i}")

    threads = [threading.Thread(target=revoke_many, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(revocations) == 2000
    assert revocations.version == 2000


def test_revocation_list_file_round_trip(tmp_path: Path, clock: FakeClock) -> None:
    revocations = RevocationList(clock=clock.now)
    revocations.revoke("g1")
    revocations.revoke("g2")
    path = tmp_path / "revoked.json"
    revocations.save(path)
    loaded = RevocationList.load(path)
    assert list(loaded) == ["g1", "g2"]
    assert loaded.revoked_at("g1") == T0
