"""The four integrator apps of docs/guides/apps.md run, against simulated cameras.

The apps live in ``docs/examples/`` as complete programs, written against
camsdk's public names only (checked here by walking their source) and
type-checked with ``mypy --strict`` by the test command (``docs/examples``
is in mypy's files, checked here too). Each is run with a bounded
``--duration`` against ``virtual://`` cameras: the doorbell notifier posts
to a loopback receiver, the recorder writes real MP4 segments, the
analytics loop tells a still scene from a moving one, and the bridge config
runs under ``camsdk bridge`` against a real mosquitto.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import av
import pytest

from camsdk.sinks import load_bridge_config
from camsdk.testing import HttpDevice, Request, Response
from tests.events._fakes import Listener
from tests.events._ha_schema import ha_config_problems
from tests.events.conftest import needs_mosquitto

from ._public_names import private_camsdk_names

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
APPS = ("doorbell_notifier", "four_camera_recorder", "analytics_loop")


def app(name: str) -> ModuleType:
    """Import ``docs/examples/<name>.py`` the way a user runs it."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)


@pytest.mark.parametrize("name", [*APPS, "acme_driver"])
def test_app_uses_public_camsdk_names_only(name: str) -> None:
    source = (EXAMPLES / f"{name}.py").read_text()
    assert private_camsdk_names(source) == []


def test_apps_are_type_checked_strictly_with_the_package() -> None:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert "docs/examples" in mypy["files"] and mypy["strict"] is True


def test_the_apps_page_is_in_the_nav_and_the_readme() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    assert "guides/apps.md" in nav
    assert "docs/guides/apps.md" in (ROOT / "README.md").read_text()
    page = (ROOT / "docs" / "guides" / "apps.md").read_text()
    for name in [*APPS, "bridge"]:
        assert f"docs/examples/{name}." in page


async def test_doorbell_notifier_posts_each_press_with_its_picture(tmp_path: Path) -> None:
    notifier = app("doorbell_notifier")
    received: list[Request] = []

    async def receive(request: Request) -> Response:
        received.append(request)
        return Response(200, b"ok")

    async with HttpDevice() as receiver:
        receiver.route("POST", "/door", receive)
        args = notifier.parse_args([
            "virtual://apps-door?events=doorbell:1s&size=320x240",
            "--notify-url", f"{receiver.url}/door", "--save-dir", str(tmp_path / "presses"),
            "--duration", "5",
        ])  # fmt: skip
        with anyio.fail_after(30):
            sent = await notifier.run(args)
    assert sent >= 1 and len(received) == sent  # one notification per press
    for request in received:
        assert request.headers["title"] == "Someone rang"
        assert request.headers["content-type"] == "image/jpeg"
        assert request.body.startswith(b"\xff\xd8")  # the picture of the moment
    pictures = sorted((tmp_path / "presses").glob("*.jpg"))
    assert len(pictures) == sent
    assert all(p.read_bytes().startswith(b"\xff\xd8") for p in pictures)


async def test_four_camera_recorder_writes_back_to_back_segments_per_camera(
    tmp_path: Path,
) -> None:
    recorder = app("four_camera_recorder")
    urls = [f"virtual://apps-rec-{n}?size=160x120&fps=10&gop=5" for n in range(4)]
    urls[0] += "&events=doorbell:1s"  # the front door: a clip around each press
    args = recorder.parse_args([
        *urls, "--out", str(tmp_path), "--segment", "1", "--keep-days", "7",
        "--clips", "doorbell", "--duration", "3.5",
    ])  # fmt: skip
    with anyio.fail_after(40):
        written = await recorder.run(args)
    assert sorted(written) == sorted(urls)
    for url, segments in written.items():
        assert len(segments) >= 2, url  # continuous, not one clip
        assert segments[0].after_gap and not any(s.after_gap for s in segments[1:])
        for before, after in itertools.pairwise(segments):
            assert before.end_pts == after.start_pts  # no gap, no overlap
        for segment in segments:
            with av.open(str(segment.path)) as clip:
                packets = [p for p in clip.demux(video=0) if p.size]
            assert packets and packets[0].is_keyframe, segment.path
    clips = list(tmp_path.glob("*/clips/*/*-doorbell.mp4"))
    assert clips  # the doorbell camera's presses, each with its own clip


