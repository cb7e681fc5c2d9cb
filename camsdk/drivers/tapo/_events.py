"""Tapo events: the camera's ONVIF PullPoint, read through camsdk's ``onvif://`` driver.

Tapo cameras have no push channel on their local API; their detections go
out as ONVIF notifications on port 2020, to the camera account. `EventHub`
(one per device session) opens ``onvif://host:2020`` with that account
while anyone listens, and turns each notification into Tapo's own events.

Tapo firmware puts the detection in the *name* of a boolean data item more
than in the topic: ``IsMotion`` on ``RuleEngine/CellMotionDetector/Motion``,
``IsPeople`` on ``RuleEngine/PeopleDetector/People`` (older firmware:
``CellMotionDetector/People``), ``IsVehicle``, ``IsPet`` and ``IsPeople``
on the catch-all ``RuleEngine/TPSmartEventDetector/TPSmartEvent``,
``IsLineCross`` on ``RuleEngine/LineCrossDetector/LineCross``,
``IsIntrusion``, ``IsTamper``, and ``IsBabyCry`` where the model hears
babies. `TAPO_ITEMS` maps each item to an `EventKind`; the item's value
starts (``true``) or ends (``false``) the activity, which keeps one
``event_id`` from start to end. A notification with no item camsdk knows is
passed on as the ONVIF driver classified it.

A wrong camera-account password stops the listener with
`AuthenticationError` at once (no retry loop: the camera locks accounts);
other failures are retried with capped, fully jittered backoff, and each
outage shows as a `EventKind.CONNECTION` event.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Mapping
from typing import Any

from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraEvent,
    CamError,
    Capability,
    Credentials,
    EventKind,
    EventQueue,
    UnsupportedCapabilityError,
    get_logger,
    stop_task,
)

__all__ = ["TAPO_ITEMS", "EventFeed", "EventHub", "TapoEventMapper"]

log = get_logger("camsdk.tapo.events")

#: Tapo's boolean data items (lower-cased) -> (kind, code in ``extra["code"]``).
TAPO_ITEMS: dict[str, tuple[EventKind, str]] = {
    "ismotion": (EventKind.MOTION, "motion"),
    "ispeople": (EventKind.PERSON, "person"),
    "isperson": (EventKind.PERSON, "person"),
    "ishuman": (EventKind.PERSON, "person"),
    "isvehicle": (EventKind.VEHICLE, "vehicle"),
    "ispet": (EventKind.ANIMAL, "pet"),
    "isanimal": (EventKind.ANIMAL, "pet"),
    "islinecross": (EventKind.LINE_CROSSING, "line_crossing"),
    "isintrusion": (EventKind.INTRUSION, "intrusion"),
    "istamper": (EventKind.TAMPER, "tamper"),
    "isbabycry": (EventKind.SOUND, "baby_cry"),
    "istpsmartevent": (EventKind.OTHER, "smart_event"),
}
_GENERIC = "istpsmartevent"
#: Events kept for a subscriber that falls behind (the oldest go first).
FEED_SIZE = 1024
_TRUE = frozenset({"true", "1", "on"})
_FALSE = frozenset({"false", "0", "off"})


def _state(value: Any) -> bool | None:
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


class TapoEventMapper:
    """Turns the ONVIF driver's events into Tapo's (see the module docstring).

    It keeps which activities are on, so a resent state is quiet, an end
    carries its start's ``event_id``, and the two events the ONVIF driver
    makes of one state-less notification count once.
    """

    def __init__(self) -> None:
        self._active: dict[str, str] = {}
        self._ids = itertools.count(1)

    def translate(self, note: CameraEvent) -> list[CameraEvent]:
        """The Tapo events of one ONVIF event (none when it changes nothing)."""
        if note.kind in (EventKind.CONNECTION, EventKind.STREAM_STATE):
            return []
        extra = note.extra if isinstance(note.extra, dict) else {}
        data = extra.get("data")
        items: Mapping[str, Any] = data if isinstance(data, dict) else {}
        known = [(name, _state(value)) for name, value in list(items.items())[:32]
                 if name.lower() in TAPO_ITEMS]
        known = [(name, state) for name, state in known if state is not None]
        if not known:
            return [note.model_copy(update={"camera_id": "", "vendor": "tapo", "extra": {
                **extra, "code": "onvif"}})]
        if len(known) > 1:  # a specific item says more than the catch-all
            known = [(n, s) for n, s in known if n.lower() != _GENERIC] or known
        out = []
        for name, state in known:
            kind, code = TAPO_ITEMS[name.lower()]
            event_id = self._active.get(code)
            if state and event_id is None:
                event_id = self._active[code] = f"tapo-{code}-{next(self._ids)}"
            elif not state and event_id is not None:
                del self._active[code]
            else:
                continue  # a resend of the state we know
            out.append(CameraEvent(
                kind=kind, event_id=event_id, active=bool(state), device_time=note.device_time,
                vendor="tapo", topic=note.topic, zone=note.zone,
                extra={"code": code, "item": name, "topic_path": extra.get("topic_path", ""),
                       "operation": extra.get("operation", "")},
            ))
        return out

    def reset(self) -> list[CameraEvent]:
        """Ends for every activity still on (the ONVIF connection was lost)."""
        ends = [CameraEvent(kind=TAPO_ITEMS_BY_CODE[code], event_id=event_id, active=False,
                            vendor="tapo", topic="", extra={"code": code,
                                                            "closed_by": "reconnect"})
                for code, event_id in self._active.items()]
        self._active.clear()
        return ends


TAPO_ITEMS_BY_CODE: dict[str, EventKind] = {code: kind for kind, code in TAPO_ITEMS.values()}


class EventFeed(EventQueue[CameraEvent]):
    """One subscriber's events (an async iterator; closing it unsubscribes)."""

    def __init__(self, hub: EventHub) -> None:
        super().__init__(FEED_SIZE, on_close=lambda: hub.unsubscribe(self))
        self.hub = hub


