"""Home Assistant MQTT discovery payloads for bridged cameras.

Each camera becomes one HA *device* with

- an ``image`` entity fed with JPEG bytes from ``<base>/snapshot``
  (the MQTT ``image`` platform takes raw image bytes on ``image_topic``; the
  older ``camera`` platform does the same but HA now recommends ``image`` for
  stills);
- one ``binary_sensor`` per activity kind, ``ON``/``OFF`` on ``<base>/<kind>``,
  with the closest HA ``device_class``; except the doorbell, which is an
  ``event`` entity (``device_class: doorbell``, event type ``ring``) fed from
  ``<base>/doorbell/event``: a press is momentary, not a state;
- ``sensor`` entities for the stream's state (an enum of `StreamState`
  values) and frame rate;
- a ``switch`` that runs camsdk's software motion detector, for cameras that
  have one;
- a ``switch`` for the device's privacy mode, for cameras that report
  ``Capability.PRIVACY_MODE`` (switching it is an owner-only, audited
  ``config`` action: the bridge's principal needs it in its allow list).

A camera opened from a hub (NVR, account) points at the hub's device with
``via_device``. HA wants that device to exist, and MQTT discovery creates a
device only with an entity, so each camera also announces one diagnostic
``binary_sensor`` *on the hub device*: "<camera> connected", which reads the
camera's availability topic. Per camera, not per hub, so that bridges that
split a hub's cameras between them (``--shard``) never publish conflicting
configs.

Config topics follow ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``
with ``node_id = camsdk_<slug>`` (``camsdk_hub_<hub slug>`` for hub
entities). Publishing an empty retained payload on a config topic removes the
entity.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from .._models import CameraInfo, EventKind, StreamState

__all__ = [
    "DEVICE_CLASSES",
    "EVENT_ENTITY_KINDS",
    "SENSOR_KINDS",
    "binary_sensor_config",
    "config_topic",
    "configuration_url_for",
    "device_block",
    "event_config",
    "hub_device_block",
    "hub_identifier",
    "hub_link_config",
    "image_config",
    "motion_switch_config",
    "privacy_switch_config",
    "stream_fps_config",
    "stream_state_config",
    "topic_slug",
]

#: HA binary_sensor device classes for event kinds. ``None``: a generic sensor
#: (HA has no input class for binary sensors; an icon says it).
DEVICE_CLASSES: dict[EventKind, str | None] = {
    EventKind.MOTION: "motion",
    EventKind.PERSON: "occupancy",
    EventKind.VEHICLE: "motion",
    EventKind.ANIMAL: "motion",
    EventKind.PACKAGE: "presence",
    EventKind.FACE_DETECTED: "occupancy",
    EventKind.SOUND: "sound",
    EventKind.TAMPER: "tamper",
    EventKind.LINE_CROSSING: "motion",
    EventKind.INTRUSION: "safety",
    EventKind.INPUT: None,
}

#: Kinds announced as HA ``event`` entities: (device class, event types).
EVENT_ENTITY_KINDS: dict[EventKind, tuple[str, tuple[str, ...]]] = {
    EventKind.DOORBELL: ("doorbell", ("ring",)),
}

_ICONS: dict[EventKind, str] = {
    EventKind.PERSON: "mdi:walk",
    EventKind.VEHICLE: "mdi:car",
    EventKind.ANIMAL: "mdi:paw",
    EventKind.PACKAGE: "mdi:package-variant-closed",
    EventKind.FACE_DETECTED: "mdi:face-recognition",
    EventKind.LINE_CROSSING: "mdi:vector-line",
    EventKind.INPUT: "mdi:electric-switch",
}

#: Kinds with an ``ON``/``OFF`` topic ``<base>/<kind>`` and an HA entity
#: (state kinds and OTHER only go to ``/events``). The doorbell keeps its
#: ``ON``/``OFF`` topic too, for consumers other than HA.
SENSOR_KINDS: frozenset[EventKind] = frozenset(DEVICE_CLASSES) | frozenset(EVENT_ENTITY_KINDS)

_SLUG_RE = re.compile(r"[^a-z0-9_-]+")

# Schemes whose host is the device itself, and how its web page is reached:
# (scheme of the page, keep the URL's port). RTSP's port is not a web port;
# the vendor schemes' ports are their HTTP API ports.
_WEB_PAGES: dict[str, tuple[str, bool]] = {
    "http": ("http", True),
    "https": ("https", True),
    "hls+http": ("http", True),
    "hls+https": ("https", True),
    "rtsp": ("http", False),
    "rtsps": ("https", False),
    "onvif": ("http", True),
    "hikvision": ("http", True),
    "dahua": ("http", True),
    "reolink": ("http", True),
    "unifi": ("https", True),
}


def topic_slug(text: str) -> str:
    """A topic- and HA-id-safe form of ``text``: ``[a-z0-9_-]``, at most 64 characters."""
    slug = _SLUG_RE.sub("_", text.lower()).strip("_-")[:64]
    if not slug:
        raise ValueError(f"cannot make a topic name from {text!r}")
    return slug


def config_topic(
    discovery_prefix: str, component: str, slug: str, object_id: str, *, node: str | None = None
) -> str:
    """The discovery config topic of one entity (``node`` defaults to ``camsdk_<slug>``)."""
    return f"{discovery_prefix}/{component}/{node or f'camsdk_{slug}'}/{object_id}/config"


def configuration_url_for(url: str) -> str | None:
    """``http://host[:port]`` of a camera URL, for HA's "visit device" link.

    Never carries user info, path or query; ``None`` for URLs whose host is
    not the device (``virtual://``, ``file://``, cloud accounts) or that do
    not parse.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    page = _WEB_PAGES.get(parts.scheme.lower())
    if page is None or not host:
        return None
    scheme, keep_port = page
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if keep_port and port else "")


