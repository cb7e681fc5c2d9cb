"""Properties that must hold for every input: chain integrity, grant safety, redaction."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from camsdk._access import Action
from camsdk._url import CameraURL, redact_text
from camsdk.privacy import ANY, AuditLog, Grant, GrantPolicy, RevocationList, verify_audit_log
from camsdk.privacy._records import RESERVED_FIELDS, is_secret_name

from ._helpers import T0, FakeClock, make_request

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# -- audit chain ----------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.text(min_size=1, max_size=12).filter(
    lambda k: k not in RESERVED_FIELDS and k != "type" and not is_secret_name(k)
)
records = st.dictionaries(field_names, json_values, max_size=6)


def write(path: Path, items: list[dict[str, Any]], checkpoint_every: int) -> None:
    path.touch()  # the log creates its file on the first record only
    with AuditLog(path, checkpoint_every=checkpoint_every) as log:
        for item in items:
            log.write(item)


@SETTINGS
@given(items=st.lists(records, max_size=12), every=st.integers(min_value=0, max_value=4))
def test_any_record_sequence_verifies(items: list[dict[str, Any]], every: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        write(path, items, every)
        result = verify_audit_log(path)
        assert result.ok, result.reason
        assert result.records == len(items)


@SETTINGS
@given(
    items=st.lists(records, min_size=1, max_size=8),
    pick=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_is_caught_at_its_line(
    items: list[dict[str, Any]], pick: int, flip: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.jsonl"
        write(path, items, 0)
        data = bytearray(path.read_bytes())
        offset = pick % len(data)
        line = data[:offset].count(b"\n") + 1
        data[offset] ^= flip
        path.write_bytes(bytes(data))
        result = verify_audit_log(path)
        assert not result.ok
        assert result.first_broken_line == line


# -- grant evaluation -------------------------------------------------------------------------

actions = st.sampled_from(list(Action))
cameras = st.sampled_from(["porch", "garden", "hall"])
purposes = st.sampled_from(["security", "delivery", ANY])
principals = st.sampled_from(["neighbour", "installer", "kid"])


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    issued = T0 + timedelta(hours=draw(st.integers(-48, 48)))
    return Grant(
        grant_id=f"g{draw(st.integers(0, 10_000))}",
        principal=draw(principals),
        cameras=draw(st.sets(cameras | st.just(ANY), min_size=1)),
        actions=draw(st.sets(actions, min_size=1)),
        purpose=draw(purposes),
        issued_at=issued,
        expires_at=issued + timedelta(minutes=draw(st.integers(1, 72 * 60))),
    )


def unique(items: list[Grant]) -> list[Grant]:
    return list({g.grant_id: g for g in items}.values())


request_args = st.fixed_dictionaries(
    {
        "principal": principals,
        "camera": cameras,
        "action": actions,
        "purpose": st.sampled_from(["security", "delivery", "", "marketing"]),
    }
)


@SETTINGS
@given(items=st.lists(grants(), max_size=6), req=request_args, offset=st.integers(-72, 72))
def test_allow_only_under_an_unexpired_grant_that_covers_the_request(
    items: list[Grant], req: dict[str, Any], offset: int
) -> None:
    clock = FakeClock()
    clock.advance(offset * 3600)
    pool = unique(items)
    decision = GrantPolicy(pool, clock=clock.now).decide(make_request(**req))
    if decision.allowed:
        grant = next(g for g in pool if g.grant_id == decision.grant_id)
        assert grant.principal == req["principal"]
        assert grant.issued_at <= clock.wall < grant.expires_at
        assert req["action"] in grant.actions
        assert grant.covers_camera(req["camera"]) and grant.covers_purpose(req["purpose"])


@SETTINGS
@given(items=st.lists(grants(), min_size=1, max_size=6), req=request_args)
def test_expired_grants_never_allow(items: list[Grant], req: dict[str, Any]) -> None:
    clock = FakeClock()
    clock.wall = max(g.expires_at for g in items)
    assert not GrantPolicy(unique(items), clock=clock.now).decide(make_request(**req)).allowed


@SETTINGS
@given(items=st.lists(grants(), min_size=1, max_size=6), req=request_args)
def test_revoked_grants_never_allow(items: list[Grant], req: dict[str, Any]) -> None:
    revocations = RevocationList(g.grant_id for g in items)
    policy = GrantPolicy(unique(items), revocations=revocations, clock=FakeClock().now)
    assert not policy.decide(make_request(**req)).allowed


@SETTINGS
@given(items=st.lists(grants(), max_size=6), action=actions, camera=cameras)
def test_owner_is_always_allowed(items: list[Grant], action: Action, camera: str) -> None:
    policy = GrantPolicy(unique(items), clock=FakeClock().now)
    assert policy.decide(make_request("owner", camera, action, purpose="")).allowed


@SETTINGS
@given(items=st.lists(grants(), max_size=6), req=request_args)
def test_principal_without_grants_is_never_allowed(items: list[Grant], req: dict[str, Any]) -> None:
    mine = [g for g in unique(items) if g.principal != req["principal"]]
    assert not GrantPolicy(mine, clock=FakeClock().now).decide(make_request(**req)).allowed


# -- redaction ------------------------------------------------------------------------------------

# Passwords built to be awkward: URL delimiters, percent escapes, non-ASCII.
password_parts = st.sampled_from(["@", ":", "%40", "/", "?", "&", "#", "é", "密", "🔑", " ", "+"])
passwords = st.lists(
    password_parts | st.text(alphabet="ABCxyz019-_.~", min_size=1, max_size=4),
    min_size=1,
    max_size=6,
).map(lambda parts: "Zq" + "".join(parts))


@SETTINGS
@given(password=passwords, user=st.text(alphabet="abcdef", min_size=1, max_size=6))
def test_redaction_hides_a_password_in_userinfo(password: str, user: str) -> None:
    url = f"rtsp://{user}:{quote(password, safe='')}@cam.local:554/stream1"
    for text in (redact_text(url), CameraURL.parse(url).redacted(), repr(CameraURL.parse(url))):
        assert password not in text
        assert quote(password, safe="") not in text


@SETTINGS
@given(password=passwords, key=st.sampled_from(["password", "token", "api_key", "secret"]))
def test_redaction_hides_a_password_in_the_query(password: str, key: str) -> None:
    url = f"http://cam.local/snap.jpg?user=admin&{key}={quote(password, safe='')}&size=hd"
    for text in (redact_text(url), CameraURL.parse(url).redacted()):
        assert password not in text
        assert quote(password, safe="") not in text


@SETTINGS
@given(password=passwords)
def test_redaction_hides_a_password_in_free_text(password: str) -> None:
    assume("\n" not in password)
    message = f"cannot open rtsp://admin:{quote(password, safe='')}@10.0.0.5/live: timeout"
    assert quote(password, safe="") not in redact_text(message)
