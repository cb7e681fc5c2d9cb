"""Alerts of ``/ISAPI/Event/notification/alertStream``: parsed, classified, made into events.

The alert stream is ``multipart/mixed``; each part is an
``EventNotificationAlert`` (XML on most firmware, JSON on some newer
models; JPEG parts of smart events are skipped). What matters in it:

- ``eventType`` (``VMD``, ``fielddetection``, ``linedetection`` ...) is the
  raw code, kept in `CameraEvent.topic`; `classify` maps it to `EventKind`;
- ``eventState`` ``active``/``inactive``: start and end. Many event types
  never send ``inactive``: they repeat ``active`` about once a second while
  they last, so an activity also ends ``event_timeout`` seconds after its
  last ``active`` (see `_events`);
- ``videoloss`` with ``eventState=inactive`` arrives every few seconds on
  an idle stream: a heartbeat, not an event;
- ``dynChannelID`` (NVRs: the camera's channel) or ``channelID`` names the
  channel; ``inputIOPortID``/``dynInputIOPortID`` an alarm input;
- ``targetType``/``detectionTarget`` (``human``, ``vehicle``) on smart and
  AcuSense events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from camsdk.driver import EventKind, Part
from camsdk.driver import xml as x

__all__ = ["Alert", "classify", "parse_alert", "parse_alert_json", "parse_alert_xml"]

# eventType (lower-cased) -> kind.
_KINDS: dict[str, EventKind] = {
    "vmd": EventKind.MOTION,
    "motiondetection": EventKind.MOTION,
    "pir": EventKind.MOTION,
    "fielddetection": EventKind.INTRUSION,
    "intrusion": EventKind.INTRUSION,
    "regionentrance": EventKind.INTRUSION,
    "regionexiting": EventKind.INTRUSION,
    "linedetection": EventKind.LINE_CROSSING,
    "linecrossing": EventKind.LINE_CROSSING,
    "io": EventKind.INPUT,
    "alarmin": EventKind.INPUT,
    "tamperdetection": EventKind.TAMPER,
    "shelteralarm": EventKind.TAMPER,
    "defocus": EventKind.TAMPER,
    "scenechangedetection": EventKind.TAMPER,
    "videotampering": EventKind.TAMPER,
    "audioexception": EventKind.SOUND,
    "audiodetection": EventKind.SOUND,
    "facedetection": EventKind.FACE_DETECTED,
    "facesnap": EventKind.FACE_DETECTED,
    "humandetection": EventKind.PERSON,
    "peopledetection": EventKind.PERSON,
    "vehicledetection": EventKind.VEHICLE,
    "anpr": EventKind.VEHICLE,
}
_TARGETS = {"human": EventKind.PERSON, "person": EventKind.PERSON,
            "vehicle": EventKind.VEHICLE, "car": EventKind.VEHICLE,
            "animal": EventKind.ANIMAL}
#: Longest text kept from any alert field (hostile firmware sends megabytes).
_FIELD = 200


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as the device sent it (fields capped in length)."""

    event_type: str
    active: bool
    channel: int | None = None
    port: int | None = None
    time: datetime | None = None
    description: str = ""
    region: str = ""
    target: str = ""
    channel_name: str = ""

    @property
    def heartbeat(self) -> bool:
        """``videoloss`` + ``inactive``: the device saying it is alive."""
        return not self.active and self.event_type.lower() == "videoloss"

    @property
    def device_wide(self) -> bool:
        """Alerts that name no video channel (alarm inputs, disks): every camera gets them."""
        return self.channel is None


def classify(event_type: str, target: str = "") -> EventKind:
    """The `EventKind` of an ``eventType``, refined by a target class on motion.

    Line crossing and intrusion keep their kind whatever crossed (the target
    is in ``extra["target"]``); plain and AcuSense motion with a ``human`` or
    ``vehicle`` target become `EventKind.PERSON` / `EventKind.VEHICLE`.
    """
    kind = _KINDS.get(event_type.strip().lower(), EventKind.OTHER)
    if kind in (EventKind.MOTION, EventKind.OTHER) and target:
        return _TARGETS.get(target.strip().lower(), kind)
    return kind


def _number(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 <= number < 1_000_000 else None


def _cap(value: Any) -> str:
    return str(value).strip()[:_FIELD] if value is not None else ""


def _build(fields: dict[str, Any]) -> Alert | None:
    event_type = _cap(fields.get("eventType"))
    if not event_type:
        return None
    channel = _number(fields.get("dynChannelID") or "")
    if channel is None:
        channel = _number(fields.get("channelID") or "")
    port = _number(fields.get("dynInputIOPortID") or "")
    if port is None:
        port = _number(fields.get("inputIOPortID") or "")
    if channel == 0:  # some firmware writes 0 for "no channel"
        channel = None
    return Alert(
        event_type=event_type,
        active=_cap(fields.get("eventState")).lower() != "inactive",
        channel=channel,
        port=port,
        time=x.parse_datetime(_cap(fields.get("dateTime"))),
        description=_cap(fields.get("eventDescription")),
        region=_cap(fields.get("regionID")),
        target=_cap(fields.get("targetType") or fields.get("detectionTarget")),
        channel_name=_cap(fields.get("channelName")),
    )


_WANTED = ("eventType", "eventState", "dynChannelID", "channelID", "dynInputIOPortID",
           "inputIOPortID", "dateTime", "eventDescription", "channelName")
_DEEP = ("regionID", "targetType", "detectionTarget")


def parse_alert_xml(root: Element) -> Alert | None:
    """An ``EventNotificationAlert`` element (None for other documents)."""
    if x.local(root.tag) != "EventNotificationAlert":
        return None
    fields: dict[str, Any] = {name: x.text(root, name) for name in _WANTED}
    for name in _DEEP:
        node = next(x.iter_named(root, name), None)
        if node is not None and node.text:
            fields[name] = node.text
    return _build(fields)


def _find_key(data: Any, name: str, depth: int = 0) -> Any:
    if depth > 6:
        return None
    if isinstance(data, dict):
        if name in data:
            return data[name]
        items = list(data.values())
    elif isinstance(data, list):
        items = data[:16]
    else:
        return None
    for item in items:
        found = _find_key(item, name, depth + 1)
        if found is not None:
            return found
    return None


def parse_alert_json(data: Any) -> Alert | None:
    """A JSON alert (flat, or wrapped in ``EventNotificationAlert``)."""
    if isinstance(data, dict) and isinstance(data.get("EventNotificationAlert"), dict):
        data = data["EventNotificationAlert"]
    if not isinstance(data, dict):
        return None
    fields = {name: data.get(name) for name in _WANTED}
    for name in _DEEP:
        value = _find_key(data, name)
        if isinstance(value, str | int):
            fields[name] = value
    return _build(fields)


def parse_alert(part: Part) -> Alert | None:
    """The alert in one multipart part; None for pictures, empty parts and junk.

    Raises `camsdk.driver.xml.XmlError` or `ValueError` for a malformed one.
    """
    body = part.body.strip()
    kind = part.content_type
    if not body or kind.startswith("image/") or body[:2] == b"\xff\xd8":
        return None
    if kind.endswith("json") or body[:1] == b"{":
        return parse_alert_json(json.loads(body))
    return parse_alert_xml(x.parse(body))
