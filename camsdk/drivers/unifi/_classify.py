"""Protect's events as camsdk events: kinds, lifecycle and recovery after a reconnect.

A Protect event (``modelKey: event``) is added when it starts, updated while
it runs (smart detection types join, the score grows) and updated once more
with ``end``. One Protect event can carry several object types (a person
*and* a vehicle in one smart detection); each becomes its own camsdk event,
``<protect id>:<type>``, started when the type first appears and ended with
the Protect event. `EventTracker` keeps the active ones, so an update never
starts an event twice, and `EventTracker.recover` turns the console's list of
recent events after a reconnect into exactly the starts and ends missed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from camsdk.driver import CameraEvent, EventKind

__all__ = ["KINDS", "EventTracker", "classify"]

#: Smart detection object types -> camsdk kinds.
OBJECT_KINDS: dict[str, EventKind] = {
    "person": EventKind.PERSON,
    "vehicle": EventKind.VEHICLE,
    "animal": EventKind.ANIMAL,
    "package": EventKind.PACKAGE,
    "licenseplate": EventKind.VEHICLE,
    "face": EventKind.FACE_DETECTED,
}

#: Protect event types -> camsdk kinds (smart detections go by object type).
KINDS: dict[str, EventKind] = {
    "motion": EventKind.MOTION,
    "ring": EventKind.DOORBELL,
    "smartaudiodetect": EventKind.SOUND,
    "smartdetectline": EventKind.LINE_CROSSING,
    "smartdetectloiterzone": EventKind.INTRUSION,
    "smartdetectzone": EventKind.MOTION,
}

# Active events kept per tracker at most; the oldest are ended past it.
_MAX_ACTIVE = 1024


def _when(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _types(data: Mapping[str, Any]) -> list[str]:
    raw = data.get("smartDetectTypes")
    if not isinstance(raw, list):
        return []
    return [t for t in raw[:16] if isinstance(t, str) and t][:16]


def classify(event_type: str, object_type: str | None) -> EventKind:
    """The camsdk kind of a Protect event type (and smart detection object type)."""
    folded = event_type.lower()
    if object_type is not None and folded in ("smartdetectzone", "smartdetect"):
        return OBJECT_KINDS.get(object_type.lower(), EventKind.OTHER)
    return KINDS.get(folded, EventKind.OTHER)


def _parts(data: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """``(suffix, object type)`` for each camsdk event one Protect event makes."""
    kind = str(data.get("type", "")).lower()
    if kind in ("smartdetectzone", "smartdetect"):
        return [(t, t) for t in _types(data)]
    return [("", None)]


class EventTracker:
    """Active Protect events, turned into camsdk starts and ends (module docstring)."""

    def __init__(self, camera_ids: Mapping[str, str]) -> None:
        #: Protect camera id -> camsdk camera id (events of other cameras are dropped).
        self.camera_ids = camera_ids
        self._active: dict[str, dict[str, Any]] = {}
        self._emitted: dict[str, set[str]] = {}
        # Recently ended ids (insertion-ordered, bounded): a replay never restarts them.
        self._finished: dict[str, None] = {}

    @property
    def active(self) -> frozenset[str]:
        """Protect ids of the events running now."""
        return frozenset(self._active)

    def _make(self, data: Mapping[str, Any], suffix: str, object_type: str | None, *,
              active: bool, topic: str) -> CameraEvent | None:
        camera = str(data.get("camera") or data.get("device") or "")
        camera_id = self.camera_ids.get(camera)
        if camera_id is None:
            return None
        protect_id = str(data.get("id", ""))
        score = data.get("score")
        started = _when(data.get("start")) or datetime.now(UTC)
        extra: dict[str, Any] = {"protect_type": str(data.get("type", "")),
                                 "protect_event": protect_id, "protect_camera": camera}
        if object_type is not None:
            extra["object"] = object_type
        types = _types(data)
        if types:
            extra["smart_types"] = types
        return CameraEvent(
            kind=classify(str(data.get("type", "")), object_type),
            camera_id=camera_id,
            event_id=f"{protect_id}:{suffix}" if suffix else protect_id,
            active=active,
            started_at=started,
            ended_at=None if active else (_when(data.get("end")) or datetime.now(UTC)),
            score=(min(max(float(score), 0.0), 100.0) / 100.0
                   if isinstance(score, int | float) and not isinstance(score, bool) else None),
            device_time=started,
            vendor="unifi",
            topic=topic,
            extra=extra,
        )

    def _starts(self, state: Mapping[str, Any]) -> list[CameraEvent]:
        protect_id = str(state.get("id", ""))
        emitted = self._emitted.setdefault(protect_id, set())
        out = []
        for suffix, object_type in _parts(state):
            if suffix in emitted:
                continue
            event = self._make(state, suffix, object_type, active=True,
                               topic=f"event/{state.get('type', '')}")
            if event is not None:
                emitted.add(suffix)
                out.append(event)
        return out

    def _ends(self, state: Mapping[str, Any]) -> list[CameraEvent]:
        protect_id = str(state.get("id", ""))
        out = []
        for suffix in sorted(self._emitted.pop(protect_id, set())):
            object_type = suffix or None
            event = self._make(state, suffix, object_type, active=False,
                               topic=f"event/{state.get('type', '')}")
            if event is not None:
                out.append(event)
        self._active.pop(protect_id, None)
        self._finished[protect_id] = None
        while len(self._finished) > _MAX_ACTIVE:
            self._finished.pop(next(iter(self._finished)))
        return out

    def update(self, action: str, protect_id: str, data: Mapping[str, Any]) -> list[CameraEvent]:
        """Apply one add/update of an event model; the camsdk events it makes."""
        if protect_id in self._finished:
            return []
        if action == "add":
            state = dict(data)
            state.setdefault("id", protect_id)
        elif action == "update" and protect_id in self._active:
            state = {**self._active[protect_id], **data}
        elif action == "update" and data.get("type") and data.get("start"):
            state = {**data, "id": protect_id}  # an update naming a whole event we missed
        else:
            return []
        protect_id = str(state.get("id", ""))
        if not protect_id:
            return []
        out = self._starts(state)
        if state.get("end"):
            out += self._ends(state)
        elif self._emitted.get(protect_id):
            self._active[protect_id] = state
            self._bound()
        else:
            self._emitted.pop(protect_id, None)
        return out

    def _bound(self) -> None:
        while len(self._active) > _MAX_ACTIVE:
            oldest = next(iter(self._active))
            self._active.pop(oldest)
            self._emitted.pop(oldest, None)

    def recover(self, recent: Iterable[Mapping[str, Any]]) -> list[CameraEvent]:
        """After a reconnect: the starts and ends missed, from the console's recent events.

        An active event that ended meanwhile ends; one that started meanwhile
        starts (and ends, if it is over already); one still running that we
        know is left alone (no duplicate start).
        """
        out: list[CameraEvent] = []
        for data in recent:
            protect_id = str(data.get("id", ""))
            if not protect_id or not data.get("type"):
                continue
            if protect_id in self._active:
                out += self.update("update", protect_id, data)
            else:
                out += self.update("add", protect_id, data)
        return out
