"""The audit line format: what a v2 checkpoint signs, legacy v1 checkpoints, hostile lines."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camsdk.privacy import AuditLog, AuditLogError, key_id, verify_audit_log
from camsdk.privacy._audit import GENESIS, MAX_LINE_BYTES
from camsdk.privacy._audit._format import seal
from camsdk.privacy._keys import canonical_json, sign_bytes

from .test_audit_forgery import body_of, digest, rechain_from, sealed

TS = "2024-06-01T12:00:00.000000Z"


def access(i: int = 0) -> dict[str, Any]:
    return {"event": "access", "principal": "neighbour", "camera_id": "porch", "n": i}


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# -- version 2 checkpoints -------------------------------------------------------------------


def test_checkpoint_signature_covers_the_line_without_its_signature(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, signing_key=signing_key) as log:
        log.write(access())
    line = lines_of(path)[-1]
    signature = json.loads(line)["signature"]
    unsigned = body_of(line).replace(b',"signature":"%s"' % signature.encode(), b"")
    assert unsigned.startswith(b'{"seq":2,"ts":"') and b'"type":"checkpoint"' in unsigned
    signing_key.public_key().verify(  # raises InvalidSignature when it does not hold
        base64.urlsafe_b64decode(signature), b"camsdk-audit-checkpoint-v2\n" + unsigned
    )


def test_checkpoint_line_names_its_format_version(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, signing_key=signing_key) as log:
        log.write(access())
    assert json.loads(lines_of(path)[-1])["version"] == 2


def test_unsupported_checkpoint_version_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, checkpoint_every=1) as log:
        log.write(access())
    lines = lines_of(path)
    lines[1] = sealed(body_of(lines[1]).replace(b'"version":2', b'"version":3'))
    path.write_bytes(b"".join(lines))
    result = verify_audit_log(path)
    assert (result.ok, result.first_broken_line) == (False, 2)
    assert "version 3 is not supported" in result.reason


def test_checkpoint_with_an_extra_field_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, checkpoint_every=1) as log:
        log.write(access())
    lines = lines_of(path)
    lines[1] = sealed(body_of(lines[1]).replace(b'"type"', b'"note":"x","type"'))
    path.write_bytes(b"".join(lines))
    result = verify_audit_log(path)
    assert not result.ok and "malformed checkpoint" in result.reason


# -- legacy (version 1) checkpoints -----------------------------------------------------------


def v1_checkpoint(key: Ed25519PrivateKey, seq: int, prev: str) -> bytes:
    """A checkpoint as camsdk wrote them before version 2: signed over parsed fields."""
    fields = {"key_id": key_id(key), "type": "checkpoint"}
    signed = canonical_json({**fields, "seq": seq, "ts": TS, "prev": prev})
    fields["signature"] = sign_bytes(key, b"camsdk-audit-checkpoint-v1\n" + signed)
    return seal(seq, TS, prev, fields) + b"\n"


@pytest.fixture
def legacy_log(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Path:
    """Three records and a v1 checkpoint, twice, as an older camsdk left it."""
    path = tmp_path / "legacy.jsonl"
    lines: list[bytes] = []
    for i in range(8):
        prev = digest(lines[-1]).decode() if lines else GENESIS
        if len(lines) % 4 == 3:
            lines.append(v1_checkpoint(signing_key, len(lines) + 1, prev))
        else:
            lines.append(seal(len(lines) + 1, TS, prev, access(i)) + b"\n")
    path.write_bytes(b"".join(lines))
    return path


def test_legacy_checkpoints_keep_the_chain_verifiable(legacy_log: Path) -> None:
    result = verify_audit_log(legacy_log)
    assert result.ok
    assert (result.records, result.checkpoints, result.legacy_checkpoints) == (6, 2, 2)


def test_legacy_checkpoints_authenticate_nothing(
    legacy_log: Path, signing_key: Ed25519PrivateKey
) -> None:
    result = verify_audit_log(legacy_log, signing_key.public_key())
    assert not result.ok
    assert result.signed_through == 0 and result.legacy_checkpoints == 2
    assert "no signed checkpoint" in result.reason
    assert "2 legacy v1 checkpoint(s) not authenticated" in result.reason


def test_forged_legacy_checkpoint_is_still_caught(
    legacy_log: Path, signing_key: Ed25519PrivateKey
) -> None:
    lines = lines_of(legacy_log)
    fields = json.loads(lines[3])
    signature = fields["signature"]
    fields["signature"] = ("B" if signature[5] == "A" else "A").join((signature[:5], signature[6:]))
    lines[3] = seal(4, TS, fields["prev"], {k: fields[k] for k in ("key_id", "signature", "type")})
    lines[3] += b"\n"
    legacy_log.write_bytes(b"".join(rechain_from(lines, 3)))
    result = verify_audit_log(legacy_log, signing_key.public_key())
    assert (result.ok, result.first_broken_line) == (False, 4)
    assert "forged" in result.reason


def test_appending_to_a_legacy_log_signs_it_from_the_new_checkpoint(
    legacy_log: Path, signing_key: Ed25519PrivateKey
) -> None:
    with AuditLog(legacy_log, signing_key=signing_key) as log:
        log.write(access(9))
    result = verify_audit_log(legacy_log, signing_key.public_key())
    assert result.ok
    assert result.signed_through == result.lines == 10
    assert "2 legacy v1 checkpoint(s) not authenticated" in result.reason


# -- hostile lines: typed answers in bounded time and memory ---------------------------------


def write_after_one_record(path: Path, data: bytes) -> None:
    with AuditLog(path) as log:
        log.write(access())
    with path.open("ab") as fh:
        fh.write(data)


def test_endless_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_after_one_record(path, b"{" + b"x" * (2 * MAX_LINE_BYTES + 10))
    result = verify_audit_log(path)
    assert (result.ok, result.first_broken_line) == (False, 2)
    assert "longer than" in result.reason


def test_overlong_complete_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_after_one_record(path, b"x" * (MAX_LINE_BYTES + 1) + b"\n")
    result = verify_audit_log(path)
    assert (result.ok, result.first_broken_line) == (False, 2)
    assert "longer than" in result.reason


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("deep nesting", b"[" * 100_000 + b"]" * 100_000),
        ("huge number", b"9" * 100_000),
        ("invalid UTF-8", b'"\xff\xfe"'),
        ("lone surrogate", b'"\\ud800"'),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_hostile_value_is_malformed_not_a_crash(tmp_path: Path, name: str, value: bytes) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.write(access())
    first = lines_of(path)[0]
    body = b'{"seq":2,"ts":"%s","prev":"%s","x":%s}' % (TS.encode(), digest(first), value)
    path.write_bytes(first + sealed(body))
    result = verify_audit_log(path)
    assert (result.ok, result.first_broken_line) == (False, 2), name
    assert "canonical" in result.reason


def test_writer_refuses_a_record_longer_than_a_line_may_be(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    huge = {"values": list(range(10**6, 10**6 + 150_000))}  # 8 bytes each: over 1 MiB
    with AuditLog(path) as log:
        log.write(access())
        with pytest.raises(ValueError, match="too large"):
            log.write(huge)
        log.write(access(1))
    assert verify_audit_log(path).records == 2


def test_reopening_a_log_whose_last_line_is_overlong_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_after_one_record(path, b"y" * (MAX_LINE_BYTES + 10) + b"\n")
    with pytest.raises(AuditLogError, match="damaged"):
        AuditLog(path).write(access())


def test_reopening_a_log_whose_last_line_is_not_canonical_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.write(access())
    (line,) = lines_of(path)
    path.write_bytes(sealed(body_of(line).replace(b'"n":0', b'"n": 0')))
    with pytest.raises(AuditLogError, match="damaged"):
        AuditLog(path).write(access())


# -- the writer and the reader agree on every value -----------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
records = st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in {"seq", "ts", "prev", "hash", "type"}),
    json_values,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, min_size=1, max_size=4))
def test_every_record_the_writer_accepts_verifies_strictly(items: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        with AuditLog(path, checkpoint_every=2) as log:
            for item in items:
                log.write(item)
        result = verify_audit_log(path)
        assert result.ok, result.reason
        assert result.records == len(items)
