"""``camsdk record URL --continuous DIR``: records until Ctrl-C, then exits 0 with a summary."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from camsdk.cli import build_parser, main

from ._helpers import FAST, read_track

TIMEOUT = 60.0


def test_continuous_recording_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    url = f"virtual://cli-continuous?{FAST}&events=person:1s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "camsdk", "record", url, "--continuous", str(tmp_path),
         "--segment", "0.5", "--keep-days", "1", "--max-gb", "1",
         "--clips", "person", "--before", "0.5", "--after", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    timer = threading.Timer(TIMEOUT, proc.kill)  # a hung recorder fails the test, not the suite
    timer.start()
    try:
        assert proc.stderr is not None
        segments = 0
        for line in proc.stderr:  # ends early only if the process dies
            if line.startswith("segment "):
                segments += 1
                if segments == 3:
                    break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate()
    finally:
        timer.cancel()
    assert proc.returncode == 0, err
    [summary] = out.splitlines()
    assert summary.startswith("recorded ") and " segments " in summary and "0 gaps" in summary
    files = sorted(p for p in tmp_path.glob("*/*/*.mp4"))
    assert len(files) >= 4
    assert all(read_track(f).first_is_keyframe for f in files)
    assert not [p for p in tmp_path.rglob("*.part")]


def test_every_continuous_option_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    record = sub.choices["record"]
    options = [a for a in record._actions if a.option_strings and a.dest != "help"]
    names = {a.dest for a in options}
    assert {"continuous", "segment", "keep_days", "max_gb", "clips", "before", "after"} <= names
    assert all(a.help for a in options)


def test_an_unknown_clip_kind_is_a_usage_error(tmp_path: Path, capsys: object) -> None:
    code = main(["record", f"virtual://cli-badkind?{FAST}", "--continuous", str(tmp_path),
                 "--clips", "person,unicorn"])
    assert code == 2
    assert not os.listdir(tmp_path)
