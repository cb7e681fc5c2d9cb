"""Arguments are checked where they are given: typed errors at the call, never after a deadline.

Profile names are checked against what the camera reported at connect, so a
typo fails at once instead of after the stream's open deadline; event kinds
may be given as members or names; durations and ages are numbers in range;
the public entry points and models type-check strictly without plugins.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import camsdk
from camsdk import ConfigurationError, EventKind

pytestmark = pytest.mark.anyio

URL = "virtual://edges?size=160x120&fps=30&gop=15"


async def test_an_unknown_profile_is_refused_at_the_call() -> None:
    async with camsdk.open(URL) as cam:
        started = time.monotonic()
        with pytest.raises(ConfigurationError, match=r"unknown profile 'hd'.*main, sub"):
            cam.stream("hd")
        with pytest.raises(ConfigurationError, match="unknown profile"):
            await cam.snapshot(profile="hd")
        with pytest.raises(ConfigurationError, match="unknown profile"):
            await cam.record("/tmp/never.mp4", duration=1, profile="hd")
    # Well inside any open deadline: nothing was waited for.
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    "kinds",
    ["person", EventKind.PERSON, {"person", EventKind.VEHICLE}, ["motion"], ("doorbell",)],
)
async def test_event_kinds_may_be_members_or_names(kinds: Any) -> None:
    async with camsdk.open(URL) as cam, cam.events(kinds=kinds):
        pass


@pytest.mark.parametrize("kinds", ["dragon", {"person", "dragon"}, [1, 2], object()])
async def test_unknown_event_kinds_are_a_configuration_error(kinds: Any) -> None:
    async with camsdk.open(URL) as cam:
        with pytest.raises(ConfigurationError, match="EventKind"):
            cam.events(kinds=kinds)


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda cam: cam.snapshot(max_age=-1), "max_age"),
        (lambda cam: cam.snapshot(max_age="5"), "max_age"),
        (lambda cam: cam.record("/tmp/x.mp4", duration="5"), "duration"),
        (lambda cam: cam.record("/tmp/x.mp4", duration=0), "duration"),
        (lambda cam: cam.record("/tmp/x.mp4", duration=1, pre_roll=-1), "pre_roll"),
        (lambda cam: cam.snapshot(source="phone"), "source"),
    ],
)
async def test_bad_numbers_and_choices_are_refused_at_the_call(call: Any, problem: str) -> None:
    async with camsdk.open(URL) as cam:
        with pytest.raises(ConfigurationError, match=problem):
            await call(cam)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"min_score": 2}, "min_score"),
        ({"min_score": "high"}, "min_score"),
        ({"zones": "drive"}, "zones"),
    ],
)
async def test_event_filters_are_checked(kwargs: dict[str, Any], problem: str) -> None:
    async with camsdk.open(URL) as cam:
        with pytest.raises(ConfigurationError, match=problem):
            cam.events(**kwargs)


def test_a_misspelt_keyword_of_open_fails_the_type_checker_and_the_call(
    tmp_path: Path,
) -> None:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import camsdk

        config = camsdk.CameraConfig(prebuffer=2.5)
        event = camsdk.CameraEvent(kind=camsdk.EventKind.MOTION)
        cam = camsdk.open("virtual://x", credentials=camsdk.Credentials("u", "p"), fps=15)
        bad = camsdk.open("virtual://x", credentails=camsdk.Credentials("u", "p"))
    """))
    # Plain strict mypy, no pydantic plugin: what an integrator's CI runs.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--config-file", "/dev/null", str(script)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "credentails" in errors[0], result.stdout
    with pytest.raises(ConfigurationError, match="unknown option 'credentails'"):
        camsdk.open("virtual://x", credentails=camsdk.Credentials("u", "p"))  # type: ignore[arg-type]
