"""``camsdk audit merge``: per-node logs verified, then joined in time order with their origin."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camsdk.cli import main
from camsdk.privacy import AuditLog, merge_audit_logs, verify_audit_log

START = datetime(2026, 1, 1, tzinfo=UTC)


def _write(path: Path, times: list[int], camera: str) -> None:
    """A log whose records are stamped ``START + t`` seconds, one per ``t``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = iter(START + timedelta(seconds=t) for t in times)
    log = AuditLog(path, checkpoint_every=0, clock=lambda: next(stamps))
    for index, _ in enumerate(times):
        log.write({"event": "access", "camera_id": camera, "n": index})
    log.close()


@pytest.fixture
def node_logs(tmp_path: Path) -> Path:
    _write(tmp_path / "audit" / "node-a" / "cam-1.jsonl", [1, 4, 6], "cam-1")
    _write(tmp_path / "audit" / "node-b" / "cam-2.jsonl", [2, 3, 5], "cam-2")
    return tmp_path / "audit"


def test_records_from_every_node_are_merged_in_time_order_with_their_origin(
    node_logs: Path,
) -> None:
    verdict, records = merge_audit_logs([node_logs])
    merged = list(records)
    assert verdict.ok and verdict.records == 6
    assert [r.fields["camera_id"] for r in merged] == ["cam-1", "cam-2", "cam-2", "cam-1",
                                                       "cam-2", "cam-1"]
    assert {r.origin for r in merged} == {"node-a/cam-1.jsonl", "node-b/cam-2.jsonl"}
    assert [r.seq for r in merged if r.origin.startswith("node-a")] == [1, 2, 3]


def test_the_merge_written_to_a_file_is_itself_a_verifiable_chain(
    node_logs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "merged.jsonl"
    verdict, _ = merge_audit_logs([node_logs], out)
    assert verdict.ok
    check = verify_audit_log(out)
    assert check.ok and check.records == 6
    first = json.loads(out.read_text().splitlines()[0])
    assert (first["origin"], first["origin_seq"]) == ("node-a/cam-1.jsonl", 1)


def test_a_broken_input_stops_the_merge(node_logs: Path, tmp_path: Path) -> None:
    victim = node_logs / "node-b" / "cam-2.jsonl"
    victim.write_text(victim.read_text().replace('"n":1', '"n":9'))
    out = tmp_path / "merged.jsonl"
    verdict, records = merge_audit_logs([node_logs], out)
    assert not verdict.ok and "cam-2.jsonl" in verdict.reason
    assert list(records) == [] and not out.exists()


def test_the_cli_merges_to_stdout_and_exits_1_on_a_broken_log(
    node_logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "merge", str(node_logs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["origin_ts"].startswith("2026-01-01T00:00:01")
    victim = node_logs / "node-a" / "cam-1.jsonl"
    victim.write_text(victim.read_text().splitlines()[0] + "\n" + "garbage\n")
    assert main(["audit", "merge", str(node_logs)]) == 1


def test_the_cli_refuses_to_overwrite_an_existing_output(node_logs: Path, tmp_path: Path) -> None:
    out = tmp_path / "merged.jsonl"
    out.write_text("")
    assert main(["audit", "merge", str(node_logs), "-o", str(out)]) == 2
