"""Ring's events in three shapes, normalised to `Ding` records and `CameraEvent`s.

- **push** notifications (format 2.0.0): ``android_config.category`` says
  what happened (``com.ring.pn.live-event.ding``, ``...motion``,
  ``...intercom``), ``data.device`` which device (``id``, ``kind``,
  ``e2ee_enabled``), ``data.event.ding`` the ding (``id`` as text,
  ``created_at``, ``subtype`` such as ``human``), ``img.snapshot_uuid`` its
  picture; intercom unlocks come as ``data.gcmData`` with ``action``
  ``com.ring.push.INTERCOM_UNLOCK_FROM_APP`` and ``alarm_meta.device_zid``;
- **active dings** (``GET /clients_api/dings/active``): ``id``/``id_str``,
  ``kind`` (``ding``, ``motion``, ``on_demand``), ``doorbot_id``,
  ``device_kind``, ``detection_type``;
- **history** events (``.../devices/<id>/events``): ``ding_id``/
  ``ding_id_str``, ``kind``, ``created_at``, ``cv_properties``.

Ding ids exceed 2**53: they are read as text (``id_str``, ``ding_id_str``) or
exact integers, never floats. A Ring event is momentary: each ding becomes a
start and an end with the same ``event_id`` (the ding id), so every path
(push, polling, history) produces the same id and duplicates are found by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from camsdk.driver import CameraEvent, EventKind

from ._devices import RingDevice, device_id

__all__ = [
    "Ding",
    "ding_from_active",
    "ding_from_history",
    "ding_from_push",
    "events_of",
    "parse_time",
    "ring_kind",
]

_CATEGORIES = {
    "com.ring.pn.live-event.ding": "ding",
    "com.ring.pn.live-event.motion": "motion",
    "com.ring.pn.live-event.intercom": "ding",
    "com.ring.push.HANDLE_NEW_DING": "ding",
    "com.ring.push.HANDLE_NEW_motion": "motion",
    "com.ring.push.INTERCOM_UNLOCK_FROM_APP": "intercom_unlock",
}
_DETECTIONS = {
    "human": EventKind.PERSON, "person": EventKind.PERSON,
    "vehicle": EventKind.VEHICLE, "moving_vehicle": EventKind.VEHICLE,
    "package_delivery": EventKind.PACKAGE, "package_pickup": EventKind.PACKAGE,
    "animal": EventKind.ANIMAL,
}
# Live views started by someone: not events of the device.
_SKIPPED = frozenset({"on_demand", "on_demand_link"})


@dataclass(frozen=True, slots=True)
class Ding:
    """One Ring event, whichever way it came (see the module docstring)."""

    id: str
    device_key: str
    raw: str
    kind: EventKind
    at: datetime
    source: str
    detection: str = ""
    snapshot_uuid: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _text(value: object, limit: int = 64) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return value[:limit] if isinstance(value, str) else ""


def _ding_id(text_value: object, number: object) -> str:
    text = _text(text_value)
    if text.isdigit() or (text and all(c.isalnum() or c in "-_" for c in text)):
        return text
    ident = device_id(number)  # exact ints only: a float id would be a rounded one
    return str(ident) if ident is not None else ""


def parse_time(value: object) -> datetime:
    """ISO text, or UNIX seconds / milliseconds; now when absent or unreadable."""
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return datetime.now(UTC)


def ring_kind(raw: str, detection: str) -> EventKind | None:
    if raw in _SKIPPED:
        return None
    if raw == "ding":
        return EventKind.DOORBELL
    if raw == "motion":
        return _DETECTIONS.get(detection, EventKind.MOTION)
    return EventKind.OTHER


def family_of(kind: str) -> str:
    """The device family of a ``kind`` code, when no device list says it."""
    if kind == "intercom_handset_audio":
        return "intercom"
    if kind.startswith(("doorbell", "doorbot", "lpd_", "jbox_", "cocoa_doorbell")):
        return "doorbot"
    return "stickup_cam"


def device_key(ident: object, kind: object, devices: list[RingDevice]) -> str:
    """The key of the device with ``ident`` (and ``kind`` code, ids repeat across families)."""
    number = device_id(ident)
    if number is None:
        return ""
    kind_text = _text(kind)
    matches = [d for d in devices if d.id == number]
    if len(matches) > 1 and kind_text:
        matches = [d for d in matches if d.kind == kind_text] or matches
    if matches:
        return matches[0].key
    return f"{family_of(kind_text)}-{number}"


def _detection(*values: object) -> str:
    for value in values:
        text = _text(value).lower()
        if text and text != "null":
            return text
    return ""


def ding_from_push(message: Mapping[str, Any], devices: list[RingDevice]) -> Ding | None:
    """A push notification as a `Ding`, or ``None`` when it is not a camera event."""
    data = message.get("data")
    if not isinstance(data, Mapping):
        return None
    gcm = data.get("gcmData")
    if isinstance(gcm, Mapping):  # alarm-style notifications: intercom unlocks
        raw = _CATEGORIES.get(_text(gcm.get("action"), 128), "")
        meta = gcm.get("alarm_meta") if isinstance(gcm.get("alarm_meta"), Mapping) else {}
        assert isinstance(meta, Mapping)
        if raw != "intercom_unlock":
            return None
        key = device_key(meta.get("device_zid"), "intercom_handset_audio", devices)
        if not key:
            return None
        return Ding(id=_ding_id(gcm.get("ding_id_str"), gcm.get("ding_id")), device_key=key,
                    raw=raw, kind=EventKind.OTHER, at=parse_time(gcm.get("triggered_at")),
                    source="push", extra={"action": _text(gcm.get("action"), 128)})
    config = message.get("android_config")
    category = _text(config.get("category"), 128) if isinstance(config, Mapping) else ""
    device = data.get("device") if isinstance(data.get("device"), Mapping) else {}
    event = data.get("event") if isinstance(data.get("event"), Mapping) else {}
    assert isinstance(device, Mapping) and isinstance(event, Mapping)
    ding = event.get("ding") if isinstance(event.get("ding"), Mapping) else {}
    assert isinstance(ding, Mapping)
    raw = _CATEGORIES.get(category, "")
    subtype = _text(ding.get("subtype")).lower()
    if not raw:
        raw = "ding" if subtype == "ding" else "motion" if subtype else ""
    detection = _detection(ding.get("detection_type"), subtype if subtype != raw else "")
    kind = ring_kind(raw, detection)
    key = device_key(device.get("id"), device.get("kind"), devices)
    if kind is None or not key:
        return None
    img = message.get("img") if isinstance(message.get("img"), Mapping) else {}
    assert isinstance(img, Mapping)
    return Ding(
        id=_ding_id(ding.get("id"), ding.get("id")), device_key=key, raw=raw, kind=kind,
        at=parse_time(ding.get("created_at")), source="push", detection=detection,
        snapshot_uuid=_text(img.get("snapshot_uuid"), 128),
        extra={"category": category, "e2ee": bool(device.get("e2ee_enabled"))},
    )


def ding_from_active(item: Mapping[str, Any], devices: list[RingDevice]) -> Ding | None:
    """An entry of ``dings/active`` as a `Ding`."""
    raw = _text(item.get("kind")).lower()
    detection = _detection(item.get("detection_type"))
    kind = ring_kind(raw, detection)
    key = device_key(item.get("doorbot_id"), item.get("device_kind"), devices)
    if kind is None or not key:
        return None
    return Ding(
        id=_ding_id(item.get("id_str"), item.get("id")), device_key=key, raw=raw, kind=kind,
        at=parse_time(item.get("created_at") or item.get("now")), source="poll",
        detection=detection,
        snapshot_uuid=_text(item.get("snapshot_uuid"), 128),
        extra={"state": _text(item.get("state"))},
    )


def ding_from_history(item: Mapping[str, Any], device: RingDevice) -> Ding | None:
    """An entry of a device's event history as a `Ding`."""
    raw = _text(item.get("kind")).lower()
    cv = item.get("cv_properties") if isinstance(item.get("cv_properties"), Mapping) else {}
    assert isinstance(cv, Mapping)
    detection = _detection(cv.get("detection_type"), "human" if cv.get("person_detected")
                           else None)
    kind = ring_kind(raw, detection)
    if kind is None:
        return None
    return Ding(
        id=_ding_id(item.get("ding_id_str"), item.get("ding_id")), device_key=device.key,
        raw=raw, kind=kind, at=parse_time(item.get("created_at")), source="history",
        detection=detection, extra={"recording_status": _text(item.get("recording_status"))},
    )


def events_of(ding: Ding, camera_id: str) -> list[CameraEvent]:
    """The start and the end of a momentary Ring event, sharing the ding id."""
    extra: dict[str, Any] = {"ding_id": ding.id, "ring_kind": ding.raw, "source": ding.source,
                             "device": ding.device_key, **ding.extra}
    if ding.detection:
        extra["detection"] = ding.detection
    if ding.snapshot_uuid:
        extra["snapshot_uuid"] = ding.snapshot_uuid
    topic = f"ring/{ding.raw}" + (f"/{ding.detection}" if ding.detection else "")
    event_id = ding.id or f"{ding.device_key}:{ding.raw}:{int(ding.at.timestamp() * 1000)}"
    start = CameraEvent(kind=ding.kind, camera_id=camera_id, event_id=event_id, active=True,
                        started_at=ding.at, device_time=ding.at, vendor="ring", topic=topic,
                        extra=extra)
    end = start.model_copy(update={"active": False, "ended_at": ding.at})
    return [start, end]
