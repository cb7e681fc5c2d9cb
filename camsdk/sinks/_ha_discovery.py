"""Home Assistant MQTT discovery payloads for bridged cameras.

Each camera becomes one HA *device* with

- an ``image`` entity fed with JPEG bytes from ``<base>/snapshot``
  (the MQTT ``image`` platform takes raw image bytes on ``image_topic``; the
  older ``camera`` platform does the same but HA now recommends ``image`` for
  stills), and
- one ``binary_sensor`` per event kind, ``ON``/``OFF`` on ``<base>/<kind>``,
  with the closest HA ``device_class``.

Config topics follow ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``
with ``node_id = camsdk_<slug>``. Publishing an empty retained payload on a
config topic removes the entity.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

from .._models import CameraInfo, EventKind

__all__ = [
    "DEVICE_CLASSES",
    "SENSOR_KINDS",
    "binary_sensor_config",
    "config_topic",
    "device_block",
    "image_config",
    "topic_slug",
]

#: HA binary_sensor device classes for event kinds. ``None``: a generic sensor
#: (HA has no doorbell or input class for binary sensors; an icon says it).
DEVICE_CLASSES: dict[EventKind, str | None] = {
    EventKind.MOTION: "motion",
    EventKind.PERSON: "occupancy",
    EventKind.VEHICLE: "motion",
    EventKind.ANIMAL: "motion",
    EventKind.PACKAGE: "presence",
    EventKind.FACE_DETECTED: "occupancy",
    EventKind.DOORBELL: None,
    EventKind.SOUND: "sound",
    EventKind.TAMPER: "tamper",
    EventKind.LINE_CROSSING: "motion",
    EventKind.INTRUSION: "safety",
    EventKind.INPUT: None,
}

_ICONS: dict[EventKind, str] = {
    EventKind.PERSON: "mdi:walk",
    EventKind.VEHICLE: "mdi:car",
    EventKind.ANIMAL: "mdi:paw",
    EventKind.PACKAGE: "mdi:package-variant-closed",
    EventKind.FACE_DETECTED: "mdi:face-recognition",
    EventKind.DOORBELL: "mdi:doorbell",
    EventKind.LINE_CROSSING: "mdi:vector-line",
    EventKind.INPUT: "mdi:electric-switch",
}

#: Kinds that get a binary sensor (state kinds and OTHER only go to ``/events``).
SENSOR_KINDS: frozenset[EventKind] = frozenset(DEVICE_CLASSES)

_SLUG_RE = re.compile(r"[^a-z0-9_-]+")


def topic_slug(text: str) -> str:
    """A topic- and HA-id-safe form of ``text``: ``[a-z0-9_-]``, at most 64 characters."""
    slug = _SLUG_RE.sub("_", text.lower()).strip("_-")[:64]
    if not slug:
        raise ValueError(f"cannot make a topic name from {text!r}")
    return slug


def config_topic(discovery_prefix: str, component: str, slug: str, object_id: str) -> str:
    """The discovery config topic of one entity."""
    return f"{discovery_prefix}/{component}/camsdk_{slug}/{object_id}/config"


def _origin() -> dict[str, str]:
    origin = {"name": "camsdk"}
    try:
        origin["sw_version"] = metadata.version("camsdk")
    except metadata.PackageNotFoundError:
        pass
    return origin


def device_block(info: CameraInfo | None, slug: str, name: str | None = None) -> dict[str, Any]:
    """The HA ``device`` block shared by every entity of one camera."""
    device: dict[str, Any] = {"identifiers": [f"camsdk_{slug}"], "name": name or slug}
    if info is not None:
        if not name and info.name:
            device["name"] = info.name
        for key, value in (
            ("manufacturer", info.vendor),
            ("model", info.model),
            ("sw_version", info.firmware),
            ("serial_number", info.serial),
            ("suggested_area", info.location),
        ):
            if value:
                device[key] = value
    return device


def _common(
    slug: str, object_id: str, availability_topic: str, device: dict[str, Any]
) -> dict[str, Any]:
    return {
        "unique_id": f"camsdk_{slug}_{object_id}",
        "availability_topic": availability_topic,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device,
        "origin": _origin(),
    }


def image_config(
    *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the snapshot ``image`` entity."""
    payload = {
        "name": "Snapshot",
        "image_topic": f"{base}/snapshot",
        "content_type": "image/jpeg",
        **_common(slug, "snapshot", f"{base}/availability", device),
    }
    return config_topic(discovery_prefix, "image", slug, "snapshot"), payload


def binary_sensor_config(
    kind: EventKind, *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the ``binary_sensor`` of one event kind."""
    payload: dict[str, Any] = {
        "name": kind.value.replace("_", " ").capitalize(),
        "state_topic": f"{base}/{kind.value}",
        "payload_on": "ON",
        "payload_off": "OFF",
        **_common(slug, kind.value, f"{base}/availability", device),
    }
    device_class = DEVICE_CLASSES.get(kind)
    if device_class is not None:
        payload["device_class"] = device_class
    if kind in _ICONS:
        payload["icon"] = _ICONS[kind]
    return config_topic(discovery_prefix, "binary_sensor", slug, kind.value), payload
