"""Truncation and permissions: the checkpoint mirror, the expected head, file modes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camsdk.privacy import (
    AuditHead,
    AuditLog,
    AuditLogError,
    CheckpointMirror,
    CheckpointSink,
    verify_audit_log,
)

from .test_audit_forgery import body_of, rechain_from, sealed


def access(i: int = 0) -> dict[str, Any]:
    return {"event": "access", "principal": "neighbour", "camera_id": "porch", "n": i}


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away, so the modes seen are the ones camsdk asked for."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def mirrored(tmp_path: Path, signing_key: Ed25519PrivateKey) -> tuple[Path, CheckpointMirror]:
    """Nine records with checkpoints every three (lines 4, 8, 12), mirrored."""
    mirror = CheckpointMirror(tmp_path / "mirror" / "audit.head")
    mirror.path.parent.mkdir()
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, signing_key=signing_key, checkpoint_every=3, checkpoint_sink=mirror) as log:
        for i in range(9):
            log.write(access(i))
    return path, mirror


# -- file modes -------------------------------------------------------------------------------


@pytest.mark.usefixtures("open_umask")
def test_log_file_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.write(access())
    assert mode_of(path) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_mirror_file_is_created_readable_by_its_owner_only(
    mirrored: tuple[Path, CheckpointMirror],
) -> None:
    assert mode_of(mirrored[1].path) == 0o600


@pytest.mark.parametrize(("mode", "who"), [(0o620, "its group"), (0o606, "everyone")])
def test_log_writable_by_others_is_reported_as_a_warning(
    tmp_path: Path, mode: int, who: str
) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.write(access())
    path.chmod(mode)
    result = verify_audit_log(path)
    assert result.ok
    (warning,) = result.warnings
    assert f"writable by {who}" in warning and "chmod 600" in warning


def test_owner_only_log_has_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:
        log.write(access())
    assert verify_audit_log(path).warnings == ()


def test_reopening_a_log_writable_by_others_logs_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    path.touch(mode=0o600)
    path.chmod(0o666)
    with caplog.at_level("WARNING", logger="camsdk.audit"), AuditLog(path) as log:
        log.write(access())
    assert "writable by its group and everyone" in caplog.text


# -- the mirror ---------------------------------------------------------------------------------


def test_mirror_holds_the_newest_checkpoint_line(mirrored: tuple[Path, CheckpointMirror]) -> None:
    path, mirror = mirrored
    assert mirror.path.read_bytes() == lines_of(path)[11]
    assert mirror.read().seq == 12


def test_mirror_replaces_its_file_without_leaving_temporary_files(
    mirrored: tuple[Path, CheckpointMirror],
) -> None:
    assert [p.name for p in mirrored[1].path.parent.iterdir()] == ["audit.head"]


def test_mirror_is_a_checkpoint_sink() -> None:
    assert isinstance(CheckpointMirror("unused"), CheckpointSink)


def test_mirror_constructor_does_no_io(tmp_path: Path) -> None:
    CheckpointMirror(tmp_path / "audit.head")
    assert list(tmp_path.iterdir()) == []


def test_mirror_refuses_a_line_that_is_not_a_checkpoint(
    tmp_path: Path, mirrored: tuple[Path, CheckpointMirror]
) -> None:
    path, mirror = mirrored
    with pytest.raises(ValueError, match="a record"):
        mirror.write_checkpoint(lines_of(path)[0].rstrip(b"\n"))
    assert mirror.read().seq == 12


def test_mirror_of_garbage_reads_as_a_value_error(tmp_path: Path) -> None:
    (tmp_path / "audit.head").write_bytes(b"{}\n")
    with pytest.raises(ValueError, match="not an audit checkpoint line"):
        CheckpointMirror(tmp_path / "audit.head").read()


def test_verification_names_the_head_to_keep(
    mirrored: tuple[Path, CheckpointMirror], signing_key: Ed25519PrivateKey
) -> None:
    path, mirror = mirrored
    assert verify_audit_log(path, signing_key.public_key()).last_checkpoint == mirror.read()


def test_audit_head_needs_a_position_and_a_digest() -> None:
    with pytest.raises(ValueError):
        AuditHead(0, "0" * 64)
    with pytest.raises(ValueError):
        AuditHead(3, "not hex")


# -- truncation -------------------------------------------------------------------------------


def test_log_cut_back_to_an_earlier_checkpoint_is_invisible_without_the_mirror(
    mirrored: tuple[Path, CheckpointMirror], signing_key: Ed25519PrivateKey
) -> None:
    # The limit the mirror exists for: the file alone still verifies.
    path, _ = mirrored
    path.write_bytes(b"".join(lines_of(path)[:8]))
    result = verify_audit_log(path, signing_key.public_key())
    assert result.ok and result.signed_through == 8


def test_log_cut_back_to_an_earlier_checkpoint_is_caught_with_the_mirror(
    mirrored: tuple[Path, CheckpointMirror], signing_key: Ed25519PrivateKey
) -> None:
    path, mirror = mirrored
    path.write_bytes(b"".join(lines_of(path)[:8]))
    result = verify_audit_log(path, signing_key.public_key(), expected_head=mirror.read())
    assert not result.ok
    assert result.first_broken_line == 9
    assert "truncated: the log ends at line 8" in result.reason
    assert "checkpoint at line 12" in result.reason


def test_log_cut_mid_way_is_caught_with_the_mirror_even_without_the_key(
    mirrored: tuple[Path, CheckpointMirror],
) -> None:
    path, mirror = mirrored
    path.write_bytes(b"".join(lines_of(path)[:10]))
    result = verify_audit_log(path, expected_head=mirror.read())
    assert (result.ok, result.first_broken_line) == (False, 11)


def test_rewritten_log_without_the_mirrored_line_is_caught(
    mirrored: tuple[Path, CheckpointMirror],
) -> None:
    # Without the key a forger can rebuild a consistent chain, but not the mirrored line.
    path, mirror = mirrored
    lines = lines_of(path)
    lines[1] = sealed(body_of(lines[1]).replace(b'"n":1', b'"n":5'))
    path.write_bytes(b"".join(rechain_from(lines, 1)))
    assert verify_audit_log(path).ok  # the chain alone is consistent
    result = verify_audit_log(path, expected_head=mirror.read())
    assert (result.ok, result.first_broken_line) == (False, 12)
    assert "differs from the expected" in result.reason


def test_intact_log_holds_the_mirrored_checkpoint(
    mirrored: tuple[Path, CheckpointMirror], signing_key: Ed25519PrivateKey
) -> None:
    path, mirror = mirrored
    result = verify_audit_log(path, signing_key.public_key(), expected_head=mirror.read())
    assert result.ok
    assert "holds the expected checkpoint at line 12" in result.reason


def test_audit_log_verify_takes_the_expected_head(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    mirror = CheckpointMirror(tmp_path / "audit.head")
    with AuditLog(tmp_path / "a.jsonl", signing_key=signing_key, checkpoint_sink=mirror) as log:
        log.write(access())
        log.checkpoint()
        assert log.verify(expected_head=mirror.read()).ok


# -- a mirror that fails ------------------------------------------------------------------------


class FlakyMirror:
    """A checkpoint sink that fails while ``down`` and records what it was given."""

    def __init__(self) -> None:
        self.down = True
        self.lines: list[bytes] = []

    def write_checkpoint(self, line: bytes) -> None:
        if self.down:
            raise OSError("mirror host unreachable")
        self.lines.append(line)


def test_failing_mirror_fails_writes_closed_until_it_takes_the_checkpoint(
    tmp_path: Path,
) -> None:
    path, mirror = tmp_path / "audit.jsonl", FlakyMirror()
    log = AuditLog(path, checkpoint_every=3, checkpoint_sink=mirror)
    try:
        for i in range(2):
            log.write(access(i))
        with pytest.raises(AuditLogError, match="checkpoint sink failed"):
            log.write(access(2))  # the record and the checkpoint are written, the mirror fails
        with pytest.raises(AuditLogError, match="mirror is behind"):
            log.write(access(3))  # still behind: still refused
        mirror.down = False
        log.write(access(4))
    finally:
        log.close()
    assert mirror.lines == [lines_of(path)[3].rstrip(b"\n")]  # the checkpoint at line 4
    result = verify_audit_log(path)
    assert result.ok and result.records == 5
