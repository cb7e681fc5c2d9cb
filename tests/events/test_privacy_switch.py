"""The Home Assistant "privacy mode" switch of the MQTT bridge.

``<base>/privacy_mode/set`` (``ON``/``OFF``) calls ``cam.set_privacy_mode``;
``<base>/privacy_mode`` says what the device is in. Switching is an
owner-only ``config`` action: the bridge's principal needs it in its allow
list, and the camera's audit log records every attempt. End-to-end tests run
a real ``virtual://`` camera (which simulates a lens cover) through the
facade and a real mosquitto.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import camsdk
from camsdk import Action, Capability, Principal
from camsdk.drivers.virtual import virtual_device
from camsdk.privacy import MemoryAuditSink
from camsdk.sinks._bridge import ActionPolicy, _supervise, bridge_summary
from camsdk.sinks._bridge_config import CameraSettings, load_bridge_config
from camsdk.sinks._ha_discovery import privacy_switch_config
from camsdk.sinks._types import has_privacy_mode
from camsdk.sinks.mqtt import BridgeCameraOptions, MqttBridge

from ._fakes import FakeMotionCamera, FakePrivacyCamera, Listener, bridge_settings
from ._ha_schema import ha_config_problems
from .conftest import needs_mosquitto

pytestmark = pytest.mark.anyio

PRINCIPAL = Principal("mqtt:privacy-test", "MQTT bridge")
SWITCH = "homeassistant/switch/camsdk_cam-1/privacy_mode/config"


def discovery_topics(cam: Any) -> dict[str, dict[str, Any]]:
    """The configs a bridge would announce for ``cam`` (no broker needed)."""
    bridge = MqttBridge([cam], hostname="127.0.0.1")
    link = bridge._link(cam.id)
    return {t: json.loads(p) for t, p in link.discovery_messages() if p}


def test_privacy_switch_is_announced_for_cameras_that_report_privacy_mode() -> None:
    assert SWITCH in discovery_topics(FakePrivacyCamera())


def test_no_privacy_switch_for_a_device_without_privacy_mode() -> None:
    lidless = FakePrivacyCamera(capabilities=Capability.EVENTS | Capability.STREAM)
    assert SWITCH not in discovery_topics(lidless)
    assert SWITCH not in discovery_topics(FakeMotionCamera())  # no set_privacy_mode at all


def test_privacy_switch_config_commands_and_reports_the_privacy_mode_topics() -> None:
    device = {"identifiers": ["camsdk_front"], "name": "Front"}
    topic, config = privacy_switch_config(
        discovery_prefix="homeassistant", slug="front", base="camsdk/front", device=device
    )
    assert topic == "homeassistant/switch/camsdk_front/privacy_mode/config"
    assert config["command_topic"] == "camsdk/front/privacy_mode/set"
    assert config["state_topic"] == "camsdk/front/privacy_mode"
    assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert ha_config_problems("switch", config) == []


@pytest.mark.parametrize(
    ("allow", "offered"),
    [
        (["events.subscribe", "snapshot"], False),
        (["events.subscribe", "config"], True),
        (["events.subscribe", "stream.open", "frames", "config"], True),
    ],
)
def test_bridge_config_offers_the_switch_only_when_config_is_allowed(
    allow: list[str], offered: bool
) -> None:
    settings = CameraSettings(name="Front", url="virtual://front", allow=tuple(allow))
    supervised = _supervise(settings, PRINCIPAL, None)
    assert has_privacy_mode(supervised) is offered


@pytest.fixture
def audit() -> MemoryAuditSink:
    return MemoryAuditSink()


@pytest.fixture
async def lens(topic_prefix: str, audit: MemoryAuditSink) -> AsyncIterator[Any]:
    """A virtual camera the bridge principal may subscribe to and configure."""
    name = device_name(topic_prefix)
    policy = ActionPolicy(PRINCIPAL, [Action.EVENTS_SUBSCRIBE, Action.CONFIG])
    async with camsdk.open(
        f"virtual://{name}?size=160x120", principal=PRINCIPAL, policy=policy, audit=audit
    ) as cam:
        yield cam


def device_name(topic_prefix: str) -> str:
    """A virtual device name of the test's own (devices are shared by name)."""
    return topic_prefix.replace("_", "-")[:40].strip("-")


def bridge_for(mosquitto: Any, topic_prefix: str, cam: Any) -> MqttBridge:
    return MqttBridge([cam], **bridge_settings(
        mosquitto, topic_prefix, discovery_prefix=None, publish_snapshots=False,
        principal=PRINCIPAL, topic_names={cam.id: "lens"}))


def config_records(audit: MemoryAuditSink) -> list[dict[str, Any]]:
    return [r for r in audit.records if r.get("action") == "config"]


@needs_mosquitto
@pytest.mark.external
async def test_switching_privacy_mode_over_mqtt_covers_the_lens_and_is_audited(
    mosquitto: Any, topic_prefix: str, lens: Any, audit: MemoryAuditSink
) -> None:
    base = f"{topic_prefix}/lens"
    device = virtual_device(lens.id.removeprefix("virtual:"))
    async with Listener(mosquitto.port, f"{base}/privacy_mode") as sub:
        async with bridge_for(mosquitto, topic_prefix, lens) as bridge:
            with anyio.fail_after(10):
                await bridge.wait_connected()
                await sub.wait_payload(f"{base}/privacy_mode", b"OFF")  # read at connect
                await sub.client.publish(f"{base}/privacy_mode/set", b"ON", qos=1)
                await sub.wait_payload(f"{base}/privacy_mode", b"ON")
                assert device.privacy_mode is True and lens.privacy_mode is True
                await sub.client.publish(f"{base}/privacy_mode/set", b"OFF", qos=1)
                await sub.wait_payload(f"{base}/privacy_mode", b"OFF")
    assert device.privacy_mode is False
    decisions = config_records(audit)
    assert [r["allowed"] for r in decisions] == [True, True]
    assert {r["principal"] for r in decisions} == {PRINCIPAL.id}
    switched = [r["on"] for r in audit.records if r.get("event") == "privacy_mode"]
    assert switched == [True, False]


