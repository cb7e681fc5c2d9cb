"""``camsdk bridge CONFIG.toml``: config, sharding, policy, and runs on virtual cameras."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from camsdk._access import AccessRequest, Action, Principal
from camsdk._errors import ConfigurationError
from camsdk.sinks._bridge import (
    ActionPolicy,
    add_bridge_command,
    load_bridge_config,
    parse_shard,
    run_bridge_from_config,
    shard_of,
)

from ._fakes import Listener
from .conftest import needs_mosquitto

pytestmark = pytest.mark.anyio

GOOD = """
[broker]
hostname = "127.0.0.1"
port = {port}
username = "bridge"
password_env = "TEST_BRIDGE_MQTT_PW"
client_id = "bridge-test"
prefix = "{prefix}"
discovery_prefix = "{prefix}_ha"

[[cameras]]
name = "Front Door"
url = "virtual://bridge-front?events=motion:200ms&fps=5&size=320x240"
allow = ["events.subscribe", "snapshot"]

[[cameras]]
name = "garden"
url = "virtual://bridge-garden"
password_env = "TEST_GARDEN_PW"
username = "viewer"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    return path


def test_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_bridge_config(write(tmp_path, GOOD.format(port=1883, prefix="camsdk")))
    assert config.broker.password_env == "TEST_BRIDGE_MQTT_PW"
    front, garden = config.cameras
    assert front.allow == (Action.EVENTS_SUBSCRIBE, Action.SNAPSHOT)
    assert Action.PTZ not in garden.allow  # PTZ over MQTT only when asked for


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[broker]\nhostname = "h"\npassword = "hunter2"\n', "environment variable"),
        (
            '[broker]\nhostname = "h"\n[[cameras]]\nname = "a"\nurl = "virtual://a"\n'
            'password = "x"\n',
            "environment variable",
        ),
        (
            '[broker]\nhostname = "h"\n[[cameras]]\nname = "A b"\nurl = "virtual://a"\n'
            '[[cameras]]\nname = "a_b"\nurl = "virtual://b"\n',
            "share topic",
        ),
        ('[broker]\nhostname = "h"\nsurprise = 1\n', "surprise"),
        (
            '[broker]\nhostname = "h"\n[[cameras]]\nname = "a"\nurl = "virtual://a"\n'
            "watch_stream = true\n",
            "stream.open",
        ),
        (
            '[broker]\nhostname = "h"\n[[cameras]]\nname = "a"\nurl = "virtual://a"\nhub = "!!"\n',
            "hub",
        ),
        ("[broker\n", "cannot read"),
    ],
)
def test_bad_configs_are_refused_with_a_reason(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as info:
        load_bridge_config(write(tmp_path, text))
    assert "hunter2" not in str(info.value)


def test_shards_partition_cameras_stably_and_evenly() -> None:
    names = [f"cam-{i}" for i in range(1000)]
    shards = [shard_of(n, 4) for n in names]
    assert shards == [shard_of(n, 4) for n in names]  # stable
    counts = Counter(shards)
    assert set(counts) == {0, 1, 2, 3}
    assert min(counts.values()) > 200


def test_shard_argument() -> None:
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "-1/2", "x", "1/0"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_shard(bad)
    parser = argparse.ArgumentParser()
    add_bridge_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bridge", "conf.toml", "--shard", "2/3"])
    assert (args.config, args.shard, callable(args.func)) == ("conf.toml", (2, 3), True)


def test_action_policy_allows_only_listed_actions_for_the_bridge() -> None:
    bridge = Principal("mqtt:b")
    policy = ActionPolicy(bridge, [Action.SNAPSHOT])

    def decide(principal: Principal, action: Action) -> bool:
        return policy.decide(AccessRequest(principal, "cam", "virtual://cam", action)).allowed

    assert decide(bridge, Action.SNAPSHOT)
    assert not decide(bridge, Action.PTZ)
    assert not decide(Principal("mqtt:other"), Action.SNAPSHOT)


@needs_mosquitto
@pytest.mark.external
async def test_bridge_runs_from_config_on_a_virtual_camera(
    tmp_path: Path, mosquitto: Any, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BRIDGE_MQTT_PW", "broker-secret")
    monkeypatch.setenv("TEST_GARDEN_PW", "garden-secret")
    path = write(tmp_path, GOOD.format(port=mosquitto.port, prefix=topic_prefix))
    stop = asyncio.Event()
    base = f"{topic_prefix}/front_door"
    async with Listener(mosquitto.port, f"{topic_prefix}/#", f"{topic_prefix}_ha/#") as sub:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: run_bridge_from_config(path, stop=stop))
                await sub.wait_payload(f"{base}/availability", b"online")
                event = await sub.wait_json(f"{base}/events", lambda e: e["kind"] == "motion")
                await sub.wait_payload(f"{base}/motion", b"ON")
                config = await sub.wait_json(
                    f"{topic_prefix}_ha/binary_sensor/camsdk_front_door/motion/config"
                )
                # PTZ is not in the allow list: the command is refused by the policy.
                await sub.client.publish(f"{base}/ptz/set", b'{"stop": true}', qos=1)
                report = await sub.wait_json(f"{base}/error")
                stop.set()
            await sub.wait_payload(f"{base}/availability", b"offline")
    assert event["camera_id"] and event["event_id"]
    assert config["device"]["name"] == "Front Door"
    assert report["error"] in {"access_denied", "unsupported"}
    assert report["principal"] == "mqtt:bridge-test"
    assert all(b"secret" not in m.payload for m in sub.received if isinstance(m.payload, bytes))
    json.dumps(report)


@needs_mosquitto
@pytest.mark.external
async def test_a_shard_bridges_only_its_cameras(
    tmp_path: Path, mosquitto: Any, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BRIDGE_MQTT_PW", "x")
    monkeypatch.setenv("TEST_GARDEN_PW", "y")
    path = write(tmp_path, GOOD.format(port=mosquitto.port, prefix=topic_prefix))
    # A shard count that puts the two cameras apart.
    count = next(n for n in range(2, 20) if shard_of("garden", n) != shard_of("Front Door", n))
    mine = shard_of("garden", count)
    stop = asyncio.Event()
    async with Listener(mosquitto.port, f"{topic_prefix}/+/availability") as sub:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: run_bridge_from_config(path, shard=(mine, count), stop=stop))
                await sub.wait_payload(f"{topic_prefix}/garden/availability", b"online")
                stop.set()
            await sub.wait_payload(f"{topic_prefix}/garden/availability", b"offline")
    topics = {m.topic.value for m in sub.received}
    assert f"{topic_prefix}/front_door/availability" not in topics


def test_camera_settings_become_bridge_options(tmp_path: Path) -> None:
    text = (
        '[broker]\nhostname = "h"\n[[cameras]]\nname = "a"\nurl = "rtsp://10.0.0.9/s"\n'
        'hub = "NVR"\nmotion_sensitivity = 0.7\nwatch_stream = true\nstats_interval = 5\n'
        'allow = ["events.subscribe", "stream.open", "frames"]\n'
    )
    (camera,) = load_bridge_config(write(tmp_path, text)).cameras
    options = camera.bridge_options()
    assert (options.hub, options.motion_sensitivity, options.motion_fps) == ("NVR", 0.7, 2.0)
    assert options.watch_stream and options.stats_interval == 5.0


def test_only_cameras_allowed_stream_and_frames_get_the_software_motion_switch(
    tmp_path: Path,
) -> None:
    from camsdk.sinks._bridge import _supervise
    from camsdk.sinks._types import has_software_motion

    text = (
        '[broker]\nhostname = "h"\n'
        '[[cameras]]\nname = "a"\nurl = "virtual://a"\n'
        'allow = ["events.subscribe", "stream.open", "frames"]\n'
        '[[cameras]]\nname = "b"\nurl = "virtual://b"\nallow = ["events.subscribe", "frames"]\n'
        '[[cameras]]\nname = "c"\nurl = "virtual://c"\n'
    )
    cameras = load_bridge_config(write(tmp_path, text)).cameras
    bridge = Principal("mqtt:b")
    assert [has_software_motion(_supervise(c, bridge, None)) for c in cameras] == [
        True, False, False,
    ]  # fmt: skip


@needs_mosquitto
@pytest.mark.external
async def test_watch_stream_publishes_a_virtual_cameras_live_state_and_fps(
    tmp_path: Path, mosquitto: Any, topic_prefix: str
) -> None:
    text = f"""
[broker]
hostname = "127.0.0.1"
port = {mosquitto.port}
prefix = "{topic_prefix}"
discovery = false
publish_snapshots = false

[[cameras]]
name = "porch"
url = "virtual://bridge-porch?fps=10&size=160x120&gop=10"
allow = ["events.subscribe", "stream.open"]
watch_stream = true
stats_interval = 1
"""
    stop = asyncio.Event()
    base = f"{topic_prefix}/porch"
    async with Listener(mosquitto.port, f"{base}/stream/#") as sub:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: run_bridge_from_config(write(tmp_path, text), stop=stop))
                await sub.wait_payload(f"{base}/stream/state", b"streaming")
                fps = await sub.wait_for(f"{base}/stream/fps", lambda m: m.payload != b"0")
                stop.set()
    assert float(fps.payload) > 0  # type: ignore[arg-type]  # a rate measured on the stream