def hub_identifier(hub: str) -> str:
    """The HA device identifier of hub ``hub``."""
    return f"camsdk_hub_{topic_slug(hub)}"


def _origin() -> dict[str, str]:
    origin = {"name": "camsdk"}
    try:
        origin["sw_version"] = metadata.version("camsdk")
    except metadata.PackageNotFoundError:
        pass
    return origin


def device_block(
    info: CameraInfo | None,
    slug: str,
    name: str | None = None,
    *,
    configuration_url: str | None = None,
    hub: str | None = None,
) -> dict[str, Any]:
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
    if configuration_url:
        device["configuration_url"] = configuration_url
    if hub is not None:
        device["via_device"] = hub_identifier(hub)
    return device


def hub_device_block(hub: str, configuration_url: str | None) -> dict[str, Any]:
    """The HA ``device`` block of hub ``hub`` (an NVR or account)."""
    device: dict[str, Any] = {"identifiers": [hub_identifier(hub)], "name": hub}
    if configuration_url:
        device["configuration_url"] = configuration_url
    return device


def _common(
    slug: str, object_id: str, availability_topic: str | None, device: dict[str, Any]
) -> dict[str, Any]:
    common: dict[str, Any] = {"unique_id": f"camsdk_{slug}_{object_id}"}
    if availability_topic is not None:
        common |= {
            "availability_topic": availability_topic,
            "payload_available": "online",
            "payload_not_available": "offline",
        }
    return common | {"device": device, "origin": _origin()}


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


def _kind_name(kind: EventKind) -> str:
    return kind.value.replace("_", " ").capitalize()