async def test_analytics_loop_tells_a_moving_scene_from_a_still_one() -> None:
    analytics = app("analytics_loop")
    measured: list[Any] = []
    still = "virtual://apps-still?scene=still&size=320x240&fps=10"
    moving = still.replace("apps-still", "apps-moving") + "&loop_seconds=4&motion=0s-4s@0,0,1,1"
    with anyio.fail_after(30):
        calm, busy = await analytics.analyse_all(
            [still, moving], fps=5, duration=4.0, report=measured.append
        )
    assert calm.frames >= 5 and busy.frames >= 5
    assert {m.camera for m in measured} == {"apps-still", "apps-moving"}
    assert all(0 < m.brightness < 255 for m in measured)
    assert calm.peak_motion < 0.001 < 0.005 < busy.peak_motion


def bridge_config_for_test(port: int, prefix: str) -> str:
    """docs/examples/bridge.toml with this test's broker port and topic prefixes.

    The doorbell rings every second rather than every 30 (HA's doorbell
    entity is announced at the first press).
    """
    text = (EXAMPLES / "bridge.toml").read_text()
    replacements = {
        r'^port = 1883': f"port = {port}",
        r'^prefix = "camsdk"': f'prefix = "{prefix}"',
        r'^discovery_prefix = "homeassistant"': f'discovery_prefix = "{prefix}_ha"',
        r'events=doorbell:30s': "events=doorbell:1s",
    }
    for pattern, value in replacements.items():
        text, count = re.subn(pattern, value, text, count=1, flags=re.MULTILINE)
        assert count == 1, pattern
    return text


@needs_mosquitto
@pytest.mark.external
async def test_bridge_config_runs_under_camsdk_bridge_with_home_assistant_switches(
    tmp_path: Path, mosquitto: Any, topic_prefix: str
) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(bridge_config_for_test(mosquitto.port, topic_prefix))
    example = load_bridge_config(EXAMPLES / "bridge.toml")
    tested = load_bridge_config(config)
    assert [(c.name, c.allow) for c in tested.cameras] == [
        (c.name, c.allow) for c in example.cameras
    ]
    ha = f"{topic_prefix}_ha"
    wanted = {
        f"{ha}/event/camsdk_front_door/doorbell/config": "event",
        f"{ha}/switch/camsdk_garden/software_motion/config": "switch",
        f"{ha}/switch/camsdk_garage/privacy_mode/config": "switch",
        f"{ha}/image/camsdk_garage/snapshot/config": "image",
    }
    garage = f"{topic_prefix}/garage"
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with out.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "camsdk", "bridge", str(config)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
    configs: dict[str, dict[str, Any]] = {}
    try:
        async with Listener(mosquitto.port, f"{ha}/#", f"{garage}/privacy_mode") as sub:
            with anyio.fail_after(40):
                while not wanted.keys() <= configs.keys():
                    message = await sub.wait_for_any()
                    if message.topic.value.endswith("/config") and message.payload:
                        configs[message.topic.value] = json.loads(message.payload)
                state = f"{garage}/privacy_mode"
                if not any(m.topic.value == state and m.payload == b"OFF" for m in sub.received):
                    await sub.wait_payload(state, b"OFF")  # the lens is uncovered at start
                await sub.client.publish(f"{garage}/privacy_mode/set", b"ON", qos=1)
                await sub.wait_payload(f"{garage}/privacy_mode", b"ON")
                child.send_signal(signal.SIGINT)
                code = await anyio.to_thread.run_sync(child.wait)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code == 0, out.read_text()
    # The switch was the owner-granted "config" action, in the config's audit log.
    records = [
        json.loads(line)
        for line in (tmp_path / "camsdk-bridge-audit.jsonl").read_text().splitlines()
    ]
    switched = [r for r in records if r.get("action") == "config"]
    assert [(r["principal"], r["allowed"]) for r in switched] == [("mqtt:camsdk-bridge", True)]
    assert any(r.get("event") == "privacy_mode" and r.get("on") is True for r in records)
    for topic, component in wanted.items():
        assert ha_config_problems(component, configs[topic]) == [], topic
    # Only the camera whose allow list has "config" offers the privacy switch.
    assert not any(t.endswith("/privacy_mode/config") and "garage" not in t for t in configs)


def test_the_public_names_walker_catches_private_names() -> None:
    source = """
import camsdk
import camsdk._camera
from camsdk.sinks._bridge import run_bridge
from camsdk import _log
from camsdk.sinks import mqtt as m

def f(frame, cam):
    camsdk._models.CameraInfo
    m._client_logger
    return frame._frame, cam.info.name, camsdk.__version__
"""
    found = private_camsdk_names(source)
    assert found == [
        "line 3: import camsdk._camera",
        "line 4: from camsdk.sinks._bridge import run_bridge",
        "line 5: from camsdk import _log",
        "line 9: camsdk._models",
        "line 10: m._client_logger",
        "line 11: frame._frame",
    ]
    assert ast.parse(source)  # the sample itself is valid Python
