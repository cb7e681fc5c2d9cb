"""The camsdk command: clear output, exit codes, no secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import pytest

from camsdk.cli import main

FAST = "size=160x120&fps=30&gop=15"


def test_drivers_lists_virtual_with_capabilities(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drivers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["virtual"]["available"] is True
    assert {"snapshot", "stream", "ptz"} <= set(data["virtual"]["capabilities"])


def test_info_prints_the_camera_identity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", f"virtual://cli-info?{FAST}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["vendor"] == "camsdk"
    assert "snapshot" in data["capabilities"]


def test_snapshot_writes_a_jpeg(tmp_path: Path) -> None:
    target = tmp_path / "s.jpg"
    assert main(["snapshot", f"virtual://cli-snap?{FAST}", "-o", str(target)]) == 0
    assert target.read_bytes()[:2] == b"\xff\xd8"


def test_record_writes_a_playable_clip(tmp_path: Path) -> None:
    target = tmp_path / "c.mp4"
    url = f"virtual://cli-rec?{FAST}"
    assert main(["record", url, "-o", str(target), "--duration", "0.5"]) == 0
    with av.open(str(target)) as container:
        assert sum(1 for _ in container.decode(video=0)) >= 10


def test_events_prints_json_lines_until_the_duration_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"virtual://cli-ev?{FAST}&events=motion:200ms"
    assert main(["events", url, "--json", "--duration", "0.7"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert lines and lines[0]["kind"] == "motion"


def test_bad_url_exits_2_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "virtual://x?nonsense=1"]) == 2
    assert "unknown option 'nonsense'" in capsys.readouterr().err


def test_camera_errors_exit_1_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMSDK_PASSWORD", "cli-canary-991")
    code = main(["info", f"virtual://u:cli-canary-991@cli-auth?{FAST}&fail=auth", "--user", "u"])
    assert code == 1
    captured = capsys.readouterr()
    assert "AuthenticationError" in captured.err
    assert "cli-canary-991" not in captured.out + captured.err


def test_demo_runs_and_saves_its_files(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "camsdk", "demo", "--seconds", "1", "--out", str(tmp_path),
         "--url", f"virtual://cli-demo?{FAST}&events=motion:300ms"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "snapshot:" in out.stdout and "clip:" in out.stdout
    assert (tmp_path / "snapshot.jpg").exists() and (tmp_path / "clip.mp4").exists()
