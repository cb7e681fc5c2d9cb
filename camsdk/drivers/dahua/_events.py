"""Dahua events: what the device sends, read and normalised to `CameraEvent`.

The CGI event stream (``eventManager.cgi?action=attach&codes=[All]``) is a
``multipart/x-mixed-replace`` body whose text parts hold one or more events::

    Code=VideoMotion;action=Start;index=0
    Code=CrossLineDetection;action=Start;index=0;data={
       "Name" : "Rule1",
       "Object" : { "ObjectType" : "Human" }
    }

and ``Heartbeat`` parts every ``heartbeat`` seconds. The RPC2 channel carries
the same events as JSON (``client.notifyEventStream``, ``eventList`` items
with ``Code``, ``Action``, ``Index``, ``Data``). `parse_event_text` and
`parse_notify` read both into `DahuaEvent`; `to_events` normalises one.

``index`` counts channels from 0 (channel 1 is index 0) for video codes; for
alarm inputs and door stations it numbers the input, so those events belong
to every channel of the device (`channel_of` returns None).

=========================  =====================  =========================
Dahua code                 `EventKind`            notes
=========================  =====================  =========================
VideoMotion                MOTION                 PERSON/VEHICLE when the
                                                  data names the object
SmartMotionHuman           PERSON
SmartMotionVehicle         VEHICLE
CrossLineDetection         LINE_CROSSING          rule name -> ``zone``
CrossRegionDetection       INTRUSION              rule name -> ``zone``
AlarmLocal                 INPUT                  device-wide
VideoBlind, SceneChange    TAMPER
DoorBell, DoorbellPress,   DOORBELL               VTO door stations
CallNoAnswered
AudioMutation,             SOUND
AudioAnomaly
FaceDetection              FACE_DETECTED
AnimalDetection            ANIMAL
IntelliFrame, NewFile,     (ignored)              bookkeeping, not events
VideoMotionInfo
anything else              OTHER                  raw code kept
=========================  =====================  =========================

``action=Start`` is a start (``active=True``), ``Stop`` its end, ``Pulse``
(and any other action) a momentary event: a start and its end at once.
``topic`` is the code; ``extra`` keeps ``code``, ``action``, ``index``,
``channel`` and the ``data`` as the device sent it (bounded).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from camsdk.driver import CameraEvent, EventKind

__all__ = [
    "DahuaEvent",
    "JsonObjects",
    "channel_of",
    "classify",
    "parse_event_text",
    "parse_notify",
    "to_events",
]

#: Bytes of one event's ``data`` that are parsed (a bigger one is kept as text, cut).
MAX_DATA = 64 * 1024
_MAX_RAW_KEPT = 2048
_MAX_EVENTS_PER_PART = 256

_KINDS: dict[str, EventKind] = {
    "videomotion": EventKind.MOTION,
    "smartmotionhuman": EventKind.PERSON,
    "smartmotionvehicle": EventKind.VEHICLE,
    "crosslinedetection": EventKind.LINE_CROSSING,
    "crossregiondetection": EventKind.INTRUSION,
    "alarmlocal": EventKind.INPUT,
    "videoblind": EventKind.TAMPER,
    "scenechange": EventKind.TAMPER,
    "videoabnormaldetection": EventKind.TAMPER,
    "doorbell": EventKind.DOORBELL,
    "doorbellpress": EventKind.DOORBELL,
    "callnoanswered": EventKind.DOORBELL,
    "audiomutation": EventKind.SOUND,
    "audioanomaly": EventKind.SOUND,
    "facedetection": EventKind.FACE_DETECTED,
    "animaldetection": EventKind.ANIMAL,
}
_IGNORED = frozenset({"intelliframe", "newfile", "videomotioninfo", "heartbeat"})
# Codes whose ``index`` is a video channel; the others are device-wide.
_VIDEO_PREFIXES = ("video", "smart", "cross", "face", "audio", "scene", "animal", "left",
                   "takenaway", "wander", "parking", "rioter", "move", "fight")
_OBJECTS = {"human": EventKind.PERSON, "person": EventKind.PERSON,
            "vehicle": EventKind.VEHICLE, "motorvehicle": EventKind.VEHICLE,
            "nonmotor": EventKind.VEHICLE, "animal": EventKind.ANIMAL}


@dataclass(frozen=True, slots=True)
class DahuaEvent:
    """One event as the device sent it."""

    code: str
    action: str
    index: int | None = None
    data: Any = None
    source: str = "cgi"
    #: ``data`` that was not JSON (firmware quirks), kept as text, bounded.
    raw_data: str = field(default="", repr=False)


def _parse_data(text: str) -> tuple[Any, str]:
    text = text.strip()
    if not text:
        return None, ""
    if len(text) <= MAX_DATA:
        try:
            return json.loads(text), ""
        except (ValueError, RecursionError):
            pass
    return None, text[:_MAX_RAW_KEPT]


def _record(text: str, source: str) -> DahuaEvent | None:
    head, sep, data_text = text.partition(";data=")
    fields: dict[str, str] = {}
    for item in head.split(";")[:16]:
        key, eq, value = item.partition("=")
        if eq:
            fields[key.strip().lower()] = value.strip()
    code = fields.get("code", "")[:64]
    if not code:
        return None
    index_text = fields.get("index", "")
    index = int(index_text) if index_text.isdigit() and len(index_text) < 6 else None
    data, raw = _parse_data(data_text) if sep else (None, "")
    return DahuaEvent(code, fields.get("action", "")[:32], index, data, source, raw)


def parse_event_text(text: str, *, source: str = "cgi") -> list[DahuaEvent]:
    """The events of one text part (``Code=...;action=...;index=...[;data={...}]``)."""
    starts: list[int] = []
    position = text.find("Code=")
    while position >= 0 and len(starts) < _MAX_EVENTS_PER_PART:
        if position == 0 or text[position - 1] in "\r\n":
            starts.append(position)
        position = text.find("Code=", position + 5)
    found = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(text)
        event = _record(text[start:end].strip(), source)
        if event is not None:
            found.append(event)
    return found


def parse_notify(message: Mapping[str, Any]) -> list[DahuaEvent]:
    """The events of one RPC2 ``client.notifyEventStream`` message."""
    if message.get("method") != "client.notifyEventStream":
        return []
    params = message.get("params")
    items = params.get("eventList") if isinstance(params, Mapping) else None
    if not isinstance(items, list):
        return []
    found = []
    for item in items[:_MAX_EVENTS_PER_PART]:
        if not isinstance(item, Mapping):
            continue
        code, action, index = item.get("Code"), item.get("Action"), item.get("Index")
        if not isinstance(code, str) or not code:
            continue
        found.append(DahuaEvent(
            code[:64],
            action[:32] if isinstance(action, str) else "",
            index if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 99999
            else None,
            item.get("Data"),
            "rpc2",
        ))
    return found


def classify(code: str, data: Any = None) -> EventKind | None:
    """The `EventKind` of a Dahua code (None: not an event worth reporting)."""
    folded = code.lower()
    if folded in _IGNORED:
        return None
    kind = _KINDS.get(folded, EventKind.OTHER)
    if kind in (EventKind.MOTION, EventKind.OTHER) and isinstance(data, Mapping):
        found = data.get("Object")
        objects = [found] if isinstance(found, Mapping) else []
        listed = data.get("Objects")
        if isinstance(listed, list):
            objects += [o for o in listed[:16] if isinstance(o, Mapping)]
        for obj in objects:
            refined = _OBJECTS.get(str(obj.get("ObjectType", "")).lower())
            if refined is not None:
                return refined
    return kind


def channel_of(event: DahuaEvent) -> int | None:
    """The 1-based channel an event belongs to, or None for a device-wide one."""
    if event.index is None or not event.code.lower().startswith(_VIDEO_PREFIXES):
        return None
    return event.index + 1


def _device_time(data: Any) -> datetime | None:
    if not isinstance(data, Mapping):
        return None
    stamp = data.get("UTC")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool) and 0 < stamp < 2**33:
        return datetime.fromtimestamp(float(stamp), UTC)
    return None


def _bounded(data: Any) -> Any:
    """``data`` if its JSON form is small, else a note of its size (memory stays bounded)."""
    if data is None:
        return None
    try:
        size = len(json.dumps(data, separators=(",", ":")))
    except (TypeError, ValueError, RecursionError):
        return None
    return data if size <= _MAX_RAW_KEPT * 4 else {"truncated_bytes": size}


def to_events(event: DahuaEvent, *, camera_id: str = "") -> list[CameraEvent]:
    """The raw camsdk events of one Dahua event (a Pulse is a start and an end)."""
    kind = classify(event.code, event.data)
    if kind is None:
        return []
    action = event.action.lower()
    phases = (True,) if action == "start" else (False,) if action == "stop" else (True, False)
    name = event.data.get("Name") if isinstance(event.data, Mapping) else None
    zone = name[:64] if isinstance(name, str) and name else None
    extra: dict[str, Any] = {
        "code": event.code,
        "action": event.action,
        "index": event.index,
        "channel": channel_of(event),
        "source": event.source,
    }
    if event.data is not None:
        extra["data"] = _bounded(event.data)
    elif event.raw_data:
        extra["raw_data"] = event.raw_data
    device_time = _device_time(event.data)
    return [
        CameraEvent(
            kind=kind,
            camera_id=camera_id,
            active=active,
            zone=zone,
            device_time=device_time,
            vendor="dahua",
            topic=event.code,
            extra=extra,
        )
        for active in phases
    ]


class JsonObjects:
    """Finds top-level JSON objects in a byte stream (RPC2 notify streams wrap them in
    ``<script>`` tags, multipart parts or nothing at all). Bounded: an object
    larger than ``max_object`` bytes or nested deeper than ``max_depth`` is skipped."""

    def __init__(self, *, max_object: int = 256 * 1024, max_depth: int = 64) -> None:
        self._buf = bytearray()
        self._max_object = max_object
        self._max_depth = max_depth
        self._start = -1
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._scan = 0
        #: Objects dropped for size, depth or malformed JSON.
        self.skipped = 0

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes; return the complete objects they finished."""
        self._buf += data
        out: list[dict[str, Any]] = []
        buf = self._buf
        i = self._scan
        while i < len(buf):
            byte = buf[i]
            if self._start < 0:
                if byte == 0x7B:  # {
                    self._start, self._depth = i, 1
                i += 1
                continue
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif byte == 0x5C:
                    self._escape = True
                elif byte == 0x22:
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True
            elif byte in (0x7B, 0x5B):
                self._depth += 1
                if self._depth > self._max_depth:
                    self._reset(i + 1)
                    self.skipped += 1
                    i = 0
                    continue
            elif byte in (0x7D, 0x5D):
                self._depth -= 1
                if self._depth == 0:
                    self._take(bytes(buf[self._start : i + 1]), out)
                    self._reset(i + 1)
                    i = 0
                    continue
            i += 1
            if self._start >= 0 and i - self._start > self._max_object:
                self._reset(i)
                self.skipped += 1
                i = 0
        # Keep only what an unfinished object needs.
        keep_from = self._start if self._start >= 0 else len(buf)
        del buf[:keep_from]
        if self._start >= 0:
            self._start = 0
        self._scan = len(buf)
        return out

    def _reset(self, position: int) -> None:
        del self._buf[:position]
        self._start, self._depth, self._in_string, self._escape = -1, 0, False, False
        self._scan = 0

    def _take(self, raw: bytes, out: list[dict[str, Any]]) -> None:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            self.skipped += 1
            return
        if isinstance(value, dict):
            out.append(value)
