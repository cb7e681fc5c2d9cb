"""Device Access event messages -> normalised camera events, and the media they point to.

A message (the JSON in a Pub/Sub message's ``data``)::

    {"eventId": "...", "timestamp": "2024-08-24T12:00:02.000Z",
     "resourceUpdate": {"name": "enterprises/<p>/devices/<d>",
                        "events": {"sdm.devices.events.CameraMotion.Motion":
                                   {"eventSessionId": "...", "eventId": "..."}}},
     "eventThreadId": "...", "eventThreadState": "STARTED"}

Kinds: ``CameraMotion.Motion`` -> MOTION, ``CameraPerson.Person`` -> PERSON,
``CameraSound.Sound`` -> SOUND, ``DoorbellChime.Chime`` -> DOORBELL; the
raw name is kept as ``topic`` and the ids in ``extra``.

Lifecycle: newer devices send event *threads*: ``STARTED``, ``UPDATED``
(more kinds or media for the same activity) and ``ENDED``. Every message of
a thread shares its ``eventThreadId``, which becomes the ``event_id``:
STARTED and UPDATED are ``active=True``, ENDED ends every kind the thread
carried (an ENDED message often carries only a clip preview). Older
devices send single messages without a thread: a start keyed by the
``eventSessionId``, which the event pipeline's hold closes.

``CameraClipPreview.ClipPreview`` is media, not an event: its
``previewUrl`` (a 10-frame MP4) is kept for the device's snapshots, as is
the ``eventId`` of events a ``CameraEventImage`` device can make an image
for (within 30 seconds of the event). ``resourceUpdate.traits`` with
``Connectivity`` becomes a CONNECTION event. Everything else is skipped.

Bounded: a message over 256 KiB is dropped, at most 1024 threads are
remembered (the oldest forgotten), and text fields are truncated.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from camsdk.driver import CameraEvent, EventKind, Snapshot, get_logger

__all__ = ["EVENT_KINDS", "DeviceMedia", "EventMapper", "MediaRef"]

log = get_logger("camsdk.drivers.nest.events")

EVENTS = "sdm.devices.events."
EVENT_KINDS: dict[str, EventKind] = {
    EVENTS + "CameraMotion.Motion": EventKind.MOTION,
    EVENTS + "CameraPerson.Person": EventKind.PERSON,
    EVENTS + "CameraSound.Sound": EventKind.SOUND,
    EVENTS + "DoorbellChime.Chime": EventKind.DOORBELL,
}
CLIP_PREVIEW = EVENTS + "CameraClipPreview.ClipPreview"
MAX_MESSAGE = 256 * 1024
_MAX_THREADS = 1024
_MAX_ID = 512


def _text(value: Any, limit: int = _MAX_ID) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _when(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Media an event points to: an event id for ``GenerateImage``, or a clip's URL."""

    kind: str  # "image" or "clip"
    ref: str
    at: datetime
    session: str = ""


@dataclass(slots=True)
class DeviceMedia:
    """The newest media of one device, for its snapshots."""

    image: MediaRef | None = None
    clip: MediaRef | None = None
    #: The last picture made from it, and what it was made from.
    cached: Snapshot | None = None
    cached_from: MediaRef | None = None


