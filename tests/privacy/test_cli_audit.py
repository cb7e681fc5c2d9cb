"""``camsdk audit verify`` and ``camsdk audit report``, driven through a parser built here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camsdk._cli_audit import add_audit_commands
from camsdk.privacy import AuditLog, CheckpointMirror, generate_signing_key, save_public_key

from ._helpers import FakeClock


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="camsdk")
    add_audit_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def record(principal: str = "neighbour", **extra: Any) -> dict[str, Any]:
    return {
        "event": "access",
        "principal": principal,
        "camera_id": "porch",
        "action": "snapshot",
        "purpose": "security",
        "allowed": True,
        **extra,
    }


@pytest.fixture
def log_path(tmp_path: Path, clock: FakeClock, signing_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, signing_key=signing_key, clock=clock.now) as log:
        log.write(record())
        log.write(record(allowed=False))
        clock.advance(3600)
        log.write(record("installer"))
    return path


@pytest.fixture
def public_key_file(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "owner.pub"
    save_public_key(signing_key, path)
    return path


def test_verify_intact_log_exits_0(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit", "verify", str(log_path)) == 0
    assert capsys.readouterr().out.startswith("OK: 3 record(s)")


def test_verify_with_key_reports_signed_lines(
    log_path: Path, public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("audit", "verify", str(log_path), "--key", str(public_key_file)) == 0
    assert "signed through line 4" in capsys.readouterr().out


def test_verify_broken_log_exits_1_with_the_line(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = log_path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"allowed":false', b'"allowed":true ')
    log_path.write_bytes(b"".join(lines))
    assert run("audit", "verify", str(log_path)) == 1
    assert capsys.readouterr().out.startswith("BROKEN at line 2: hash mismatch")


def test_verify_with_the_wrong_key_exits_1(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.pub"
    save_public_key(generate_signing_key(), other)
    assert run("audit", "verify", str(log_path), "--key", str(other)) == 1
    assert "another key" in capsys.readouterr().out


def test_verify_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit", "verify", str(tmp_path / "nope.jsonl")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_verify_unreadable_key_exits_2(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key")
    assert run("audit", "verify", str(log_path), "--key", str(junk)) == 2
    assert "cannot read public key" in capsys.readouterr().err


def test_audit_without_subcommand_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit") == 2
    assert "verify" in capsys.readouterr().err


def test_verify_without_file_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        run("audit", "verify")
    assert exc.value.code == 2


def test_report_prints_a_table(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit", "report", str(log_path)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("3 record(s) from 2024-06-01T12:00:00.000000Z")
    assert out[0].endswith("2 allowed, 1 denied")
    assert out[1].split() == [
        "PRINCIPAL", "CAMERA", "PURPOSES", "ALLOWED", "DENIED", "BYTES", "FRAMES", "SECONDS",
    ]  # fmt: skip
    assert out[2].split()[:5] == ["installer", "porch", "security", "1", "0"]
    assert out[3].split()[:5] == ["neighbour", "porch", "security", "1", "1"]


def test_report_json_filters_by_principal(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("audit", "report", str(log_path), "--principal", "installer", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [e["principal"] for e in report["entries"]] == ["installer"]


def test_report_since_filters_by_time(log_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit", "report", str(log_path), "--since", "2024-06-01T12:30:00", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == 1


def test_report_bad_since_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        run("audit", "report", "x.jsonl", "--since", "yesterday")
    assert exc.value.code == 2


def test_report_missing_file_exits_2(tmp_path: Path) -> None:
    assert run("audit", "report", str(tmp_path / "nope.jsonl")) == 2


# -- truncation and permissions ----------------------------------------------------------------


@pytest.fixture
def mirrored_log(
    tmp_path: Path, clock: FakeClock, signing_key: Ed25519PrivateKey
) -> tuple[Path, Path]:
    """Six records, checkpoints every two (lines 3, 6, 9), the newest mirrored."""
    mirror = CheckpointMirror(tmp_path / "audit.head")
    path = tmp_path / "mirrored.jsonl"
    with AuditLog(
        path, signing_key=signing_key, clock=clock.now, checkpoint_every=2, checkpoint_sink=mirror
    ) as log:
        for _ in range(6):
            log.write(record())
    return path, mirror.path


def test_verify_with_the_checkpoint_file_says_the_log_holds_it(
    mirrored_log: tuple[Path, Path], public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, head = mirrored_log
    key = str(public_key_file)
    code = run("audit", "verify", str(path), "--key", key, "--checkpoint", str(head))
    assert code == 0
    assert "holds the expected checkpoint at line 9" in capsys.readouterr().out


def test_verify_catches_a_cut_back_log_only_with_the_checkpoint_file(
    mirrored_log: tuple[Path, Path], public_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, head = mirrored_log
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:6]))
    assert run("audit", "verify", str(path), "--key", str(public_key_file)) == 0
    assert "not checked: lines cut off the end" in capsys.readouterr().out
    key = str(public_key_file)
    code = run("audit", "verify", str(path), "--key", key, "--checkpoint", str(head))
    assert code == 1
    assert capsys.readouterr().out.startswith("BROKEN at line 7: truncated")


def test_verify_with_a_missing_checkpoint_file_exits_2(
    log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("audit", "verify", str(log_path), "--checkpoint", str(tmp_path / "nope")) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


def test_verify_with_a_checkpoint_file_that_is_no_checkpoint_exits_2(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("audit", "verify", str(log_path), "--checkpoint", str(log_path)) == 2
    assert "is not a checkpoint" in capsys.readouterr().err


def test_verify_warns_about_a_log_others_may_write(
    log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path.chmod(0o664)
    assert run("audit", "verify", str(log_path)) == 0
    assert "warning: the audit log file is writable by its group" in capsys.readouterr().err