@needs_mosquitto
@pytest.mark.external
async def test_privacy_mode_refused_without_config_is_reported_audited_and_leaves_the_device(
    mosquitto: Any, topic_prefix: str, audit: MemoryAuditSink
) -> None:
    name = device_name(topic_prefix)
    policy = ActionPolicy(PRINCIPAL, [Action.EVENTS_SUBSCRIBE])  # no "config"
    base = f"{topic_prefix}/lens"
    async with camsdk.open(
        f"virtual://{name}?size=160x120", principal=PRINCIPAL, policy=policy, audit=audit
    ) as cam:
        device = virtual_device(name)
        async with Listener(mosquitto.port, f"{base}/error", f"{base}/privacy_mode") as sub:
            async with bridge_for(mosquitto, topic_prefix, cam) as bridge:
                with anyio.fail_after(10):
                    await bridge.wait_connected()
                    await sub.wait_payload(f"{base}/privacy_mode", b"OFF")
                    await sub.client.publish(f"{base}/privacy_mode/set", b"ON", qos=1)
                    report = await sub.wait_json(f"{base}/error")
                    # The switch shows the truth again after the refusal.
                    await sub.wait_payload(f"{base}/privacy_mode", b"OFF")
    assert (report["command"], report["error"]) == ("privacy_mode/set", "access_denied")
    assert report["principal"] == PRINCIPAL.id
    assert device.privacy_mode is False
    assert [r["allowed"] for r in config_records(audit)] == [False]


@needs_mosquitto
@pytest.mark.external
async def test_a_device_already_in_privacy_mode_shows_the_switch_on(
    mosquitto: Any, topic_prefix: str, audit: MemoryAuditSink
) -> None:
    name = device_name(topic_prefix)
    device = virtual_device(name)
    device.privacy_mode = True  # the owner covered the lens before the bridge started
    policy = ActionPolicy(PRINCIPAL, [Action.EVENTS_SUBSCRIBE, Action.CONFIG])
    base = f"{topic_prefix}/lens"
    async with camsdk.open(
        f"virtual://{name}?size=160x120", principal=PRINCIPAL, policy=policy, audit=audit
    ) as cam:
        async with Listener(mosquitto.port, f"{base}/privacy_mode") as sub:
            async with bridge_for(mosquitto, topic_prefix, cam) as bridge:
                with anyio.fail_after(10):
                    await bridge.wait_connected()
                    await sub.wait_payload(f"{base}/privacy_mode", b"ON")
    assert config_records(audit) == []  # reading the state is no configuration


def test_bridge_config_names_an_optional_audit_log_and_its_summary_shows_it(
    tmp_path: Path,
) -> None:
    text = '[broker]\nhostname = "127.0.0.1"\n[[cameras]]\nname = "a"\nurl = "virtual://a"\n'
    path = tmp_path / "bridge.toml"
    path.write_text(text)
    assert load_bridge_config(path).audit_log is None
    path.write_text('audit_log = "audit.jsonl"\n' + text)
    config = load_bridge_config(path)
    assert config.audit_log == Path("audit.jsonl")
    assert "audit log  audit.jsonl" in bridge_summary(config)


@needs_mosquitto
@pytest.mark.external
async def test_privacy_mode_switched_elsewhere_shows_when_the_stream_ends_for_it(
    mosquitto: Any, topic_prefix: str, audit: MemoryAuditSink
) -> None:
    name = device_name(topic_prefix)
    allowed = [Action.EVENTS_SUBSCRIBE, Action.CONFIG, Action.STREAM_OPEN]
    base = f"{topic_prefix}/lens"
    async with camsdk.open(
        f"virtual://{name}?size=160x120&fps=10", principal=PRINCIPAL,
        policy=ActionPolicy(PRINCIPAL, allowed), audit=audit,
    ) as cam:  # fmt: skip
        device = virtual_device(name)
        bridge = MqttBridge(
            [cam], hostname="127.0.0.1", port=mosquitto.port, prefix=topic_prefix,
            discovery_prefix=None, publish_snapshots=False, principal=PRINCIPAL,
            topic_names={cam.id: "lens"}, backoff_base=0.05, backoff_cap=0.3,
            camera_options={cam.id: BridgeCameraOptions(watch_stream=True, stats_interval=0.2)},
        )  # fmt: skip
        async with Listener(mosquitto.port, f"{base}/privacy_mode", f"{base}/stream/state") as sub:
            async with bridge:
                with anyio.fail_after(15):
                    await bridge.wait_connected()
                    await sub.wait_payload(f"{base}/stream/state", b"streaming")
                    await sub.wait_payload(f"{base}/privacy_mode", b"OFF")
                    device.privacy_mode = True  # the owner's app covered the lens
                    await sub.wait_payload(f"{base}/privacy_mode", b"ON")
    assert config_records(audit) == []  # nobody switched it through camsdk