class EventMapper:
    """Turns messages into ``(device id, CameraEvent)`` pairs, remembering threads and media."""

    def __init__(self) -> None:
        self._threads: OrderedDict[str, dict[str, EventKind]] = OrderedDict()
        self.media: dict[str, DeviceMedia] = {}
        #: Messages read, and messages skipped as malformed or unknown.
        self.messages = 0
        self.skipped = 0

    def parse(self, data: bytes) -> Mapping[str, Any] | None:
        """The message JSON, or ``None`` (logged) when it is too large or not an object."""
        if len(data) > MAX_MESSAGE:
            self.skipped += 1
            log.info("a Device Access message of %d bytes was dropped", len(data))
            return None
        try:
            message = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            message = None
        if not isinstance(message, Mapping):
            self.skipped += 1
            return None
        return message

    def map(self, message: Mapping[str, Any], camera_ids: Mapping[str, str]
            ) -> list[tuple[str, CameraEvent]]:
        """Events of ``message`` for devices in ``camera_ids`` (device id -> camera id)."""
        self.messages += 1
        update = message.get("resourceUpdate")
        if not isinstance(update, Mapping):
            self.skipped += 1  # relation updates (devices added, moved): nothing to report
            return []
        name = _text(update.get("name"))
        parts = name.split("/")
        if len(parts) != 4 or parts[2] != "devices":
            self.skipped += 1
            return []
        device = parts[3]
        when = _when(message.get("timestamp"))
        out: list[tuple[str, CameraEvent]] = []
        events = update.get("events")
        if isinstance(events, Mapping):
            out.extend(self._events(device, message, events, when, camera_ids.get(device, "")))
        traits = update.get("traits")
        if isinstance(traits, Mapping):
            out.extend(self._traits(device, traits, when, camera_ids.get(device, "")))
        return out

    def _events(self, device: str, message: Mapping[str, Any], events: Mapping[str, Any],
                when: datetime, camera_id: str) -> list[tuple[str, CameraEvent]]:
        thread = _text(message.get("eventThreadId"))
        state = _text(message.get("eventThreadState"), 16).upper()
        media = self.media.setdefault(device, DeviceMedia())
        out: list[tuple[str, CameraEvent]] = []
        seen: dict[str, EventKind] = {}
        session = ""
        for name, payload in list(events.items())[:16]:
            body = payload if isinstance(payload, Mapping) else {}
            session = _text(body.get("eventSessionId")) or session
            if name == CLIP_PREVIEW:
                url = _text(body.get("previewUrl"), 2048)
                if url:
                    media.clip = MediaRef("clip", url, when, session)
                continue
            kind = EVENT_KINDS.get(name)
            if kind is None:
                continue
            seen[name] = kind
            sdm_id = _text(body.get("eventId"))
            if sdm_id:
                media.image = MediaRef("image", sdm_id, when, session)
            out.append((device, self._event(kind, name, thread or session, state != "ENDED",
                                            when, camera_id, message, session, sdm_id)))
        if thread:
            known = self._threads.setdefault(thread, {})
            self._threads.move_to_end(thread)
            known.update(seen)
            if state == "ENDED":
                for name, kind in self._threads.pop(thread).items():
                    if name not in seen:  # kinds started earlier in the thread end here
                        out.append((device, self._event(kind, name, thread, False, when,
                                                        camera_id, message, session, "")))
            while len(self._threads) > _MAX_THREADS:
                self._threads.popitem(last=False)
        return out

    @staticmethod
    def _event(kind: EventKind, name: str, event_id: str, active: bool, when: datetime,
               camera_id: str, message: Mapping[str, Any], session: str, sdm_id: str
               ) -> CameraEvent:
        extra: dict[str, Any] = {
            "message_id": _text(message.get("eventId")),
            "event_session_id": session,
            "event_thread_id": _text(message.get("eventThreadId")),
            "event_thread_state": _text(message.get("eventThreadState"), 16),
        }
        if sdm_id:
            extra["sdm_event_id"] = sdm_id
        return CameraEvent(
            kind=kind, camera_id=camera_id, event_id=event_id or _text(message.get("eventId")),
            active=active, started_at=when, ended_at=None if active else when,
            device_time=when, vendor="nest", topic=name,
            extra={k: v for k, v in extra.items() if v},
        )

    @staticmethod
    def _traits(device: str, traits: Mapping[str, Any], when: datetime, camera_id: str
                ) -> list[tuple[str, CameraEvent]]:
        connectivity = traits.get("sdm.devices.traits.Connectivity")
        if not isinstance(connectivity, Mapping):
            return []
        status = _text(connectivity.get("status"), 16).upper()
        return [(device, CameraEvent(
            kind=EventKind.CONNECTION, camera_id=camera_id, event_id="nest:connectivity",
            active=status != "OFFLINE", started_at=when, device_time=when, vendor="nest",
            topic="sdm.devices.traits.Connectivity", extra={"status": status},
        ))]