class EventHub:
    """The ONVIF listener of one device session, shared by its cameras' subscribers."""

    def __init__(self, *, url: str, credentials: Credentials, config: CameraConfig,
                 shown: str) -> None:
        self._url = url
        self._credentials = credentials
        self._config = config
        self.shown = shown
        self._feeds: list[EventFeed] = []
        self._task: asyncio.Task[None] | None = None
        self._mapper = TapoEventMapper()
        self._closed = False
        self._failing = False
        self._attempt = 0
        #: Set when the camera refused the camera account: nothing is tried again.
        self.auth_failure: AuthenticationError | None = None
        #: ``connecting``, ``active``, ``failed`` or ``refused``.
        self.state = "idle"
        self.notifications = 0
        self.connects = 0

    def subscribe(self) -> EventFeed:
        """A new feed; the first one starts the listener."""
        if self.auth_failure is not None:
            raise AuthenticationError(self.auth_failure.message, scheme="tapo", url=self.shown)
        if self._closed:
            raise CamError("the event listener is closed", scheme="tapo", url=self.shown)
        feed = EventFeed(self)
        self._feeds.append(feed)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._listen(), name="camsdk-tapo-onvif")
        return feed

    async def unsubscribe(self, feed: EventFeed) -> None:
        """Forget ``feed``; stop the listener when nobody listens any more."""
        if feed in self._feeds:
            self._feeds.remove(feed)
        if not self._feeds:
            await self._stop()

    async def _stop(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
        if self.state != "refused":
            self.state = "idle"

    async def aclose(self) -> None:
        """End every feed and stop the listener. Idempotent."""
        self._closed = True
        for feed in self._feeds:
            feed.fail(StopAsyncIteration())
        self._feeds.clear()
        await self._stop()

    def _publish(self, event: CameraEvent) -> None:
        for feed in self._feeds:
            feed.put(event)

    def _fail_all(self, error: BaseException) -> None:
        for feed in self._feeds:
            feed.fail(error)

    def _connection(self, active: bool, reason: str) -> CameraEvent:
        return CameraEvent(kind=EventKind.CONNECTION, active=active, vendor="tapo",
                           topic="events/onvif", extra={"reason": reason[:200],
                                                        "source": "onvif"})

    async def _listen(self) -> None:
        """Listen to the camera's ONVIF notifications until cancelled (module docstring)."""
        while True:
            self.state = "connecting"
            try:
                await self._session()
                reason = "the ONVIF event subscription ended"
            except AuthenticationError as exc:
                self.state = "refused"
                self.auth_failure = AuthenticationError(
                    f"ONVIF refused the camera account: {exc.message}", scheme="tapo",
                    url=self.shown)
                self._fail_all(self.auth_failure)
                return
            except UnsupportedCapabilityError as exc:
                self.state = "refused"
                self._fail_all(UnsupportedCapabilityError(
                    f"the camera's ONVIF service has no events ({exc.message})", scheme="tapo",
                    url=self.shown))
                return
            except CamError as exc:
                reason = f"{type(exc).__name__}: {exc.message}"
                log.debug("%s: ONVIF events failed: %s", self.shown, reason)
            self.state = "failed"
            for end in self._mapper.reset():
                self._publish(end)
            if not self._failing:
                self._failing = True
                self._publish(self._connection(False, reason))
            delay = random.uniform(0, min(self._config.backoff_cap,
                                          self._config.backoff_base * 2**self._attempt))
            self._attempt = min(self._attempt + 1, 30)
            await asyncio.sleep(max(delay, 0.05))

    async def _session(self) -> None:
        import camsdk

        self.connects += 1
        async with camsdk.open(self._url, credentials=self._credentials,
                               config=self._config) as cam:
            if Capability.EVENTS not in cam.capabilities:
                raise UnsupportedCapabilityError("no PullPoint events", scheme="tapo",
                                                 url=self.shown)
            async with cam.events() as notes:
                self.state = "active"
                if self._failing:
                    self._failing, self._attempt = False, 0
                    self._publish(self._connection(True, "ONVIF events recovered"))
                async for note in notes:
                    if note.kind is EventKind.CONNECTION:
                        reason = str(note.extra.get("reason", ""))
                        if "AuthenticationError" in reason:
                            # The nested pipeline would retry it: a wrong password
                            # must not be sent again and again.
                            raise AuthenticationError(reason[:200], scheme="tapo",
                                                      url=self.shown)
                        self.state = "active" if note.active else "failed"
                        self._publish(self._connection(note.active, reason))
                        continue
                    self.notifications += 1
                    for event in self._mapper.translate(note):
                        self._publish(event)

    def summary(self) -> dict[str, Any]:
        """The listener's state and counters, for the ``event_source`` extension."""
        return {"source": "onvif", "state": self.state, "subscribers": len(self._feeds),
                "notifications": self.notifications, "connects": self.connects}
