"""`MotionTracker`: per-zone activities (start, updates, end) from frame analyses.

A zone's activity starts with the first frame in which it moves, is
updated while it keeps moving (at most every `UPDATE_INTERVAL` seconds, so
the event pipeline does not drop the updates as resends), and ends ``hold``
seconds after the last frame that moved, or one and a half frame intervals
if that is longer (so that a frame without motion had the chance to come:
with keyframes every 2 s, a 1 s hold would end every activity between two
frames). While an activity is held without
motion it is re-announced every `KEEPALIVE` seconds, so the pipeline's own
hold (which closes activities whose end never comes) does not end it early.

Pure bookkeeping, no I/O and no clock of its own: every method takes the
time (monotonic seconds), which is what lets tests drive it by hand.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .._models import CameraEvent, EventKind
from ._analysis import FrameAnalysis, ZoneMotion

__all__ = ["KEEPALIVE", "TOPIC", "UPDATE_INTERVAL", "MotionTracker"]

#: Minimum seconds between two updates of one activity while it moves.
UPDATE_INTERVAL = 5.0
#: Seconds between re-announcements of an activity held without motion.
KEEPALIVE = 15.0
#: The ``topic`` of software motion events.
TOPIC = "camsdk/software-motion"


@dataclass(slots=True)
class _Activity:
    event_id: str
    started_at: datetime
    last_motion: float
    last_motion_wall: datetime
    last_published: float
    area: float
    peak: float
    region: tuple[float, float, float, float] | None


class MotionTracker:
    """Turns `FrameAnalysis` results into MOTION `CameraEvent` starts, updates and ends.

    ``zones`` are the event ``zone`` values, in analysis order (``None`` for
    the whole picture). ``extra`` is added to every event's ``extra``, after
    ``detector="software"``. ``wall`` converts a monotonic time to a UTC
    datetime (injectable for tests).
    """

    def __init__(
        self,
        *,
        camera_id: str,
        zones: Sequence[str | None],
        hold: float,
        extra: dict[str, Any] | None = None,
        wall: Callable[[float], datetime] | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.zones = tuple(zones)
        self.hold = hold
        self._extra = {"detector": "software", **(extra or {})}
        self._wall = wall or _wall_from_monotonic
        self._activities: dict[int, _Activity] = {}
        self._prefix = f"swmotion-{secrets.token_hex(4)}"
        self._seq = itertools.count(1)
        #: Activities started so far.
        self.started = 0
        #: Seconds between analysed frames, as the detector measures them.
        self.frame_interval = 0.0

    @property
    def quiet(self) -> float:
        """Seconds without motion that end an activity: ``hold``, or 1.5 frame intervals."""
        return max(self.hold, 1.5 * self.frame_interval)

    @property
    def active_zones(self) -> tuple[str | None, ...]:
        """Zones with an activity in progress."""
        return tuple(self.zones[i] for i in sorted(self._activities))

    def observe(self, analysis: FrameAnalysis, at: float) -> list[CameraEvent]:
        """Events caused by the frame analysed at ``at``, then any that fell due."""
        events: list[CameraEvent] = []
        for index, zone in enumerate(analysis.zones):
            if zone.moving:
                events.extend(self._moving(index, zone, at))
        events.extend(self.due(at))
        return events

    def _moving(self, index: int, zone: ZoneMotion, at: float) -> list[CameraEvent]:
        activity = self._activities.get(index)
        wall = self._wall(at)
        if activity is None:
            activity = _Activity(
                event_id=f"{self._prefix}-{next(self._seq)}",
                started_at=wall,
                last_motion=at,
                last_motion_wall=wall,
                last_published=at,
                area=zone.area,
                peak=zone.area,
                region=zone.region,
            )
            self._activities[index] = activity
            self.started += 1
            return [self._event(index, activity, active=True)]
        activity.last_motion, activity.last_motion_wall = at, wall
        activity.area, activity.region = zone.area, zone.region
        activity.peak = max(activity.peak, zone.area)
        if at - activity.last_published >= UPDATE_INTERVAL:
            activity.last_published = at
            return [self._event(index, activity, active=True)]
        return []

    def due(self, now: float) -> list[CameraEvent]:
        """Ends of activities `quiet` for long enough, and keep-alives that are due."""
        events: list[CameraEvent] = []
        quiet = self.quiet
        for index, activity in list(self._activities.items()):
            if now - activity.last_motion >= quiet:
                del self._activities[index]
                events.append(self._event(index, activity, active=False, ended_by="hold"))
            elif now - activity.last_published >= KEEPALIVE:
                activity.last_published = now
                events.append(self._event(index, activity, active=True))
        return events

    def next_deadline(self) -> float | None:
        """When `due` next has something to say (monotonic seconds), or ``None``."""
        quiet = self.quiet
        deadlines = [
            min(a.last_motion + quiet, a.last_published + KEEPALIVE)
            for a in self._activities.values()
        ]
        return min(deadlines) if deadlines else None

    def close(self) -> list[CameraEvent]:
        """End every activity now (the detector stops)."""
        events = [
            self._event(index, activity, active=False, ended_by="stopped")
            for index, activity in sorted(self._activities.items())
        ]
        self._activities.clear()
        return events

    def _event(
        self, index: int, activity: _Activity, *, active: bool, ended_by: str | None = None
    ) -> CameraEvent:
        extra: dict[str, Any] = {
            **self._extra,
            "area": round(activity.area, 4),
            "peak_area": round(activity.peak, 4),
        }
        if ended_by is not None:
            extra["ended_by"] = ended_by
        return CameraEvent(
            kind=EventKind.MOTION,
            camera_id=self.camera_id,
            event_id=activity.event_id,
            active=active,
            started_at=activity.started_at,
            # The end is reported `hold` after the motion stopped; say when it stopped.
            ended_at=None if active else activity.last_motion_wall,
            score=round(min(1.0, activity.peak), 4),
            zone=self.zones[index],
            region=activity.region,
            vendor="camsdk",
            topic=TOPIC,
            extra=extra,
        )


def _wall_from_monotonic(at: float) -> datetime:
    """The UTC time at which ``time.monotonic()`` read ``at``."""
    return datetime.now(UTC) - timedelta(seconds=time.monotonic() - at)
