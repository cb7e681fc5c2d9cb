"""The audit log: chained, tamper-evident, resumable, secret-free; sinks; the report."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camsdk._access import AuditSink
from camsdk.privacy import (
    AuditLog,
    AuditLogError,
    CallbackAuditSink,
    FailOpenSink,
    JsonlAuditSink,
    LoggerAuditSink,
    MemoryAuditSink,
    audit_report,
    generate_signing_key,
    sanitize_record,
    verify_audit_log,
)
from camsdk.privacy._audit import GENESIS
from camsdk.privacy._audit._format import seal

from ._helpers import T0, FakeClock

CANARY = "Canary-pw-7f3e"


def access(i: int = 0, **extra: Any) -> dict[str, Any]:
    record = {
        "event": "access",
        "principal": "neighbour",
        "camera_id": "porch",
        "camera_url": "rtsp://admin:***@porch.local/s",
        "action": "snapshot",
        "purpose": "security",
        "allowed": True,
        "reason": "grant g1",
        "grant_id": "g1",
        "n": i,
    }
    record.update(extra)
    return record


def write_log(path: Path, count: int, **kwargs: Any) -> None:
    with AuditLog(path, **kwargs) as log:
        for i in range(count):
            log.write(access(i))


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def reseal(line: bytes, **changes: Any) -> bytes:
    """What a forger with the file (but not the key) can do: change fields, recompute the hash."""
    fields = json.loads(line)
    head = [fields.pop(k) for k in ("seq", "ts", "prev", "hash")][:3]
    fields.update(changes)
    return seal(*head, fields) + b"\n"


# -- shape of the log ----------------------------------------------------------------------


def test_audit_log_is_an_audit_sink(tmp_path: Path) -> None:
    assert isinstance(AuditLog(tmp_path / "a.jsonl"), AuditSink)
    assert JsonlAuditSink is AuditLog


def test_constructor_does_no_io(tmp_path: Path) -> None:
    AuditLog(tmp_path / "a.jsonl")
    assert not (tmp_path / "a.jsonl").exists()


def test_each_line_has_seq_ts_prev_and_hash(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 2, clock=clock.now)
    first, second = (json.loads(line) for line in lines_of(path))
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["ts"] == "2024-06-01T12:00:00.000000Z"
    assert first["prev"] == GENESIS
    assert second["prev"] == hashlib.sha256(lines_of(path)[0].rstrip(b"\n")).hexdigest()


def test_line_is_chain_header_then_sorted_fields_then_hash_of_the_rest(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path, clock=clock.now) as log:
        log.write({"b": 1, "a": "x"})
    line = lines_of(path)[0].rstrip(b"\n")
    body = b'{"seq":1,"ts":"2024-06-01T12:00:00.000000Z","prev":"%s","a":"x","b":1}' % (
        GENESIS.encode()
    )
    digest = hashlib.sha256(body).hexdigest().encode()
    assert line == body[:-1] + b',"hash":"' + digest + b'"}'


def test_intact_log_verifies(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 25)
    result = verify_audit_log(path)
    assert result.ok and result.records == 25 and result.first_broken_line is None


def test_empty_log_verifies(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"")
    assert verify_audit_log(path).ok


# -- tampering ----------------------------------------------------------------------------------


def tampered(path: Path, edit: Any) -> Path:
    lines = lines_of(path)
    edit(lines)
    path.write_bytes(b"".join(lines))
    return path


def test_edited_field_is_caught_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 10)

    def deny_to_allow(lines: list[bytes]) -> None:
        lines[4] = lines[4].replace(b'"purpose":"security"', b'"purpose":"securitx"')

    result = verify_audit_log(tampered(path, deny_to_allow))
    assert not result.ok
    assert result.first_broken_line == 5
    assert "hash mismatch" in result.reason
    assert result.records == 4


def test_edit_with_recomputed_hash_is_caught_at_the_next_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 10)

    def rehash(lines: list[bytes]) -> None:
        lines[4] = reseal(lines[4], allowed=False)

    result = verify_audit_log(tampered(path, rehash))
    assert result.first_broken_line == 6
    assert "prev mismatch" in result.reason


def test_deleted_line_is_caught_where_it_was(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 10)
    result = verify_audit_log(tampered(path, lambda lines: lines.pop(3)))
    assert result.first_broken_line == 4
    assert "prev mismatch" in result.reason


def test_deleted_first_line_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3)
    assert verify_audit_log(tampered(path, lambda lines: lines.pop(0))).first_broken_line == 1


def test_reordered_lines_are_caught_at_the_first_moved_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 10)

    def swap(lines: list[bytes]) -> None:
        lines[6], lines[7] = lines[7], lines[6]

    assert verify_audit_log(tampered(path, swap)).first_broken_line == 7


def test_line_truncated_mid_way_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    result = verify_audit_log(path)
    assert result.first_broken_line == 10
    assert "truncated" in result.reason
    assert result.records == 9


def test_inserted_line_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 5)
    result = verify_audit_log(tampered(path, lambda lines: lines.insert(2, lines[1])))
    assert result.first_broken_line == 3


def test_garbage_line_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3)
    result = verify_audit_log(tampered(path, lambda lines: lines.insert(1, b"hello\n")))
    assert result.first_broken_line == 2
    assert "malformed" in result.reason


# -- checkpoints ----------------------------------------------------------------------------------


def checkpoints_of(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = [(n, json.loads(line)) for n, line in enumerate(lines_of(path), 1)]
    return [(n, f) for n, f in rows if f.get("type") == "checkpoint"]


def test_checkpoint_is_written_every_n_records(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 7, checkpoint_every=3)
    assert [n for n, _ in checkpoints_of(path)] == [4, 8]


def test_signed_checkpoints_verify_with_the_public_key(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 7, checkpoint_every=3, signing_key=signing_key)
    result = verify_audit_log(path, signing_key.public_key())
    assert result.ok
    assert result.checkpoints == 3  # two periodic, one on close
    assert result.signed_through == result.lines == 10


def test_close_signs_the_tail(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 2, signing_key=signing_key)
    ((last_line, fields),) = checkpoints_of(path)
    assert last_line == 3 and fields["signature"]


def test_checkpoint_signed_by_another_key_is_rejected(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3, checkpoint_every=2, signing_key=generate_signing_key())
    result = verify_audit_log(path, signing_key.public_key())
    assert not result.ok
    assert result.first_broken_line == 3
    assert "another key" in result.reason


def test_forged_checkpoint_is_caught(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    # An attacker rewrites the whole log, chain included, with an honest-looking checkpoint.
    path = tmp_path / "a.jsonl"
    write_log(path, 4, checkpoint_every=2, signing_key=signing_key)
    lines = lines_of(path)
    signature = json.loads(lines[2])["signature"]
    other = "A" if signature[10] != "A" else "B"
    lines[2] = reseal(lines[2], signature=signature[:10] + other + signature[11:])
    path.write_bytes(b"".join(lines[:3]))
    result = verify_audit_log(path, signing_key.public_key())
    assert not result.ok
    assert result.first_broken_line == 3
    assert "forged" in result.reason


def test_unsigned_checkpoint_fails_when_a_key_is_given(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 2, checkpoint_every=1)
    result = verify_audit_log(path, signing_key.public_key())
    assert result.first_broken_line == 2
    assert "not signed" in result.reason


def test_log_without_any_checkpoint_is_not_authenticated(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3, checkpoint_every=0)
    result = verify_audit_log(path, signing_key.public_key())
    assert not result.ok
    assert "no signed checkpoint" in result.reason


def test_records_after_the_last_checkpoint_are_reported(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, signing_key=signing_key, checkpoint_every=2)
    for i in range(3):
        log.write(access(i))
    result = verify_audit_log(path, signing_key.public_key())
    log.close()
    assert result.ok
    assert result.signed_through == 3
    assert "1 line(s) after the last signed checkpoint" in result.reason


def test_audit_log_verify_uses_its_own_key(tmp_path: Path, signing_key: Ed25519PrivateKey) -> None:
    log = AuditLog(tmp_path / "a.jsonl", signing_key=signing_key)
    log.write(access())
    log.checkpoint()
    assert log.verify().signed_through == 2
    log.close()


# -- reopening ------------------------------------------------------------------------------------


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3)
    write_log(path, 2)
    result = verify_audit_log(path)
    assert result.ok and result.records == 5
    assert json.loads(lines_of(path)[-1])["seq"] == 5


def test_reopening_a_log_with_a_torn_last_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(AuditLogError, match="incomplete line"):
        AuditLog(path).write(access())


def test_reopening_a_log_with_an_altered_last_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3)
    path.write_bytes(path.read_bytes().replace(b'"n":2', b'"n":9'))
    with pytest.raises(AuditLogError, match="damaged"):
        AuditLog(path).write(access())


def test_second_writer_on_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as first:
        first.write(access())
        with pytest.raises(AuditLogError, match="another writer"):
            AuditLog(path).write(access())


def test_unwritable_location_is_an_audit_log_error(tmp_path: Path) -> None:
    with pytest.raises(AuditLogError, match="cannot be opened"):
        AuditLog(tmp_path / "missing-dir" / "a.jsonl").write(access())


def test_closed_log_refuses_writes(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    log.close()
    with pytest.raises(AuditLogError, match="closed"):
        log.write(access())


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path, checkpoint_every=50)

    def write_many(thread: int) -> None:
        for i in range(200):
            log.write(access(i, thread=thread))

    threads = [threading.Thread(target=write_many, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    result = verify_audit_log(path)
    assert result.ok and result.records == 800


def test_fsync_mode_writes_a_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 3, fsync=True)
    assert verify_audit_log(path).ok


# -- no secrets, no media ---------------------------------------------------------------------


def test_password_in_a_url_is_redacted_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.write(access(camera_url=f"rtsp://admin:{CANARY}@porch.local/s"))
        log.write(access(reason=f"failed to open rtsp://admin:{CANARY}@porch.local/s?x=1"))
    assert CANARY not in path.read_text()
    assert "rtsp://admin:***@porch.local/s" in path.read_text()


def test_secret_query_values_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.write(access(camera_url=f"https://cam.local/snap.jpg?user=a&token={CANARY}"))
    assert CANARY not in path.read_text()


@pytest.mark.parametrize("field", ["password", "api_key", "session_token", "client_secret"])
def test_fields_named_like_secrets_are_masked(tmp_path: Path, field: str) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        log.write(access(**{field: CANARY, "nested": {field: CANARY}}))
    assert CANARY not in path.read_text()
    fields = json.loads(lines_of(path)[0])
    assert fields[field] == "***" and fields["nested"][field] == "***"


def test_binary_values_are_refused() -> None:
    with pytest.raises(TypeError, match="binary"):
        sanitize_record(access(jpeg=b"\xff\xd8\xff"))


def test_reserved_fields_cannot_be_set_by_a_record() -> None:
    with pytest.raises(ValueError, match="seq"):
        sanitize_record(access(seq=1))


def test_record_cannot_pose_as_a_checkpoint() -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        sanitize_record(access(type="checkpoint"))


def test_unknown_value_types_are_refused() -> None:
    with pytest.raises(TypeError):
        sanitize_record(access(obj=object()))


def test_refused_record_leaves_the_log_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    with pytest.raises(TypeError):
        log.write(access(frame=b"\x00" * 10))
    log.write(access())
    log.close()
    assert verify_audit_log(path).records == 1


# -- other sinks ----------------------------------------------------------------------------------


def test_memory_sink_keeps_sanitised_records() -> None:
    sink = MemoryAuditSink()
    sink.write(access(camera_url=f"rtsp://a:{CANARY}@h/"))
    assert sink.records[0]["camera_url"] == "rtsp://a:***@h/"


def test_callback_sink_passes_sanitised_records() -> None:
    got: list[Mapping[str, Any]] = []
    CallbackAuditSink(got.append).write(access(password=CANARY))
    assert got[0]["password"] == "***"


def test_callback_sink_failure_propagates() -> None:
    def fail(record: Mapping[str, Any]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        CallbackAuditSink(fail).write(access())


def test_logger_sink_logs_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="test.audit"):
        LoggerAuditSink("test.audit").write(access(password=CANARY))
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("audit {") and CANARY not in message


def test_fail_open_sink_logs_and_swallows_failures(caplog: pytest.LogCaptureFixture) -> None:
    def fail(record: Mapping[str, Any]) -> None:
        raise OSError(f"cannot write rtsp://a:{CANARY}@h/")

    sink = FailOpenSink(CallbackAuditSink(fail))
    with caplog.at_level(logging.ERROR):
        sink.write(access())
    assert sink.failures == 1
    assert "audit record LOST" in caplog.text and CANARY not in caplog.text


# -- report ---------------------------------------------------------------------------------------


def test_report_counts_who_accessed_what_and_how_much(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path, clock=clock.now) as log:
        log.write(access())
        log.write(access(allowed=False, reason="no grant", action="ptz", purpose="curiosity"))
        log.write(access(principal="installer", camera_id="garden"))
        log.write(
            {
                "event": "egress.end",
                "principal": "neighbour",
                "camera_id": "porch",
                "action": "frames",
                "grant_id": "g1",
                "frames": 150,
                "bytes": 0,
                "duration": 10.0,
            }
        )
        log.write({"event": "tls.insecure", "camera_id": "garden"})
    report = audit_report(path)
    assert (report.records, report.allowed, report.denied) == (5, 2, 1)
    assert report.events["tls.insecure"] == 1
    installer, neighbour = report.entries
    assert (installer.principal, installer.camera_id, installer.allowed) == (
        "installer",
        "garden",
        1,
    )
    assert (neighbour.allowed, neighbour.denied) == (1, 1)
    assert neighbour.purposes == {"security": 1, "curiosity": 1}
    assert (neighbour.frames, neighbour.duration) == (150, 10.0)
    assert neighbour.grant_ids == {"g1"}


def test_report_filters_by_time_and_principal(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "a.jsonl"
    with AuditLog(path, clock=clock.now) as log:
        log.write(access(principal="early"))
        clock.advance(3600)
        log.write(access(principal="late"))
        log.write(access(principal="other"))
    since = audit_report(path, since=T0 + timedelta(minutes=30))
    assert [e.principal for e in since.entries] == ["late", "other"]
    only = audit_report(path, principal="late")
    assert [e.principal for e in only.entries] == ["late"]


def test_report_skips_checkpoints_and_counts_unreadable_lines(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "a.jsonl"
    write_log(path, 2, checkpoint_every=1, signing_key=signing_key)
    with path.open("ab") as fh:
        fh.write(b"{broken\n")
    report = audit_report(path)
    assert report.records == 2 and report.unreadable_lines == 1
