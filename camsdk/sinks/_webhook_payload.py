"""Webhook bodies: camsdk's own event JSON, and a Frigate-style event payload.

**camsdk** (the default): the `CameraEvent` JSON, plus

- ``snapshot``: the event's picture, when it has one (``cam.events(
  with_snapshot=True)``): ``{"content_type": "image/jpeg", "width", "height",
  "captured_at", "source", "jpeg_base64"}``;
- ``clip``: a path or URL of a recording of the event, when a recorder put
  one in ``event.extra["clip"]``.

The picture travels base64-encoded inside the JSON, not as a multipart
part: every webhook receiver (a serverless function, Node-RED, Home
Assistant's webhook trigger) parses JSON, few parse multipart; the event and
its picture arrive, and are signed, as one object; and the 4/3 size of
base64 on a ~100 KB still costs less than a second parser in every receiver.

**frigate**: what Frigate publishes on ``frigate/events``, so automations
written for Frigate work unchanged: ``{"type": "new" | "update" | "end",
"before": {...}, "after": {...}}``, where ``before`` is the previous state of
the same activity (equal to ``after`` for ``new``) and ``after`` has
Frigate's fields (``id``, ``camera``, ``label``, ``score``, ``top_score``,
``start_time``, ``end_time``, ``box``, ``current_zones``, ``entered_zones``,
``has_snapshot``, ``has_clip`` ...). Our mapping, written from Frigate's
public documentation of that topic:

- ``label``: ``person``, ``car`` (vehicle), ``animal``, ``package``, ``face``
  (face_detected), else the event kind (``motion``, ``doorbell`` ...);
- ``score``: the detector's score; ``1.0`` for plain triggers (motion,
  doorbell), which are certain and for which Frigate has no "no score";
- times are UNIX seconds; ``box``/``region`` are pixel ``[x1, y1, x2, y2]``
  when the event has a region and the frame size is known (from a snapshot
  of the activity), else ``null``, with ``area`` and ``ratio`` to match;
- ``stationary`` is false, ``motionless_count`` and ``position_changes`` 0,
  ``false_positive`` false, ``sub_label`` and ``thumbnail`` null (camsdk
  tracks activities, not objects).

``snapshot`` and ``clip`` ride along at the top level, as in the camsdk
format. Activities are tracked per ``event_id`` until their end (at most
`FrigateMapper.max_open` at a time; the oldest is forgotten beyond that).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .._models import CameraEvent, EventKind, Snapshot

__all__ = ["FrigateMapper", "camsdk_payload", "clip_of", "encode_body", "snapshot_json"]

_LABELS: dict[EventKind, str] = {
    EventKind.PERSON: "person",
    EventKind.VEHICLE: "car",
    EventKind.ANIMAL: "animal",
    EventKind.PACKAGE: "package",
    EventKind.FACE_DETECTED: "face",
}


def encode_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    """The ``snapshot`` field: metadata and the JPEG in base64."""
    return {
        "content_type": "image/jpeg",
        "width": snapshot.width,
        "height": snapshot.height,
        "captured_at": snapshot.captured_at.isoformat(),
        "source": snapshot.source,
        "jpeg_base64": base64.b64encode(snapshot.jpeg).decode("ascii"),
    }


def clip_of(event: CameraEvent) -> str | None:
    """The clip reference in ``event.extra["clip"]`` (a path or URL), if any."""
    clip = event.extra.get("clip")
    return clip if isinstance(clip, str) and clip else None


def _event_dict(event: CameraEvent) -> dict[str, Any]:
    try:
        data: dict[str, Any] = event.model_dump(mode="json")
    except Exception:  # a driver put something odd in ``extra``
        data = event.model_dump(mode="json", fallback=str)
    return data


def _attachments(event: CameraEvent, with_snapshot: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if with_snapshot and event.snapshot is not None:
        extra["snapshot"] = snapshot_json(event.snapshot)
    clip = clip_of(event)
    if clip is not None:
        extra["clip"] = clip
    return extra


def camsdk_payload(event: CameraEvent, *, with_snapshot: bool = True) -> dict[str, Any]:
    """The camsdk body: the event JSON with ``snapshot`` and ``clip`` when present."""
    return _event_dict(event) | _attachments(event, with_snapshot)


@dataclass(slots=True)
class _Activity:
    """What the mapper remembers of one open activity."""

    last: dict[str, Any]
    top_score: float
    zones: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None
    snapshot_time: float = 0.0
    has_snapshot: bool = False
    has_clip: bool = False


class FrigateMapper:
    """Turns a camera's events into Frigate ``frigate/events`` payloads.

    Stateful: ``new``, ``update`` and ``end`` of one activity (one
    ``event_id``) refer to each other through ``before``. Feed it events in
    the order they happened.
    """

    def __init__(self, *, max_open: int = 1024) -> None:
        self.max_open = max_open
        self._open: OrderedDict[str, _Activity] = OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    def payload(self, event: CameraEvent, *, with_snapshot: bool = True) -> dict[str, Any]:
        """The Frigate-style body for ``event`` (and the mapper's memory updated)."""
        key = f"{event.camera_id}\x00{event.event_id}"
        activity = self._open.get(key)
        score = 1.0 if event.score is None else event.score
        if activity is None:
            kind = "new" if event.active else "end"
            activity = _Activity(last={}, top_score=score)
        else:
            kind = "update" if event.active else "end"
            activity.top_score = max(activity.top_score, score)
        if event.snapshot is not None:
            activity.size = (event.snapshot.width, event.snapshot.height)
            activity.snapshot_time = event.snapshot.captured_at.timestamp()
            activity.has_snapshot = True
        activity.has_clip = activity.has_clip or clip_of(event) is not None
        if event.zone and event.zone not in activity.zones:
            activity.zones.append(event.zone)
        after = self._object(event, activity, score)
        before = activity.last or after
        if event.active:
            activity.last = after
            self._open[key] = activity
            self._open.move_to_end(key)
            while len(self._open) > self.max_open:
                self._open.popitem(last=False)
        else:
            self._open.pop(key, None)
        return {"type": kind, "before": before, "after": after} | _attachments(event, with_snapshot)

    @staticmethod
    def _object(event: CameraEvent, activity: _Activity, score: float) -> dict[str, Any]:
        box = area = ratio = None
        if event.region is not None and activity.size is not None:
            width, height = activity.size
            x, y, w, h = event.region
            x1, y1 = round(x * width), round(y * height)
            x2, y2 = round((x + w) * width), round((y + h) * height)
            box = [x1, y1, x2, y2]
            area = (x2 - x1) * (y2 - y1)
            ratio = round((x2 - x1) / (y2 - y1), 6) if y2 > y1 else None
        end_time = None
        if not event.active:
            end_time = (event.ended_at or event.received_at).timestamp()
        return {
            "id": event.event_id,
            "camera": event.camera_id,
            "frame_time": event.received_at.timestamp(),
            "snapshot_time": activity.snapshot_time,
            "label": _LABELS.get(event.kind, event.kind.value),
            "sub_label": None,
            "top_score": activity.top_score,
            "false_positive": False,
            "start_time": event.started_at.timestamp(),
            "end_time": end_time,
            "score": score,
            "box": box,
            "area": area,
            "ratio": ratio,
            "region": box,
            "current_zones": [event.zone] if event.active and event.zone else [],
            "entered_zones": list(activity.zones),
            "thumbnail": None,
            "has_snapshot": activity.has_snapshot,
            "has_clip": activity.has_clip,
            "stationary": False,
            "motionless_count": 0,
            "position_changes": 0,
        }
