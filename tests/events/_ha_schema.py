"""What Home Assistant's MQTT discovery requires of a config, as a checker for tests.

Written from HA's documentation of each MQTT platform (binary_sensor, event,
image, sensor, switch) and of the shared ``device`` block: the required keys,
the allowed device classes, and the combinations HA refuses.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# BinarySensorDeviceClass
HA_BINARY_SENSOR_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving", "occupancy",
    "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke", "sound",
    "tamper", "update", "vibration", "window",
}  # fmt: skip
# EventDeviceClass
HA_EVENT_CLASSES = {"button", "doorbell", "motion"}
HA_STATE_CLASSES = {"measurement", "total", "total_increasing"}
HA_ENTITY_CATEGORIES = {"config", "diagnostic"}
HA_DEVICE_KEYS = {
    "configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
    "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device",
}  # fmt: skip

_REQUIRED = {
    "binary_sensor": {"state_topic"},
    "event": {"state_topic", "event_types"},
    "image": set(),
    "sensor": {"state_topic"},
    "switch": {"command_topic"},
}


def ha_config_problems(component: str, config: dict[str, Any]) -> list[str]:
    """Everything HA would refuse (or warn about) in a discovery ``config``; [] when fine."""
    problems = [f"missing {key}" for key in _REQUIRED[component] - config.keys()]
    if not config.get("unique_id"):
        problems.append("no unique_id (HA needs one to attach the entity to a device)")
    device = config.get("device", {})
    if not device.get("identifiers"):
        problems.append("device without identifiers")
    if unknown := set(device) - HA_DEVICE_KEYS:
        problems.append(f"unknown device keys {sorted(unknown)}")
    if "configuration_url" in device:
        parts = urlsplit(device["configuration_url"])
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"configuration_url {device['configuration_url']!r} is not a URL")
        if parts.username or parts.password:
            problems.append("configuration_url carries credentials")
    if "via_device" in device and not isinstance(device["via_device"], str):
        problems.append("via_device must be one identifier")
    category = config.get("entity_category")
    if category is not None and category not in HA_ENTITY_CATEGORIES:
        problems.append(f"entity_category {category!r}")
    device_class = config.get("device_class")
    if component == "binary_sensor" and device_class not in (None, *HA_BINARY_SENSOR_CLASSES):
        problems.append(f"binary_sensor device_class {device_class!r}")
    if component == "event":
        types = config.get("event_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            problems.append("event_types must be a non-empty list of strings")
        if device_class not in (None, *HA_EVENT_CLASSES):
            problems.append(f"event device_class {device_class!r}")
    if component == "sensor":
        if device_class == "enum":
            if not config.get("options"):
                problems.append("enum sensor without options")
            if "unit_of_measurement" in config or "state_class" in config:
                problems.append("enum sensor with a unit or state_class")
        elif "options" in config:
            problems.append("options on a sensor that is not an enum")
        state_class = config.get("state_class")
        if state_class is not None and state_class not in HA_STATE_CLASSES:
            problems.append(f"state_class {state_class!r}")
    if component == "image":
        if ("image_topic" in config) == ("url_topic" in config):
            problems.append("image needs exactly one of image_topic / url_topic")
        if "content_type" in config and "image_topic" not in config:
            problems.append("content_type only goes with image_topic")
    return problems
