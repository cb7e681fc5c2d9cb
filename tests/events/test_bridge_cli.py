"""``camsdk bridge`` as people run it: the start summary, verbosity, and help on every option."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from camsdk.cli import build_parser, log_levels
from camsdk.sinks._bridge import bridge_summary, load_bridge_config
from camsdk.testing import closed_port

from ._fakes import Listener
from .conftest import ROOT, needs_mosquitto

pytestmark = pytest.mark.anyio

BROKER_SECRET = "broker-s3cret-pw"

CONFIG = """
[broker]
hostname = "127.0.0.1"
port = {port}
username = "bridge"
password_env = "TEST_CLI_BROKER_PW"
client_id = "cli-test"
prefix = "{prefix}"
discovery_prefix = "{prefix}_ha"
publish_snapshots = false

[[cameras]]
name = "Front Door"
url = "virtual://cli-front?fps=5&size=160x120"
hub = "NVR Garage"

[[cameras]]
name = "Garden"
# Nothing listens there: the bridge keeps retrying it, offline.
url = "rtsp://viewer:hunter2@127.0.0.1:{closed}/stream1"
allow = ["events.subscribe", "snapshot", "ptz"]
"""


def parsers(parser: argparse.ArgumentParser, path: str = "camsdk") -> list[tuple[str, Any]]:
    """Every parser under ``parser`` with its command path."""
    found: list[tuple[str, Any]] = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += parsers(sub, f"{path} {name}")
    return found


def test_every_cli_option_and_subcommand_has_help_text() -> None:
    missing = []
    for path, parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not choice.help:
                        missing.append(f"{path} {choice.dest}")
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    assert len(parsers(build_parser())) >= 8  # the walk reached the subcommands


@pytest.mark.parametrize(
    ("verbose", "quiet", "levels"),
    [
        (0, False, (logging.WARNING, logging.WARNING)),
        (1, False, (logging.INFO, logging.WARNING)),
        (2, False, (logging.DEBUG, logging.WARNING)),
        (3, False, (logging.DEBUG, logging.DEBUG)),
        (5, False, (logging.DEBUG, logging.DEBUG)),
        (0, True, (logging.ERROR, logging.ERROR)),
    ],
)
def test_verbosity_raises_camsdk_logs_before_other_libraries(
    verbose: int, quiet: bool, levels: tuple[int, int]
) -> None:
    assert log_levels(verbose, quiet) == levels  # (camsdk loggers, everything else)


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["bridge", "c.toml"], 0),
        (["-v", "bridge", "c.toml"], 1),
        (["bridge", "c.toml", "-vv"], 2),
        (["-v", "bridge", "c.toml", "--verbose", "-v"], 2),
    ],
)
def test_verbosity_flags_go_before_or_after_the_subcommand(argv: list[str], verbose: int) -> None:
    assert build_parser().parse_args(argv).verbose == verbose


def test_start_summary_names_broker_cameras_and_shard_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CLI_BROKER_PW", BROKER_SECRET)
    path = tmp_path / "bridge.toml"
    path.write_text(CONFIG.format(port=18830, prefix="home", closed=closed_port()))
    summary = bridge_summary(load_bridge_config(path), source=path)
    assert "127.0.0.1:18830" in summary and "TLS off" in summary
    assert "client id cli-test" in summary
    assert "home/<camera>" in summary and "under home_ha/" in summary
    assert "all 2 cameras" in summary
    assert "front_door" in summary and "'Front Door' via NVR Garage" in summary
    assert "garden" in summary and "rtsp://" in summary and "@127.0.0.1:" in summary
    assert "hunter2" not in summary and BROKER_SECRET not in summary
    assert len(summary.splitlines()) <= 12  # one screen
    shard = bridge_summary(load_bridge_config(path), shard=(0, 1))
    assert "shard      0/1: 2 of 2 cameras" in shard


@needs_mosquitto
@pytest.mark.external
@pytest.mark.parametrize(
    ("flags", "must", "must_not"),
    [
        ([], [], ["INFO ", "DEBUG "]),
        (["-v"], ["INFO camsdk.sinks.mqtt: MQTT session of front_door up"], ["DEBUG "]),
        (
            ["-vv"],
            ["DEBUG camsdk.sinks.mqtt: MQTT ptz/set on front_door"],
            ["DEBUG camsdk.sinks.mqtt.client"],
        ),
        (["-vvv"], ["DEBUG camsdk.sinks.mqtt.client: Sending CONNECT"], []),
    ],
)
async def test_camsdk_bridge_prints_its_summary_once_and_logs_by_verbosity(
    tmp_path: Path,
    mosquitto: Any,
    topic_prefix: str,
    flags: list[str],
    must: list[str],
    must_not: list[str],
) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(CONFIG.format(port=mosquitto.port, prefix=topic_prefix, closed=closed_port()))
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    env = {**os.environ, "TEST_CLI_BROKER_PW": BROKER_SECRET, "PYTHONPATH": str(ROOT)}
    base = f"{topic_prefix}/front_door"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "camsdk", "bridge", str(config), *flags],
            stdout=stdout, stderr=stderr, env=env, cwd=ROOT,
        )  # fmt: skip
    try:
        async with Listener(mosquitto.port, f"{base}/availability", f"{base}/error") as sub:
            with anyio.fail_after(30):
                await sub.wait_payload(f"{base}/availability", b"online")
                # A command, so that -vv has a camsdk debug line to show.
                await sub.client.publish(f"{base}/ptz/set", b"{}", qos=1)
                await sub.wait_for(f"{base}/error")
                child.send_signal(signal.SIGINT)
                code = await anyio.to_thread.run_sync(child.wait)
                await sub.wait_payload(f"{base}/availability", b"offline")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    stdout_text, stderr_text = out.read_text(), err.read_text()
    assert code == 0, stderr_text
    assert stdout_text.count("bridge from") == 1  # the summary, once
    assert f"127.0.0.1:{mosquitto.port}, TLS off" in stdout_text
    assert "2 cameras" in stdout_text and "'Garden'" in stdout_text
    for text in must:
        assert text in stderr_text
    for text in must_not:
        assert text not in stderr_text
    for secret in (BROKER_SECRET, "hunter2"):
        assert secret not in stdout_text and secret not in stderr_text


async def test_a_camera_that_keeps_failing_warns_once_then_logs_retries_at_info(
    topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    from camsdk._access import Action
    from camsdk.sinks.mqtt import MqttBridge

    from ._fakes import FakeCamera
    from .conftest import launcher

    caplog.set_level(logging.INFO, logger="camsdk")
    cam = FakeCamera("deaf", denied={Action.EVENTS_SUBSCRIBE})
    bridge = MqttBridge(
        [cam], hostname="127.0.0.1", port=launcher.free_port(), prefix=topic_prefix,
        publish_snapshots=False, backoff_base=0.001, backoff_cap=0.002,
    )  # fmt: skip
    try:
        async with bridge:
            with anyio.fail_after(10):
                for _ in range(4):  # four subscription attempts, all refused
                    cam.events_called.clear()
                    await cam.events_called.wait()
    finally:
        await cam.aclose()
    lines = [r for r in caplog.records if r.getMessage().startswith("events of deaf")]
    assert [r.levelno for r in lines[:3]] == [logging.WARNING, logging.INFO, logging.INFO]