def binary_sensor_config(
    kind: EventKind, *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the ``binary_sensor`` of one event kind."""
    payload: dict[str, Any] = {
        "name": _kind_name(kind),
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


def event_config(
    kind: EventKind, *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the ``event`` entity of a momentary kind (doorbell).

    HA reads ``{"event_type": "ring", ...}`` from ``<base>/<kind>/event``; the
    other keys become attributes of the event.
    """
    device_class, event_types = EVENT_ENTITY_KINDS[kind]
    payload: dict[str, Any] = {
        "name": _kind_name(kind),
        "state_topic": f"{base}/{kind.value}/event",
        "event_types": list(event_types),
        "device_class": device_class,
        **_common(slug, kind.value, f"{base}/availability", device),
    }
    return config_topic(discovery_prefix, "event", slug, kind.value), payload


def stream_state_config(
    *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the stream state ``sensor`` (an enum)."""
    payload: dict[str, Any] = {
        "name": "Stream state",
        "state_topic": f"{base}/stream/state",
        "device_class": "enum",
        "options": [state.value for state in StreamState],
        "entity_category": "diagnostic",
        "icon": "mdi:video-check-outline",
        **_common(slug, "stream_state", f"{base}/availability", device),
    }
    return config_topic(discovery_prefix, "sensor", slug, "stream_state"), payload


def stream_fps_config(
    *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the stream frame rate ``sensor``."""
    payload: dict[str, Any] = {
        "name": "Stream fps",
        "state_topic": f"{base}/stream/fps",
        "unit_of_measurement": "fps",
        "state_class": "measurement",
        "suggested_display_precision": 1,
        "entity_category": "diagnostic",
        "icon": "mdi:filmstrip",
        **_common(slug, "stream_fps", f"{base}/availability", device),
    }
    return config_topic(discovery_prefix, "sensor", slug, "stream_fps"), payload


def _switch_config(
    name: str, object_id: str, icon: str,
    *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """An ON/OFF ``switch``: state on ``<base>/<object_id>``, commands on ``.../set``."""
    payload: dict[str, Any] = {
        "name": name,
        "command_topic": f"{base}/{object_id}/set",
        "state_topic": f"{base}/{object_id}",
        "payload_on": "ON",
        "payload_off": "OFF",
        "state_on": "ON",
        "state_off": "OFF",
        "entity_category": "config",
        "icon": icon,
        **_common(slug, object_id, f"{base}/availability", device),
    }
    return config_topic(discovery_prefix, "switch", slug, object_id), payload


def motion_switch_config(
    *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the "software motion" ``switch``."""
    return _switch_config(
        "Software motion", "software_motion", "mdi:motion-sensor",
        discovery_prefix=discovery_prefix, slug=slug, base=base, device=device,
    )


def privacy_switch_config(
    *, discovery_prefix: str, slug: str, base: str, device: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Topic and payload announcing the "Privacy mode" ``switch``.

    Its state is the device's privacy mode as the camera last read or set it
    (``<base>/privacy_mode``); commands go to ``<base>/privacy_mode/set``.
    """
    return _switch_config(
        "Privacy mode", "privacy_mode", "mdi:eye-off",
        discovery_prefix=discovery_prefix, slug=slug, base=base, device=device,
    )


def hub_link_config(
    hub: str,
    *,
    discovery_prefix: str,
    slug: str,
    camera_name: str,
    base: str,
    configuration_url: str | None,
) -> tuple[str, dict[str, Any]]:
    """Topic and payload of the hub device's "<camera> connected" ``binary_sensor``.

    It reads the camera's availability topic, so it needs no availability of
    its own (an offline camera is exactly what it shows).
    """
    hub_slug = topic_slug(hub)
    payload: dict[str, Any] = {
        "name": f"{camera_name} connected",
        "state_topic": f"{base}/availability",
        "payload_on": "online",
        "payload_off": "offline",
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "unique_id": f"camsdk_hub_{hub_slug}_{slug}",
        "device": hub_device_block(hub, configuration_url),
        "origin": _origin(),
    }
    topic = config_topic(discovery_prefix, "binary_sensor", slug, slug, node=hub_identifier(hub))
    return topic, payload
