"""``camsdk bridge`` with a ``[nats]`` table: events of a virtual camera reach JetStream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from camsdk._errors import ConfigurationError
from camsdk.sinks import load_bridge_config, run_bridge_from_config
from camsdk.sinks._bridge import bridge_summary

from .nats_server import NatsServer

pytestmark = pytest.mark.anyio

WAIT = 30.0

NATS_ONLY = """
[nats]
servers = ["{url}"]
subject_prefix = "site"
ensure_stream = true
user = "bridge"
password_env = "TEST_BRIDGE_NATS_PW"

[[cameras]]
name = "porch"
url = "virtual://nats-porch?events=motion:200ms&fps=5&size=160x120"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return path


async def test_a_bridge_with_a_nats_table_delivers_camera_events_to_jetstream(
    make_nats_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nats = pytest.importorskip("nats", reason="the JetStream sink needs nats-py")
    server: NatsServer = make_nats_server(user="bridge", password="nats-pw-2468")
    monkeypatch.setenv("TEST_BRIDGE_NATS_PW", "nats-pw-2468")
    path = write(tmp_path, NATS_ONLY.format(url=server.url))
    nc = await nats.connect(server.url, user="bridge", password="nats-pw-2468",
                            allow_reconnect=False)  # fmt: skip
    try:
        sub = await nc.subscribe("site.>")
        stop = asyncio.Event()
        bridge = asyncio.create_task(run_bridge_from_config(path, stop=stop))
        try:
            msg = await sub.next_msg(timeout=WAIT)
        finally:
            stop.set()
            await asyncio.wait_for(bridge, WAIT)
        stored = await nc.jetstream().stream_info("SITE")
    finally:
        await nc.close()
    assert msg.subject.startswith("site.") and msg.subject.endswith(".motion")
    body = json.loads(msg.data)
    assert body["kind"] == "motion" and body["event_id"]
    assert msg.headers["Nats-Msg-Id"].endswith(":start")
    assert stored.state.messages >= 1


def test_the_summary_names_the_nats_servers_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_bridge_config(write(tmp_path, NATS_ONLY.format(url="nats://127.0.0.1:4222")))
    text = bridge_summary(config)
    assert "nats       nats://127.0.0.1:4222," in text and "with a password" in text
    assert "site.<camera>.<kind>" in text and "broker" not in text


def test_a_password_written_in_the_nats_table_is_refused(tmp_path: Path) -> None:
    text = NATS_ONLY.format(url="nats://127.0.0.1:4222").replace(
        'password_env = "TEST_BRIDGE_NATS_PW"', 'password = "plain"')
    with pytest.raises(ConfigurationError, match="environment variables"):
        load_bridge_config(write(tmp_path, text))


def test_a_config_without_broker_or_nats_is_refused(tmp_path: Path) -> None:
    text = '[[cameras]]\nname = "a"\nurl = "virtual://a"\n'
    with pytest.raises(ConfigurationError, match=r"\[broker\].*\[nats\]"):
        load_bridge_config(write(tmp_path, text))


def test_two_logins_in_the_nats_table_are_refused(tmp_path: Path) -> None:
    text = NATS_ONLY.format(url="nats://127.0.0.1:4222").replace(
        'user = "bridge"', 'user = "bridge"\ntoken_env = "T"')
    with pytest.raises(ConfigurationError, match="one of"):
        load_bridge_config(write(tmp_path, text))
