"""GrantPolicy and DenyByDefault: who may do what, and how live egress learns it must stop."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import camsdk.privacy
from camsdk._access import OWNER, AccessPolicy, Action, Principal
from camsdk.privacy import (
    ANY,
    DenyByDefault,
    GrantPolicy,
    PrivacyMask,
    RevocationList,
    generate_signing_key,
    sign_grant,
)

from ._helpers import T0, FakeClock, make_grant, make_request


def policy_for(clock: FakeClock, *grants: object, **kwargs: object) -> GrantPolicy:
    return GrantPolicy(
        grants or [make_grant()],
        clock=clock.now,
        monotonic=clock.monotonic,
        **kwargs,
    )


# -- the policies implement the protocol ------------------------------------------------


def test_policies_implement_the_access_policy_protocol() -> None:
    assert isinstance(GrantPolicy(), AccessPolicy)
    assert isinstance(DenyByDefault(), AccessPolicy)


def test_deny_by_default_denies_even_the_owner() -> None:
    decision = DenyByDefault().decide(make_request(principal=OWNER.id))
    assert not decision.allowed
    assert "deny by default" in decision.reason


# -- owner and strangers ------------------------------------------------------------------


def test_owner_may_do_everything_without_a_grant(clock: FakeClock) -> None:
    policy = GrantPolicy(clock=clock.now)
    for action in Action:
        assert policy.decide(make_request(principal="owner", action=action)).allowed


def test_owner_is_recognised_by_id_whatever_the_display_name(clock: FakeClock) -> None:
    decision = GrantPolicy(clock=clock.now).decide(make_request(principal=OWNER.id))
    assert decision.allowed and decision.reason == "owner"


def test_custom_owner_replaces_the_default_one(clock: FakeClock) -> None:
    policy = GrantPolicy(owner=Principal("alice"), clock=clock.now)
    assert policy.decide(make_request(principal="alice")).allowed
    assert not policy.decide(make_request(principal="owner")).allowed


def test_principal_without_grant_is_denied(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request(principal="stranger"))
    assert not decision.allowed
    assert "'stranger' has no grant" in decision.reason


# -- matching -------------------------------------------------------------------------------


def test_matching_grant_allows_and_names_itself(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request())
    assert decision.allowed
    assert decision.grant_id == "g1"
    assert decision.reason == "grant g1"


def test_grant_for_another_camera_denies(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request(camera="garden"))
    assert not decision.allowed
    assert "camera 'garden' not covered" in decision.reason


def test_wildcard_camera_covers_every_camera(clock: FakeClock) -> None:
    policy = policy_for(clock, make_grant(cameras=ANY))
    assert policy.decide(make_request(camera="garden")).allowed


def test_action_not_in_grant_denies(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request(action=Action.PTZ))
    assert not decision.allowed
    assert "action 'ptz' not granted" in decision.reason


def test_other_purpose_denies(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request(purpose="marketing"))
    assert not decision.allowed
    assert "purpose 'marketing' does not match 'security'" in decision.reason


def test_request_without_purpose_is_denied_by_a_purposeful_grant(clock: FakeClock) -> None:
    assert not policy_for(clock).decide(make_request(purpose="")).allowed


def test_wildcard_purpose_matches_any_purpose(clock: FakeClock) -> None:
    policy = policy_for(clock, make_grant(purpose=ANY))
    assert policy.decide(make_request(purpose="anything")).allowed


def test_grant_of_another_principal_does_not_apply(clock: FakeClock) -> None:
    policy = policy_for(clock, make_grant(principal="installer"))
    assert not policy.decide(make_request(principal="neighbour")).allowed


def test_footage_before_the_window_is_denied(clock: FakeClock) -> None:
    grant = make_grant(footage_from=T0 + timedelta(hours=1))
    decision = policy_for(clock, grant).decide(make_request(at=T0))
    assert not decision.allowed
    assert "outside the footage window" in decision.reason


def test_footage_inside_the_window_is_allowed(clock: FakeClock) -> None:
    grant = make_grant(footage_from=T0 - timedelta(hours=1), footage_until=T0 + timedelta(hours=1))
    assert policy_for(clock, grant).decide(make_request(at=T0)).allowed


def test_footage_window_end_is_exclusive(clock: FakeClock) -> None:
    grant = make_grant(footage_until=T0)
    assert not policy_for(clock, grant).decide(make_request(at=T0)).allowed


def test_most_permissive_matching_grant_wins(clock: FakeClock) -> None:
    masked = make_grant(grant_id="masked", masks=(PrivacyMask.rectangle(0, 0, 0.5, 0.5),))
    raw = make_grant(grant_id="raw", actions={Action.SNAPSHOT, Action.RAW_MEDIA})
    decision = policy_for(clock, masked, raw).decide(make_request())
    assert decision.grant_id == "raw"
    assert decision.raw_media


def test_denial_lists_why_each_grant_did_not_match(clock: FakeClock) -> None:
    a = make_grant(grant_id="a", cameras={"garden"})
    b = make_grant(grant_id="b", purpose="delivery")
    decision = policy_for(clock, a, b).decide(make_request())
    assert "grant a: camera 'porch' not covered" in decision.reason
    assert "grant b: purpose 'security' does not match 'delivery'" in decision.reason


def test_decision_carries_the_grant_masks(clock: FakeClock) -> None:
    window = PrivacyMask.rectangle(0.6, 0.1, 0.9, 0.4, label="window")
    decision = policy_for(clock, make_grant(masks=(window,))).decide(make_request())
    assert decision.masks == (window,)
    assert not decision.raw_media


def test_raw_media_action_sets_raw_media(clock: FakeClock) -> None:
    grant = make_grant(actions={Action.PACKETS, Action.RAW_MEDIA})
    decision = policy_for(clock, grant).decide(make_request(action=Action.PACKETS))
    assert decision.allowed and decision.raw_media


def test_duplicate_grant_id_is_refused(clock: FakeClock) -> None:
    policy = policy_for(clock)
    try:
        policy.add_grant(make_grant(principal="other"))
    except ValueError as exc:
        assert "already added" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_grant_added_later_applies_to_the_next_request(clock: FakeClock) -> None:
    policy = GrantPolicy(clock=clock.now)
    assert not policy.decide(make_request()).allowed
    policy.add_grant(make_grant())
    assert policy.decide(make_request()).allowed


# -- expiry -----------------------------------------------------------------------------


def test_grant_is_denied_once_expired(clock: FakeClock) -> None:
    policy = policy_for(clock)
    clock.advance(24 * 3600)
    decision = policy.decide(make_request())
    assert not decision.allowed
    assert "expired" in decision.reason


def test_grant_not_yet_issued_is_denied(clock: FakeClock) -> None:
    grant = make_grant(issued_at=T0 + timedelta(hours=1), expires_at=T0 + timedelta(hours=2))
    decision = policy_for(clock, grant).decide(make_request())
    assert not decision.allowed
    assert "not valid before" in decision.reason


def test_decision_expires_at_is_a_monotonic_deadline_at_grant_expiry(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request())
    assert decision.expires_at == clock.mono + 24 * 3600


def test_decision_deadline_is_the_footage_window_end_when_earlier(clock: FakeClock) -> None:
    grant = make_grant(footage_until=T0 + timedelta(minutes=5))
    decision = policy_for(clock, grant).decide(make_request())
    assert decision.expires_at == clock.mono + 300


def test_issued_decision_stops_being_valid_at_expiry(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request())
    assert decision.still_valid(now=clock.mono + 24 * 3600 - 1)
    assert not decision.still_valid(now=clock.mono + 24 * 3600)


# -- revocation -------------------------------------------------------------------------


def test_revoked_grant_is_denied(clock: FakeClock) -> None:
    policy = policy_for(clock)
    policy.revoke("g1")
    decision = policy.decide(make_request())
    assert not decision.allowed
    assert "grant g1: revoked" in decision.reason


def test_revocation_flips_still_valid_of_an_issued_decision(clock: FakeClock) -> None:
    policy = policy_for(clock)
    decision = policy.decide(make_request())
    assert decision.still_valid(now=clock.mono)
    policy.revoke("g1")
    assert not decision.still_valid(now=clock.mono)


def test_revoking_another_grant_leaves_an_issued_decision_valid(clock: FakeClock) -> None:
    policy = policy_for(clock, make_grant(), make_grant(grant_id="g2", principal="other"))
    decision = policy.decide(make_request())
    policy.revoke("g2")
    assert decision.still_valid(now=clock.mono)


def test_shared_revocation_list_reaches_every_policy(clock: FakeClock) -> None:
    revocations = RevocationList()
    first = policy_for(clock, revocations=revocations)
    second = policy_for(clock, revocations=revocations)
    decision = first.decide(make_request())
    revocations.revoke("g1")
    assert not decision.still_valid(now=clock.mono)
    assert not second.decide(make_request()).allowed


def test_owner_decision_never_expires(clock: FakeClock) -> None:
    decision = policy_for(clock).decide(make_request(principal="owner"))
    assert decision.expires_at is None and decision.revoked is None


# -- signed grants -------------------------------------------------------------------------


def test_signed_grant_is_honoured_with_trusted_key(
    clock: FakeClock, signing_key: Ed25519PrivateKey
) -> None:
    grant = sign_grant(make_grant(), signing_key)
    policy = policy_for(clock, grant, trusted_keys=[signing_key.public_key()])
    assert policy.decide(make_request()).allowed


def test_unsigned_grant_is_ignored_when_trusted_keys_are_set(
    clock: FakeClock, signing_key: Ed25519PrivateKey
) -> None:
    policy = policy_for(clock, make_grant(), trusted_keys=[signing_key.public_key()])
    decision = policy.decide(make_request())
    assert not decision.allowed
    assert "unsigned" in decision.reason


def test_grant_signed_by_an_untrusted_key_is_ignored(
    clock: FakeClock, signing_key: Ed25519PrivateKey
) -> None:
    forged = sign_grant(make_grant(), generate_signing_key())
    decision = policy_for(clock, forged, trusted_keys=[signing_key.public_key()]).decide(
        make_request()
    )
    assert not decision.allowed
    assert "signature does not verify" in decision.reason


def test_widened_signed_grant_is_ignored(clock: FakeClock, signing_key: Ed25519PrivateKey) -> None:
    signed = sign_grant(make_grant(), signing_key)
    widened = signed.model_copy(update={"cameras": frozenset({"porch", "bedroom"})})
    policy = policy_for(clock, widened, trusted_keys=[signing_key.public_key()])
    decision = policy.decide(make_request(camera="bedroom"))
    assert not decision.allowed
    assert "forged or altered" in decision.reason


def test_any_of_several_trusted_keys_may_sign(
    clock: FakeClock, signing_key: Ed25519PrivateKey
) -> None:
    other = generate_signing_key()
    grant = sign_grant(make_grant(), other)
    keys = [signing_key.public_key(), other.public_key()]
    assert policy_for(clock, grant, trusted_keys=keys).decide(make_request()).allowed


def test_signature_is_not_checked_without_trusted_keys(clock: FakeClock) -> None:
    tampered = make_grant().model_copy(update={"signature": "bm90IGEgc2lnbmF0dXJl"})
    assert policy_for(clock, tampered).decide(make_request()).allowed


# -- no bypass ------------------------------------------------------------------------------


def test_privacy_package_has_no_bypass_path() -> None:
    package = Path(inspect.getfile(camsdk.privacy)).parent
    source = "\n".join(p.read_text() for p in package.glob("*.py")).lower()
    for word in ("emergency", "bypass", "backdoor", "break_glass", "support_access", "god_mode"):
        assert not re.search(rf"\b{word}", source), word
