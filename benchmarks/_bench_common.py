"""What several benchmarks share: running a measurement in a fresh interpreter, and the
closing lines of a report. Not a benchmark itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def json_worker(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run ``python *argv`` (camsdk from this checkout) and read its last stdout JSON line.

    A fresh interpreter per measurement keeps one method's CPU time and RSS out
    of another's figures. A timeout, a failed exit or no JSON line comes back as
    ``{"error": ...}``.
    """
    try:
        out = subprocess.run(
            [sys.executable, *argv],
            capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    rows = [r for r in out.stdout.splitlines() if r.startswith("{")]
    if out.returncode != 0 or not rows:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {out.returncode}: {tail[:200]}"}
    result: dict[str, Any] = json.loads(rows[-1])
    return result


def finish_report(report: dict[str, Any], started: float, json_path: Path | None) -> None:
    """Note the load after the run (the machine may be shared), print the total time,
    and write ``report`` to ``json_path`` when given."""
    report["machine"]["load_after"] = os.getloadavg()
    print(f"\ntotal {time.monotonic() - started:.0f} s; load average now "
          f"{os.getloadavg()[0]:.2f}")
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
