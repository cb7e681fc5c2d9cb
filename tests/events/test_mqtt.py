"""The MQTT bridge against a real mosquitto on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from camsdk._access import Action
from camsdk._models import Capability, EventKind
from camsdk.sinks.mqtt import MqttBridge

from ._fakes import JPEG_HEAD, FakeCamera, Listener, bridge_settings
from ._ha_schema import HA_BINARY_SENSOR_CLASSES, ha_config_problems
from .conftest import needs_mosquitto

pytestmark = [pytest.mark.anyio, pytest.mark.external, needs_mosquitto]

MakeBridge = Callable[..., Awaitable[MqttBridge]]



@pytest.fixture
async def cam() -> AsyncIterator[FakeCamera]:
    camera = FakeCamera("cam-1", event_kinds="motion,person")
    yield camera
    await camera.aclose()


@pytest.fixture
async def make_bridge(
    mosquitto: Any, topic_prefix: str, camsdk_no_task_leaks: None
) -> AsyncIterator[MakeBridge]:
    # Depending on the task-leak check makes it run after the bridges are closed.
    bridges: list[MqttBridge] = []

    async def factory(*cameras: Any, **options: Any) -> MqttBridge:
        bridge = MqttBridge(list(cameras), **bridge_settings(
            mosquitto, topic_prefix, **{"discovery_prefix": f"{topic_prefix}_ha", **options}))
        await bridge.__aenter__()
        bridges.append(bridge)
        with anyio.fail_after(10):
            await bridge.wait_connected()
        return bridge

    yield factory
    for bridge in bridges:
        await bridge.__aexit__(None, None, None)


async def test_event_is_published_as_json_with_state_and_qos(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    async with Listener(mosquitto.port, f"{base}/#") as sub:
        await make_bridge(cam)
        with anyio.fail_after(10):
            await cam.subscribed.wait()
            await cam.emit(EventKind.MOTION, zone="drive", score=0.7)
            msg = await sub.wait_for(f"{base}/events")
            on = await sub.wait_payload(f"{base}/motion", b"ON")
            await cam.emit(EventKind.MOTION, zone="drive", active=False)
            end = await sub.wait_for(f"{base}/events", lambda m: b'"active":false' in m.payload)  # type: ignore[operator]
            await sub.wait_payload(f"{base}/motion", b"OFF")
    event = json.loads(msg.payload)  # type: ignore[arg-type]
    assert event["kind"] == "motion" and event["camera_id"] == "cam-1"
    assert event["zone"] == "drive" and event["score"] == 0.7 and event["active"] is True
    assert json.loads(end.payload)["event_id"] == event["event_id"]  # type: ignore[arg-type]
    assert msg.qos == 1 and on.qos == 1


async def test_state_availability_and_snapshot_are_retained_for_late_subscribers(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    await make_bridge(cam)
    with anyio.fail_after(10):
        async with Listener(mosquitto.port, f"{base}/#") as early:
            await cam.subscribed.wait()
            await cam.emit(EventKind.PERSON)
            await early.wait_payload(f"{base}/person", b"ON")
            await early.wait_for(f"{base}/snapshot")
        async with Listener(mosquitto.port, f"{base}/#") as late:
            person = await late.wait_payload(f"{base}/person", b"ON")
            online = await late.wait_payload(f"{base}/availability", b"online")
            snap = await late.wait_for(f"{base}/snapshot")
    assert (person.retain, online.retain, snap.retain) == (True, True, True)
    assert online.qos == 1 and snap.qos == 0
    assert isinstance(snap.payload, bytes) and snap.payload.startswith(JPEG_HEAD)
    # /events is not retained: the late subscriber got none.
    assert not any(m.topic.value == f"{base}/events" for m in late.received)


async def test_discovery_configs_carry_home_assistant_required_keys(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    ha = f"{topic_prefix}_ha"
    await make_bridge(cam)
    async with Listener(mosquitto.port, f"{ha}/#") as sub:
        with anyio.fail_after(10):
            image = await sub.wait_for(f"{ha}/image/camsdk_cam-1/snapshot/config")
            motion = await sub.wait_for(f"{ha}/binary_sensor/camsdk_cam-1/motion/config")
            person = await sub.wait_for(f"{ha}/binary_sensor/camsdk_cam-1/person/config")
    base = f"{topic_prefix}/cam-1"
    for msg in (image, motion, person):
        assert msg.retain and msg.qos == 1
        config = json.loads(msg.payload)  # type: ignore[arg-type]
        assert config["availability_topic"] == f"{base}/availability"
        assert (config["payload_available"], config["payload_not_available"]) == (
            "online", "offline",
        )  # fmt: skip
        assert config["unique_id"].startswith("camsdk_cam-1_")
        device = config["device"]
        assert device["identifiers"] == ["camsdk_cam-1"]
        assert device["manufacturer"] == "Acme" and device["model"] == "X1"
        assert config["origin"]["name"] == "camsdk"
        assert ha_config_problems(msg.topic.value.split("/")[1], config) == []
    img = json.loads(image.payload)  # type: ignore[arg-type]
    # HA image platform: exactly one of image_topic / url_topic; content_type with image_topic.
    assert img["image_topic"] == f"{base}/snapshot" and "url_topic" not in img
    assert img["content_type"] == "image/jpeg"
    for msg, kind, device_class in ((motion, "motion", "motion"), (person, "person", "occupancy")):
        config = json.loads(msg.payload)  # type: ignore[arg-type]
        assert config["state_topic"] == f"{base}/{kind}"
        assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
        assert config["device_class"] == device_class in HA_BINARY_SENSOR_CLASSES
    unique_ids = {json.loads(m.payload)["unique_id"] for m in (image, motion, person)}  # type: ignore[arg-type]
    assert len(unique_ids) == 3


async def test_a_kind_seen_for_the_first_time_is_announced(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    ha = f"{topic_prefix}_ha"
    async with Listener(mosquitto.port, f"{ha}/#") as sub:
        await make_bridge(cam)
        with anyio.fail_after(10):
            await cam.subscribed.wait()
            await cam.emit(EventKind.SOUND)
            config = await sub.wait_json(f"{ha}/binary_sensor/camsdk_cam-1/sound/config")
    assert config["device_class"] == "sound"


async def test_remove_discovery_publishes_empty_retained_configs(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    ha = f"{topic_prefix}_ha"
    bridge = await make_bridge(cam)
    async with Listener(mosquitto.port, f"{ha}/#") as sub:
        with anyio.fail_after(10):
            await sub.wait_for(f"{ha}/image/camsdk_cam-1/snapshot/config")
            await bridge.remove_discovery()
            for topic in (
                f"{ha}/image/camsdk_cam-1/snapshot/config",
                f"{ha}/binary_sensor/camsdk_cam-1/motion/config",
                f"{ha}/binary_sensor/camsdk_cam-1/person/config",
            ):
                await sub.wait_payload(topic, b"")
        # A retained empty payload deletes the retained config: a new
        # subscriber gets only the sentinel published after the removal.
        await sub.client.publish(f"{ha}/zz_sentinel", b"x", qos=1, retain=True)
        async with Listener(mosquitto.port, f"{ha}/#") as late:
            with anyio.fail_after(10):
                await late.wait_for(f"{ha}/zz_sentinel")
        await sub.client.publish(f"{ha}/zz_sentinel", b"", qos=1, retain=True)
    assert [m.topic.value for m in late.received] == [f"{ha}/zz_sentinel"]


async def test_ptz_commands_go_through_the_camera_api(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    await make_bridge(cam)
    async with Listener(mosquitto.port) as client:
        with anyio.fail_after(10):
            for payload, call in (
                ({"pan": 0.1, "tilt": 0, "zoom": 0}, ("move", 0.1, 0.0, 0.0)),
                ({"preset": "1"}, ("preset", "1")),
                ({"stop": True}, ("stop",)),
            ):
                cam.ptz_called.clear()
                await client.client.publish(f"{base}/ptz/set", json.dumps(payload), qos=1)
                await cam.ptz_called.wait()
                assert cam.ptz_calls[-1] == call


async def test_snapshot_request_publishes_a_fresh_snapshot(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    bridge = await make_bridge(cam)
    with anyio.fail_after(10):
        await bridge.flush()  # the startup snapshot is out
        taken = cam.snapshots
        async with Listener(mosquitto.port, f"{base}/snapshot") as sub:
            await sub.client.publish(f"{base}/snapshot/request", b"", qos=1)
            expected = JPEG_HEAD + f"snapshot-{taken + 1}".encode()
            msg = await sub.wait_payload(f"{base}/snapshot", expected)
    assert msg.qos == 0


async def test_denied_command_is_reported_and_logged_without_secrets(
    mosquitto: Any,
    make_bridge: MakeBridge,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cam = FakeCamera("cam-1", denied={Action.PTZ})
    base = f"{topic_prefix}/cam-1"
    caplog.set_level(logging.INFO, logger="camsdk")
    try:
        await make_bridge(
            cam, username="bridge-user", password="s3cret-broker-pw", client_id="hallway"
        )
        async with Listener(mosquitto.port, f"{base}/error") as sub:
            with anyio.fail_after(10):
                await sub.client.publish(f"{base}/ptz/set", b'{"pan": 0.5}', qos=1)
                report = await sub.wait_json(f"{base}/error")
    finally:
        await cam.aclose()
    assert report["command"] == "ptz/set" and report["error"] == "access_denied"
    assert report["principal"] == "mqtt:hallway"
    assert cam.ptz_calls == []
    assert "refused for mqtt:hallway" in caplog.text
    assert "s3cret-broker-pw" not in caplog.text


async def test_invalid_command_is_refused(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    await make_bridge(cam)
    async with Listener(mosquitto.port, f"{base}/error") as sub:
        with anyio.fail_after(10):
            await sub.client.publish(f"{base}/ptz/set", b'{"pan": 5}', qos=1)
            invalid = await sub.wait_json(f"{base}/error")
    assert invalid["error"] == "invalid_command" and "pan" in invalid["message"]
    assert cam.ptz_calls == []


async def test_retained_command_is_not_replayed_on_connect(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    async with Listener(mosquitto.port, f"{base}/error") as sub:
        with anyio.fail_after(10):
            # Someone left a retained command behind; a (re)connecting bridge must not obey it.
            await sub.client.publish(f"{base}/ptz/set", b'{"pan": 0.2}', qos=1, retain=True)
            await make_bridge(cam)
            report = await sub.wait_json(f"{base}/error")
            await sub.client.publish(f"{base}/ptz/set", b"", qos=1, retain=True)  # clean up
    assert report["error"] == "retained_command"
    assert cam.ptz_calls == []


async def test_camera_connection_loss_turns_availability_and_states_off(
    mosquitto: Any, cam: FakeCamera, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    async with Listener(mosquitto.port, f"{base}/#") as sub:
        await make_bridge(cam)
        with anyio.fail_after(10):
            await sub.wait_payload(f"{base}/availability", b"online")
            await cam.emit(EventKind.MOTION)
            await sub.wait_payload(f"{base}/motion", b"ON")
            await cam.emit(EventKind.CONNECTION, active=False, extra={"reason": "lost"})
            await sub.wait_payload(f"{base}/availability", b"offline")
            await sub.wait_payload(f"{base}/motion", b"OFF")
            await cam.emit(EventKind.CONNECTION, active=True)
            await sub.wait_payload(f"{base}/availability", b"online")


async def test_camera_without_events_still_serves_snapshots(
    mosquitto: Any, make_bridge: MakeBridge, topic_prefix: str
) -> None:
    cam = FakeCamera("still", capabilities=Capability.SNAPSHOT)
    base = f"{topic_prefix}/still"
    try:
        async with Listener(mosquitto.port, f"{base}/#") as sub:
            await make_bridge(cam)
            with anyio.fail_after(10):
                await sub.wait_payload(f"{base}/availability", b"online")
                await sub.wait_for(f"{base}/snapshot")
    finally:
        await cam.aclose()


async def test_clean_shutdown_says_offline(
    mosquitto: Any, cam: FakeCamera, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/cam-1"
    bridge = MqttBridge(
        [cam],
        hostname="127.0.0.1",
        port=mosquitto.port,
        prefix=topic_prefix,
        discovery_prefix=None,
    )
    async with Listener(mosquitto.port, f"{base}/availability") as sub:
        with anyio.fail_after(10):
            async with bridge:
                await sub.wait_payload(f"{base}/availability", b"online")
            await sub.wait_payload(f"{base}/availability", b"offline")


async def test_last_will_marks_camera_offline_when_the_bridge_is_killed(
    mosquitto: Any, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/doomed"
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_bridge_child.py")),
         str(mosquitto.port), topic_prefix],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        async with Listener(mosquitto.port, f"{base}/availability") as sub:
            with anyio.fail_after(20):
                await sub.wait_payload(f"{base}/availability", b"online")
                child.send_signal(signal.SIGKILL)
                await anyio.to_thread.run_sync(child.wait)
                gone = await sub.wait_payload(f"{base}/availability", b"offline")
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    assert gone.qos == 1


async def test_outgoing_queue_is_bounded_while_the_broker_is_unreachable(
    cam: FakeCamera, topic_prefix: str
) -> None:
    from .conftest import launcher

    bridge = MqttBridge(
        [cam], hostname="127.0.0.1", port=launcher.free_port(), prefix=topic_prefix,
        queue_size=20, inflight=4, backoff_base=0.05, backoff_cap=0.1,
        publish_snapshots=False,
    )  # fmt: skip
    async with bridge:
        with anyio.fail_after(10):
            await cam.subscribed.wait()
            for i in range(100):
                await cam.emit(EventKind.MOTION, zone=f"z{i}")
    stats = bridge.stats()
    assert stats.queued <= 20
    assert stats.dropped >= 100 - 20
    assert stats.published == 0


async def test_broker_restart_loses_no_qos1_event(
    private_mosquitto: Any, topic_prefix: str
) -> None:
    broker = private_mosquitto
    cam = FakeCamera("cam-r")
    events_topic = f"{topic_prefix}/cam-r/events"
    # A persistent session (clean_session=False) keeps the subscription and its
    # queued QoS 1 messages in the broker across its restart.
    session = {"identifier": f"{topic_prefix}-sub", "clean_session": False}
    got: set[int] = set()

    def indices(sub: Listener) -> set[int]:
        return {
            json.loads(m.payload)["extra"]["i"]  # type: ignore[arg-type]
            for m in sub.received
            if m.topic.value == events_topic
        }

    async def emit(start: int, stop: int) -> None:
        for i in range(start, stop):
            await cam.emit(EventKind.PERSON, zone=f"z{i}", extra={"i": i})

    bridge = MqttBridge(
        [cam], hostname="127.0.0.1", port=broker.port, prefix=topic_prefix,
        discovery_prefix=None, publish_snapshots=False, backoff_base=0.05, backoff_cap=0.3,
    )  # fmt: skip
    try:
        with anyio.fail_after(30):
            async with Listener(broker.port, events_topic, **session) as sub, bridge:
                await bridge.wait_connected()
                await cam.subscribed.wait()
                await emit(0, 20)
                await sub.wait_for(events_topic, lambda m: b'"i":19' in m.payload)  # type: ignore[operator]
                await emit(20, 30)
                await sub.wait_for(events_topic, lambda m: b'"i":29' in m.payload)  # type: ignore[operator]
                got |= indices(sub)
                await anyio.to_thread.run_sync(broker.stop)
                # Events keep coming while the broker is away; the bridge
                # keeps them, bounded, until it is back.
                await emit(30, 50)
                await anyio.to_thread.run_sync(broker.start)
                await bridge.flush()
                await emit(50, 60)
                await bridge.flush()
            async with Listener(broker.port, **session) as resumed:
                while not set(range(60)) <= got | indices(resumed):
                    await resumed.wait_for(events_topic)
                got |= indices(resumed)
    finally:
        await cam.aclose()
    assert set(range(60)) <= got
    assert bridge.stats().reconnects >= 1
