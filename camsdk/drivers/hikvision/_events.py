"""A camera's events: its channel's alerts as start/end `CameraEvent`s.

`ActivityTracker` turns alerts into activities. The first ``active`` of an
``eventType`` (per region, per alarm input) starts one; repeats only keep
it alive (firmware repeats ``active`` about once a second); ``inactive``
ends it, and so does ``event_timeout`` seconds without a repeat, because
many event types never send ``inactive`` (the end then has
``extra["closed_by"] == "timeout"``). Start and end share one ``event_id``.

`camera_events` is what ``HikvisionDriver.events()`` returns: it subscribes
to the device's shared alert stream (`AlertHub`) for its channel, reports
alert-stream outages as `EventKind.CONNECTION` changes, and stops with
`camsdk.AuthenticationError` when the device refuses the login.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from camsdk.driver import CameraEvent, EventKind

from ._alert_stream import AlertHub, Connection
from ._alerts import Alert, classify

__all__ = ["ActivityTracker", "camera_events"]

_ids = itertools.count(1)


@dataclass(slots=True)
class _Activity:
    start: CameraEvent
    last_seen: float


def _key(alert: Alert) -> tuple[str, str, int | None]:
    return (alert.event_type.lower(), alert.region, alert.port)


class ActivityTracker:
    """Alerts of one channel -> start/end events (see the module docstring)."""

    def __init__(self, *, timeout: float, prefix: str = "hik") -> None:
        self.timeout = timeout
        self._prefix = prefix
        # Least recently seen first, so the next to time out is always at the front.
        self._open: OrderedDict[tuple[str, str, int | None], _Activity] = OrderedDict()

    def next_expiry(self, now: float) -> float | None:
        """Seconds until the next activity times out (None: none open)."""
        if not self._open:
            return None
        first = next(iter(self._open.values())).last_seen
        return max(0.0, first + self.timeout - now)

    def feed(self, alert: Alert, now: float) -> list[CameraEvent]:
        """The events one alert makes (often none: a repeat of an active one)."""
        key = _key(alert)
        if alert.active:
            activity = self._open.get(key)
            if activity is not None:
                activity.last_seen = now
                self._open.move_to_end(key)
                return []
            start = self._start(alert)
            self._open[key] = _Activity(start, now)
            return [start]
        if key in self._open:
            return [self._end(self._open.pop(key), alert, "device")]
        if not alert.region and alert.port is None:
            # An end without its region ends every region of that event type.
            ended = [k for k in self._open if k[0] == key[0]]
            return [self._end(self._open.pop(k), alert, "device") for k in ended]
        return []

    def expire(self, now: float) -> list[CameraEvent]:
        """Ends of the activities not repeated for ``timeout`` seconds."""
        ended = []
        while self._open:
            key, activity = next(iter(self._open.items()))
            if now - activity.last_seen < self.timeout:
                break
            ended.append(self._end(self._open.pop(key), None, "timeout"))
        return ended

    def _start(self, alert: Alert) -> CameraEvent:
        extra: dict[str, Any] = {"event_type": alert.event_type, "event_state": "active"}
        if alert.channel is not None:
            extra["channel"] = alert.channel
        if alert.port is not None:
            extra["input"] = alert.port
        if alert.target:
            extra["target"] = alert.target
        if alert.description:
            extra["description"] = alert.description
        if alert.region:
            extra["region"] = alert.region
        zone = f"region {alert.region}" if alert.region else (
            f"input {alert.port}" if alert.port is not None else None)
        now = datetime.now(UTC)
        return CameraEvent(
            kind=classify(alert.event_type, alert.target),
            event_id=f"{self._prefix}-{next(_ids)}",
            active=True,
            started_at=now,
            received_at=now,
            zone=zone,
            device_time=alert.time,
            vendor="hikvision",
            topic=alert.event_type,
            extra=extra,
        )

    def _end(self, activity: _Activity, alert: Alert | None, closed_by: str) -> CameraEvent:
        now = datetime.now(UTC)
        extra = {**activity.start.extra, "event_state": "inactive", "closed_by": closed_by}
        return activity.start.model_copy(update={
            "active": False,
            "ended_at": now,
            "received_at": now,
            "device_time": alert.time if alert is not None else None,
            "extra": extra,
        })


def _connection(change: Connection) -> CameraEvent:
    return CameraEvent(
        kind=EventKind.CONNECTION,
        active=change.up,
        vendor="hikvision",
        topic="alertStream",
        extra={"source": "alertStream",
               "reason": change.reason or "alert stream reconnected"},
    )


async def camera_events(
    hub: AlertHub, channel: int | None, *, timeout: float
) -> AsyncIterator[CameraEvent]:
    """Events of ``channel`` from the device's shared alert stream, until closed."""
    tracker = ActivityTracker(timeout=timeout, prefix=f"hik{channel or 0}")
    inbox = hub.subscribe(channel)
    try:
        while True:
            items = await inbox.take(tracker.next_expiry(time.monotonic()))
            now = time.monotonic()
            for item in items:
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Connection):
                    yield _connection(item)
                    continue
                for event in tracker.feed(item, now):
                    yield event
            for event in tracker.expire(time.monotonic()):
                yield event
    finally:
        await hub.unsubscribe(inbox)