@needs_mosquitto
@pytest.mark.external
@pytest.mark.skipif(
    not hasattr(__import__("camsdk").Camera, "motion"), reason="camsdk.Camera has no motion()"
)
async def test_motion_switch_runs_a_virtual_cameras_software_detector(
    tmp_path: Path, mosquitto: Any, topic_prefix: str
) -> None:
    text = f"""
[broker]
hostname = "127.0.0.1"
port = {mosquitto.port}
prefix = "{topic_prefix}"
discovery_prefix = "{topic_prefix}_ha"
publish_snapshots = false

[[cameras]]
name = "yard"
url = "virtual://bridge-yard?fps=10&size=160x120&gop=10"
allow = ["events.subscribe", "stream.open", "frames"]
motion_fps = 2
"""
    stop = asyncio.Event()
    base = f"{topic_prefix}/yard"
    ha = f"{topic_prefix}_ha"
    async with Listener(mosquitto.port, f"{base}/#", f"{ha}/switch/#") as sub:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: run_bridge_from_config(write(tmp_path, text), stop=stop))
                await sub.wait_for(f"{ha}/switch/camsdk_yard/software_motion/config")
                await sub.wait_payload(f"{base}/availability", b"online")
                await sub.wait_payload(f"{base}/software_motion", b"OFF")
                await sub.client.publish(f"{base}/software_motion/set", b"ON", qos=1)
                await sub.wait_payload(f"{base}/software_motion", b"ON")
                await sub.client.publish(f"{base}/software_motion/set", b"OFF", qos=1)
                await sub.wait_payload(f"{base}/software_motion", b"OFF")
                stop.set()
    errors = [m for m in sub.received if m.topic.value == f"{base}/error"]
    assert errors == []
