"""Home Assistant discovery: doorbell event entity, stream sensors, hub devices, device pages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from camsdk._errors import CameraConnectionError, ConfigurationError
from camsdk._models import Capability, EventKind, StreamState
from camsdk.sinks._ha_discovery import (
    DEVICE_CLASSES,
    binary_sensor_config,
    configuration_url_for,
    device_block,
    event_config,
    hub_link_config,
    image_config,
    motion_switch_config,
    privacy_switch_config,
    stream_fps_config,
    stream_state_config,
)
from camsdk.sinks.mqtt import BridgeCameraOptions, MqttBridge

from ._fakes import FakeCamera, FakeMotionCamera, Listener, bridge_settings
from ._ha_schema import ha_config_problems
from .conftest import needs_mosquitto

pytestmark = pytest.mark.anyio

WHERE = {"discovery_prefix": "homeassistant", "slug": "front", "base": "camsdk/front"}


def component_of(topic: str) -> str:
    return topic.split("/")[1]


def every_config() -> list[tuple[str, dict[str, Any]]]:
    device = device_block(
        None, "front", "Front", configuration_url="http://192.168.1.20", hub="NVR Garage"
    )
    configs = [
        image_config(**WHERE, device=device),
        event_config(EventKind.DOORBELL, **WHERE, device=device),
        stream_state_config(**WHERE, device=device),
        stream_fps_config(**WHERE, device=device),
        motion_switch_config(**WHERE, device=device),
        privacy_switch_config(**WHERE, device=device),
        hub_link_config(
            "NVR Garage", discovery_prefix="homeassistant", slug="front", camera_name="Front",
            base="camsdk/front", configuration_url="http://192.168.1.20",
        ),
    ]  # fmt: skip
    configs += [binary_sensor_config(k, **WHERE, device=device) for k in DEVICE_CLASSES]
    return configs


def test_every_entity_config_passes_home_assistant_schema() -> None:
    configs = every_config()
    for topic, config in configs:
        assert ha_config_problems(component_of(topic), config) == [], topic
    unique_ids = [config["unique_id"] for _, config in configs]
    assert len(set(unique_ids)) == len(unique_ids)


def test_doorbell_is_an_event_entity_not_a_binary_sensor() -> None:
    topic, config = event_config(EventKind.DOORBELL, **WHERE, device=device_block(None, "front"))
    assert topic == "homeassistant/event/camsdk_front/doorbell/config"
    assert config["device_class"] == "doorbell" and config["event_types"] == ["ring"]
    assert config["state_topic"] == "camsdk/front/doorbell/event"
    assert EventKind.DOORBELL not in DEVICE_CLASSES


def test_stream_sensors_are_an_enum_of_stream_states_and_a_measurement_in_fps() -> None:
    device = device_block(None, "front")
    _, state = stream_state_config(**WHERE, device=device)
    _, fps = stream_fps_config(**WHERE, device=device)
    assert state["device_class"] == "enum"
    assert state["options"] == [s.value for s in StreamState]
    assert state["state_topic"] == "camsdk/front/stream/state"
    assert (fps["unit_of_measurement"], fps["state_class"]) == ("fps", "measurement")
    assert fps["state_topic"] == "camsdk/front/stream/fps"


def test_hub_cameras_point_at_a_hub_device_that_an_entity_creates() -> None:
    device = device_block(None, "front", hub="NVR Garage")
    topic, hub_entity = hub_link_config(
        "NVR Garage", discovery_prefix="homeassistant", slug="front", camera_name="Front",
        base="camsdk/front", configuration_url=None,
    )  # fmt: skip
    assert device["via_device"] == hub_entity["device"]["identifiers"][0] == "camsdk_hub_nvr_garage"
    assert hub_entity["device"]["name"] == "NVR Garage"
    assert topic == "homeassistant/binary_sensor/camsdk_hub_nvr_garage/front/config"
    # It shows the camera's availability, so it has none of its own.
    assert hub_entity["state_topic"] == "camsdk/front/availability"
    assert "availability_topic" not in hub_entity


@pytest.mark.parametrize(
    ("url", "page"),
    [
        ("rtsp://admin:hunter2@192.168.1.20:554/stream1", "http://192.168.1.20"),
        ("rtsps://cam.local:322/s", "https://cam.local"),
        ("onvif://viewer:pw@10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("hikvision://10.0.0.6/101", "http://10.0.0.6"),
        ("https://u:p@cam.local:8443/snap.jpg?token=abc", "https://cam.local:8443"),
        ("rtsp://[fe80::1]:554/s", "http://[fe80::1]"),
        ("virtual://front", None),
        ("file:///tmp/x.mp4", None),
        ("nest://project/device", None),
        ("rtsp://host:notaport/s", None),
    ],
)
def test_configuration_url_is_the_device_host_without_credentials(
    url: str, page: str | None
) -> None:
    assert configuration_url_for(url) == page


@pytest.mark.parametrize(
    "options",
    [
        {"hub": "  !!"},
        {"motion_sensitivity": 1.5},
        {"motion_fps": 0},
        {"stats_interval": 0.0},
        {"configuration_url": "ftp://nvr"},
    ],
)
def test_bad_camera_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        BridgeCameraOptions(**options)


def discovery_topics(cam: Any, **options: Any) -> dict[str, dict[str, Any]]:
    """The configs a bridge would announce for ``cam`` (no broker needed)."""
    bridge = MqttBridge([cam], hostname="127.0.0.1", **options)
    link = bridge._link(cam.id)
    link.announced |= link.initial_kinds()
    return {t: json.loads(p) for t, p in link.discovery_messages() if p}


def test_software_motion_switch_only_for_cameras_with_a_detector_and_a_stream() -> None:
    switch = "homeassistant/switch/camsdk_cam-1/software_motion/config"
    assert switch in discovery_topics(FakeMotionCamera())
    assert switch not in discovery_topics(FakeCamera())  # no motion()
    no_stream = FakeMotionCamera(capabilities=FakeCamera().capabilities)
    assert switch not in discovery_topics(no_stream)


def test_stream_sensors_only_for_cameras_with_a_stream() -> None:
    sensor = "homeassistant/sensor/camsdk_cam-1/stream_state/config"
    assert sensor in discovery_topics(FakeMotionCamera())
    assert sensor not in discovery_topics(FakeCamera())


def test_configuration_url_can_be_overridden_or_left_out() -> None:
    cam = FakeCamera(url="rtsp://192.168.1.20/s")
    image = "homeassistant/image/camsdk_cam-1/snapshot/config"
    derived = discovery_topics(cam)[image]["device"]
    assert derived["configuration_url"] == "http://192.168.1.20"
    page = BridgeCameraOptions(configuration_url="https://admin:pw@nvr.local:8443/cam/1")
    custom = discovery_topics(cam, camera_options={"cam-1": page})[image]["device"]
    assert custom["configuration_url"] == "https://nvr.local:8443"
    none = BridgeCameraOptions(configuration_url="")
    assert (
        "configuration_url"
        not in discovery_topics(cam, camera_options={"cam-1": none})[image]["device"]
    )


# -- against a real broker ---------------------------------------------------------


@pytest.fixture
async def doorbell() -> AsyncIterator[FakeMotionCamera]:
    camera = FakeMotionCamera(
        "door", event_kinds="motion,doorbell", url="rtsp://admin:hunter2@192.168.1.20:554/s1"
    )
    yield camera
    await camera.aclose()


def bridge_for(cam: Any, mosquitto: Any, topic_prefix: str, **options: Any) -> MqttBridge:
    defaults = {"discovery_prefix": f"{topic_prefix}_ha", "publish_snapshots": True}
    return MqttBridge([cam], **bridge_settings(mosquitto, topic_prefix, **(defaults | options)))


@needs_mosquitto
@pytest.mark.external
async def test_bridge_announces_hub_doorbell_stream_and_switch_entities_that_ha_accepts(
    mosquitto: Any, doorbell: FakeMotionCamera, topic_prefix: str
) -> None:
    ha = f"{topic_prefix}_ha"
    expected = {
        f"{ha}/binary_sensor/camsdk_hub_nvr_garage/door/config",
        f"{ha}/image/camsdk_door/snapshot/config",
        f"{ha}/binary_sensor/camsdk_door/motion/config",
        f"{ha}/event/camsdk_door/doorbell/config",
        f"{ha}/sensor/camsdk_door/stream_state/config",
        f"{ha}/sensor/camsdk_door/stream_fps/config",
        f"{ha}/switch/camsdk_door/software_motion/config",
    }
    options = {"door": BridgeCameraOptions(hub="NVR Garage")}
    bridge = bridge_for(doorbell, mosquitto, topic_prefix, camera_options=options)
    configs: dict[str, dict[str, Any]] = {}
    async with Listener(mosquitto.port, f"{ha}/#") as sub, bridge:
        with anyio.fail_after(10):
            while not expected <= configs.keys():
                msg = await sub.wait_for_any()
                if msg.payload:
                    configs[msg.topic.value] = json.loads(msg.payload)  # type: ignore[arg-type]
    assert configs.keys() == expected  # the doorbell is no binary sensor any more
    for topic, config in configs.items():
        assert ha_config_problems(component_of(topic), config) == [], topic
        assert "hunter2" not in json.dumps(config) and "admin" not in json.dumps(config)
    camera_device = configs[f"{ha}/image/camsdk_door/snapshot/config"]["device"]
    assert camera_device["via_device"] == "camsdk_hub_nvr_garage"
    assert camera_device["configuration_url"] == "http://192.168.1.20"
    hub = configs[f"{ha}/binary_sensor/camsdk_hub_nvr_garage/door/config"]
    assert hub["device"]["identifiers"] == ["camsdk_hub_nvr_garage"]
    assert hub["device"]["configuration_url"] == "http://192.168.1.20"


@needs_mosquitto
@pytest.mark.external
async def test_doorbell_press_is_a_ring_event_that_is_not_retained(
    mosquitto: Any, doorbell: FakeMotionCamera, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/door"
    async with Listener(mosquitto.port, f"{base}/#") as sub:
        async with bridge_for(doorbell, mosquitto, topic_prefix) as bridge:
            with anyio.fail_after(10):
                await bridge.wait_connected()
                await doorbell.subscribed.wait()
                await doorbell.emit(EventKind.DOORBELL, event_id="press-1")
                ring = await sub.wait_for(f"{base}/doorbell/event")
                await sub.wait_payload(f"{base}/doorbell", b"ON")
    assert json.loads(ring.payload) == {"event_type": "ring", "event_id": "press-1"}  # type: ignore[arg-type]
    assert not ring.retain and ring.qos == 1


@needs_mosquitto
@pytest.mark.external
async def test_stream_state_events_feed_the_stream_sensors(
    mosquitto: Any, doorbell: FakeMotionCamera, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/door"
    async with Listener(mosquitto.port, f"{base}/stream/#") as sub:
        async with bridge_for(doorbell, mosquitto, topic_prefix) as bridge:
            with anyio.fail_after(10):
                await bridge.wait_connected()
                await doorbell.subscribed.wait()
                streaming = {"profile": "main", "state": "streaming", "fps": 14.83}
                await doorbell.emit(EventKind.STREAM_STATE, event_id="s", extra=streaming)
                await sub.wait_payload(f"{base}/stream/state", b"streaming")
                await sub.wait_payload(f"{base}/stream/fps", b"14.8")
                stalled = {"profile": "main", "state": "stalled"}
                await doorbell.emit(
                    EventKind.STREAM_STATE, event_id="s", active=False, extra=stalled
                )
                await sub.wait_payload(f"{base}/stream/state", b"stalled")
                await sub.wait_payload(f"{base}/stream/fps", b"0")
                async with Listener(mosquitto.port, f"{base}/stream/#") as late:
                    state = await late.wait_payload(f"{base}/stream/state", b"stalled")
                    fps = await late.wait_payload(f"{base}/stream/fps", b"0")
    assert state.retain and fps.retain  # late subscribers (HA restarting) get them


@needs_mosquitto
@pytest.mark.external
async def test_watching_the_stream_publishes_its_stats(
    mosquitto: Any, doorbell: FakeMotionCamera, topic_prefix: str
) -> None:
    base = f"{topic_prefix}/door"
    options = {"door": BridgeCameraOptions(watch_stream=True, stats_interval=0.05)}
    async with Listener(mosquitto.port, f"{base}/stream/#") as sub:
        bridge = bridge_for(doorbell, mosquitto, topic_prefix, camera_options=options)
        async with bridge:
            with anyio.fail_after(10):
                await doorbell.stream_opened.wait()
                await sub.wait_payload(f"{base}/stream/state", b"streaming")
                await sub.wait_payload(f"{base}/stream/fps", b"12.5")
    assert doorbell.streams_open == 0  # released when the bridge stopped


class LateCamera(FakeMotionCamera):
    """Unreachable (and so of unknown vendor and capabilities) until ``reachable``."""

    def __init__(self) -> None:
        super().__init__("late")
        self.reachable = False

    @property
    def info(self) -> Any:
        if not self.reachable:
            raise CameraConnectionError("not connected")
        return super().info

    @property
    def capabilities(self) -> Capability:
        return super().capabilities if self.reachable else Capability.EVENTS | Capability.SNAPSHOT

    def events(self) -> Any:
        if not self.reachable:
            self.events_called.set()
            raise CameraConnectionError("not connected")
        return super().events()


@needs_mosquitto
@pytest.mark.external
async def test_a_camera_that_connects_late_is_announced_again_with_what_it_reports(
    mosquitto: Any, topic_prefix: str
) -> None:
    cam = LateCamera()
    ha = f"{topic_prefix}_ha"
    image = f"{ha}/image/camsdk_late/snapshot/config"
    stream = f"{ha}/sensor/camsdk_late/stream_state/config"
    try:
        async with Listener(mosquitto.port, f"{ha}/#") as sub:
            async with bridge_for(cam, mosquitto, topic_prefix) as bridge:
                with anyio.fail_after(10):
                    await bridge.wait_connected()
                    before = await sub.wait_json(image)
                    cam.reachable = True
                    after = await sub.wait_json(image, lambda c: "manufacturer" in c["device"])
                    await sub.wait_for(stream)
    finally:
        await cam.aclose()
    assert "manufacturer" not in before["device"] and after["device"]["manufacturer"] == "Acme"
    # Before it connected, its stream was unknown: no stream sensors then.
    assert stream not in {m.topic.value for m in sub.received if m is not sub.received[-1]}
