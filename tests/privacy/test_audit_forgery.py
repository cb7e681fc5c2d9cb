"""Forgeries that need only the file, not the key: each one must be reported as broken.

The forger can edit bytes and recompute hashes, but cannot sign. The
historic attack: a genuine signed checkpoint moved into a rewritten chain
(a record deleted), its raw header saying the new position while duplicate
keys later in the object carried the signed values for a lenient JSON parse.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camsdk._cli_audit import add_audit_commands
from camsdk.privacy import AuditLog, save_public_key, verify_audit_log

GENESIS = b"0" * 64
HEADER = re.compile(rb'\{"seq":(\d+),"ts":"([^"]*)","prev":"([0-9a-f]{64})"')


def access(i: int) -> dict[str, Any]:
    return {"event": "access", "principal": "neighbour", "camera_id": "porch", "n": i}


def signed_log(path: Path, key: Ed25519PrivateKey, records: int = 6, every: int = 3) -> list[bytes]:
    with AuditLog(path, signing_key=key, checkpoint_every=every) as log:
        for i in range(records):
            log.write(access(i))
    return path.read_bytes().splitlines(keepends=True)


# -- what a forger without the key can do ----------------------------------------------------


def body_of(line: bytes) -> bytes:
    line = line.rstrip(b"\n")
    return line[: line.rindex(b',"hash":"')] + b"}"


def sealed(body: bytes) -> bytes:
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def digest(line: bytes) -> bytes:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest().encode()


def rehead(line: bytes, seq: int, prev: bytes, extra: bytes = b"") -> bytes:
    """``line`` with a new chain header (and ``extra`` members at the end), hash recomputed."""
    body = body_of(line)
    header = HEADER.match(body)
    assert header is not None
    head = b'{"seq":%d,"ts":"%s","prev":"%s"' % (seq, header[2], prev)
    return sealed(head + body[header.end() : -1] + extra + b"}")


def signed_values(line: bytes, *, escape: bool = False) -> bytes:
    """The genuine checkpoint's seq/ts/prev as extra members, for a last-key-wins parser."""
    header = HEADER.match(body_of(line))
    assert header is not None
    names = (rb"s\u0065q", rb"t\u0073", rb"pr\u0065v") if escape else (b"seq", b"ts", b"prev")
    return b',"%s":%s,"%s":"%s","%s":"%s"' % (
        names[0], header[1], names[1], header[2], names[2], header[3]
    )  # fmt: skip


def without_record(lines: list[bytes], index: int, *, escape: bool = False) -> list[bytes]:
    """Delete ``lines[index]``, re-chain the rest, splice the genuine checkpoints back in."""
    out = lines[:index]
    for line in lines[index + 1 :]:
        seq, prev = len(out) + 1, digest(out[-1]) if out else GENESIS
        is_checkpoint = b'"type":"checkpoint"' in line
        extra = signed_values(line, escape=escape) if is_checkpoint else b""
        out.append(rehead(line, seq, prev, extra))
    return out


def rechain_from(lines: list[bytes], index: int) -> list[bytes]:
    """Re-chain every line after ``index`` (the forger's clean-up after an edit)."""
    out = lines[: index + 1]
    for line in lines[index + 1 :]:
        out.append(rehead(line, len(out) + 1, digest(out[-1])))
    return out


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="camsdk")
    add_audit_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


# -- the moved checkpoint --------------------------------------------------------------------


