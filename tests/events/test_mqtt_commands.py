"""MQTT commands: the software motion switch, and one naming of commands in error reports.

The privacy mode switch has its own file, ``test_privacy_switch.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, get_args

import anyio
import pytest

from camsdk._access import Action
from camsdk._models import Capability, EventKind
from camsdk.sinks._mqtt_link import CommandName
from camsdk.sinks.mqtt import BridgeCameraOptions, MqttBridge

from ._fakes import FakeCamera, FakeMotionCamera, FakePrivacyCamera, Listener, bridge_settings
from .conftest import needs_mosquitto

pytestmark = pytest.mark.anyio


@pytest.fixture
async def cam() -> AsyncIterator[FakeMotionCamera]:
    camera = FakeMotionCamera("yard")
    yield camera
    await camera.aclose()


def bridge_for(mosquitto: Any, topic_prefix: str, *cams: Any, **options: Any) -> MqttBridge:
    defaults = {"discovery_prefix": None, "publish_snapshots": False}
    return MqttBridge(list(cams), **bridge_settings(mosquitto, topic_prefix,
                                                    **(defaults | options)))


@needs_mosquitto
@pytest.mark.external
async def test_motion_switch_on_enters_cam_motion_and_off_exits_it(
    mosquitto: Any, cam: FakeMotionCamera, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/yard"
    options = {"yard": BridgeCameraOptions(motion_sensitivity=0.8, motion_fps=1.0)}
    async with Listener(mosquitto.port, f"{base}/software_motion") as sub:
        async with bridge_for(mosquitto, topic_prefix, cam, camera_options=options) as bridge:
            with anyio.fail_after(10):
                await bridge.wait_connected()
                await sub.wait_payload(f"{base}/software_motion", b"OFF")
                await sub.client.publish(f"{base}/software_motion/set", b"ON", qos=1)
                await cam.wait_detectors(1)
                await sub.wait_payload(f"{base}/software_motion", b"ON")
                await sub.client.publish(f"{base}/software_motion/set", b"OFF", qos=1)
                await cam.wait_detectors(0)
                await sub.wait_payload(f"{base}/software_motion", b"OFF")
    assert [call for call, _ in cam.detector_calls] == ["enter", "exit"]
    settings = cam.detector_calls[0][1]
    assert (settings["sensitivity"], settings["fps"]) == (0.8, 1.0)
    assert settings["purpose"]  # the audit log says why frames were read


@needs_mosquitto
@pytest.mark.external
async def test_motion_switch_pauses_while_the_camera_is_offline(
    mosquitto: Any, cam: FakeMotionCamera, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/yard"
    async with Listener(mosquitto.port, f"{base}/software_motion") as sub:
        async with bridge_for(mosquitto, topic_prefix, cam) as bridge:
            with anyio.fail_after(10):
                await bridge.wait_connected()
                await cam.subscribed.wait()
                await sub.wait_payload(f"{base}/software_motion", b"OFF")
                await sub.client.publish(f"{base}/software_motion/set", b"ON", qos=1)
                await cam.wait_detectors(1)
                await sub.wait_payload(f"{base}/software_motion", b"ON")
                await cam.emit(EventKind.CONNECTION, active=False, extra={"reason": "lost"})
                await cam.wait_detectors(0)
                await sub.wait_payload(f"{base}/software_motion", b"OFF")
                await cam.emit(EventKind.CONNECTION, active=True)
                await cam.wait_detectors(1)
                await sub.wait_payload(f"{base}/software_motion", b"ON")
    assert cam.detectors_running == 0  # stopped with the bridge


@needs_mosquitto
@pytest.mark.external
async def test_motion_switch_refused_by_the_policy_reports_and_stays_off(
    mosquitto: Any, topic_prefix: str
) -> None:
    cam = FakeMotionCamera("yard", denied={Action.FRAMES})
    base = f"{topic_prefix}/yard"
    try:
        async with Listener(mosquitto.port, f"{base}/error", f"{base}/software_motion") as sub:
            async with bridge_for(mosquitto, topic_prefix, cam) as bridge:
                with anyio.fail_after(10):
                    await bridge.wait_connected()
                    await sub.client.publish(f"{base}/software_motion/set", b"ON", qos=1)
                    report = await sub.wait_json(f"{base}/error")
    finally:
        await cam.aclose()
    assert report["command"] == "software_motion/set" and report["error"] == "access_denied"
    assert cam.detectors_running == 0 and cam.detector_calls == []
    states = [m.payload for m in sub.received if m.topic.value == f"{base}/software_motion"]
    assert b"ON" not in states


@needs_mosquitto
@pytest.mark.external
async def test_every_error_report_names_the_topic_of_its_command(
    mosquitto: Any, topic_prefix: str
) -> None:
    # strict: refuses PTZ, frames and snapshots; plain: no snapshots at all;
    # deaf: refuses the bridge's event subscription.
    strict = FakePrivacyCamera(
        "strict", denied={Action.PTZ, Action.FRAMES, Action.SNAPSHOT, Action.CONFIG}
    )
    plain = FakeCamera("plain", capabilities=Capability.EVENTS | Capability.PTZ)
    deaf = FakeCamera("deaf", denied={Action.EVENTS_SUBSCRIBE})
    # Has the switch's method, but its device reports no privacy mode.
    lidless = FakePrivacyCamera("lidless", capabilities=Capability.EVENTS | Capability.STREAM)
    cases = [  # camera, command topic, payload, expected error
        ("strict", "ptz/set", b'{"pan": 0.5}', "access_denied"),
        ("strict", "ptz/set", b'{"pan": 5}', "invalid_command"),
        ("strict", "software_motion/set", b"ON", "access_denied"),
        ("strict", "software_motion/set", b"maybe", "invalid_command"),
        ("strict", "privacy_mode/set", b"ON", "access_denied"),
        ("strict", "privacy_mode/set", b"maybe", "invalid_command"),
        ("lidless", "privacy_mode/set", b"ON", "unsupported"),
        ("strict", "snapshot/request", b"", "access_denied"),
        ("plain", "snapshot/request", b"", "unsupported"),
    ]
    retained = [("strict", "ptz/set", b'{"stop": true}'), ("strict", "software_motion/set", b"ON")]
    reports: list[tuple[str, str, dict[str, Any]]] = []
    try:
        async with Listener(mosquitto.port, f"{topic_prefix}/+/error") as sub:
            with anyio.fail_after(20):
                # Left-behind retained commands are refused on (re)connect.
                for name, command, payload in retained:
                    topic = f"{topic_prefix}/{name}/{command}"
                    await sub.client.publish(topic, payload, qos=1, retain=True)
                bridge = bridge_for(
                    mosquitto, topic_prefix, strict, plain, deaf, lidless, publish_snapshots=True
                )
                async with bridge:
                    for name, command, _ in retained:
                        report = await sub.wait_json(
                            f"{topic_prefix}/{name}/error",
                            lambda r, c=command: (
                                r["error"] == "retained_command"  # type: ignore[misc]
                                and r["command"] == c
                            ),
                        )
                        reports.append((command, "retained_command", report))
                        await sub.client.publish(
                            f"{topic_prefix}/{name}/{command}", b"", qos=1, retain=True
                        )
                    reports.append(("events", "access_denied",
                                    await sub.wait_json(f"{topic_prefix}/deaf/error")))  # fmt: skip
                    for name, command, payload, error in cases:
                        await sub.client.publish(f"{topic_prefix}/{name}/{command}", payload, qos=1)
                        # Clearing the retained commands above sent empty (invalid)
                        # ones too: wait for this command's own report.
                        report = await sub.wait_json(
                            f"{topic_prefix}/{name}/error",
                            lambda r, e=error, c=command: (
                                r["error"] == e and r["command"] == c  # type: ignore[misc]
                            ),
                        )
                        reports.append((command, error, report))
    finally:
        for camera in (strict, plain, deaf, lidless):
            await camera.aclose()
    names = set(get_args(CommandName))
    for command, error, report in reports:
        assert (report["command"], report["error"]) == (command, error)
        assert report["command"] in names
        assert set(report) == {"command", "error", "message", "principal", "camera", "at"}
        json.dumps(report)


def test_command_names_are_the_topics_a_link_subscribes_to() -> None:
    bridge = MqttBridge([FakePrivacyCamera("cam")], hostname="127.0.0.1", prefix="p")
    link = bridge._link("cam")
    assert {topic.removeprefix("p/cam/") for topic in link.commands} == set(link.commands.values())
    outputs = {"events", "stream/state"}  # the bridge's own subscriptions
    assert set(get_args(CommandName)) == set(link.commands.values()) | outputs