def test_checkpoint_moved_with_duplicate_keys_is_caught(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = signed_log(path, signing_key)
    path.write_bytes(b"".join(without_record(lines, 1)))
    result = verify_audit_log(path, signing_key.public_key())
    assert not result.ok
    assert result.first_broken_line == 3  # where the first checkpoint now sits


def test_checkpoint_moved_with_escaped_duplicate_keys_is_caught(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = signed_log(path, signing_key)
    path.write_bytes(b"".join(without_record(lines, 1, escape=True)))
    result = verify_audit_log(path, signing_key.public_key())
    assert not result.ok
    assert result.first_broken_line == 3


def test_cli_reports_the_moved_checkpoint_as_broken(
    tmp_path: Path, signing_key: Ed25519PrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    path, public = tmp_path / "audit.jsonl", tmp_path / "owner.pub"
    save_public_key(signing_key, public)
    path.write_bytes(b"".join(without_record(signed_log(path, signing_key), 1)))
    assert run_cli("audit", "verify", str(path), "--key", str(public)) == 1
    assert capsys.readouterr().out.startswith("BROKEN at line 3")


def test_checkpoint_moved_with_a_rewritten_header_fails_its_signature(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    # No duplicate keys: the line is canonical, but it is not the line that was signed.
    path = tmp_path / "audit.jsonl"
    lines = signed_log(path, signing_key)
    out = lines[:1]
    for line in lines[2:]:
        out.append(rehead(line, len(out) + 1, digest(out[-1])))
    path.write_bytes(b"".join(out))
    result = verify_audit_log(path, signing_key.public_key())
    assert (result.ok, result.first_broken_line) == (False, 3)
    assert "forged" in result.reason


def test_checkpoint_copied_from_another_log_with_the_same_key_is_caught(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    porch = signed_log(tmp_path / "porch.jsonl", signing_key)
    garden = signed_log(tmp_path / "garden.jsonl", signing_key, records=7)
    # The garden log's records, the porch log's checkpoint at the same position.
    forged = [*garden[:3], rehead(porch[3], 4, digest(garden[2]), signed_values(porch[3]))]
    path = tmp_path / "forged.jsonl"
    path.write_bytes(b"".join(forged))
    result = verify_audit_log(path, signing_key.public_key())
    assert (result.ok, result.first_broken_line) == (False, 4)


# -- canonical form ---------------------------------------------------------------------------


def test_checkpoint_with_reordered_keys_is_caught(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "audit.jsonl"
    lines = signed_log(path, signing_key)
    body = body_of(lines[-1])
    header = HEADER.match(body)
    assert header is not None
    members = body[header.end() + 1 : -1].split(b",")
    reordered = body[: header.end() + 1] + b",".join(reversed(members)) + b"}"
    lines[-1] = sealed(reordered)
    path.write_bytes(b"".join(lines))
    result = verify_audit_log(path, signing_key.public_key())
    assert (result.ok, result.first_broken_line) == (False, len(lines))


def test_record_with_reordered_keys_is_caught_even_when_rechained(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        for i in range(4):
            log.write(access(i))
    lines = path.read_bytes().splitlines(keepends=True)
    in_order = b'"camera_id":"porch","event":"access"'
    lines[1] = lines[1].replace(in_order, b'"event":"access","camera_id":"porch"')
    lines[1] = sealed(body_of(lines[1]))
    path.write_bytes(b"".join(rechain_from(lines, 1)))
    result = verify_audit_log(path)
    assert (result.ok, result.first_broken_line) == (False, 2)
    assert "canonical" in result.reason


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("duplicate key", b'"n":1', b'"n":1,"n":1'),
        ("shadowed value", b'"n":1', b'"n":7,"n":1'),
        ("whitespace", b'"n":1', b'"n": 1'),
        ("escaped character", b'"porch"', b'"p\\u006frch"'),
        ("re-encoded number", b'"n":1', b'"n":1.00'),
        ("exponent", b'"n":1', b'"n":1e0'),
        ("not a number", b'"n":1', b'"n":NaN'),
        ("reserved name after the header", b'"n":1', b'"n":1,"prev":"' + GENESIS + b'"'),
        ("trailing data", b'"neighbour"', b'"neighbour"},{"x":2'),
    ],
)
def test_non_canonical_record_is_caught(tmp_path: Path, name: str, old: bytes, new: bytes) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        for i in range(3):
            log.write(access(i))
    lines = path.read_bytes().splitlines(keepends=True)
    body = body_of(lines[1])
    assert old in body, name
    lines[1] = sealed(body.replace(old, new, 1))
    path.write_bytes(b"".join(rechain_from(lines, 1)))
    result = verify_audit_log(path)
    assert (result.ok, result.first_broken_line) == (False, 2), name
