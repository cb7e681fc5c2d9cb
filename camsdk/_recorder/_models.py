"""What a recorder is configured with (`Retention`, `EventClips`) and what it reports.

The configuration is validated pydantic (it crosses the API edge once); the
results (`Segment`, `IndexedEvent`, `RecordingGap`, `RecorderStats`) are
frozen dataclasses, made in numbers from index rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .._models import EventKind

__all__ = [
    "EventClips",
    "IndexedEvent",
    "RecorderStats",
    "RecordingGap",
    "Retention",
    "Segment",
]


class Retention(BaseModel):
    """How much footage a recorder keeps: by age, by total size, or both.

    Applied after every finished segment (and when a recorder starts on an
    existing directory): the oldest segments and clips go first. Only files
    the recorder's index lists are ever deleted, and the size limit never
    deletes the newest segment. ``None`` means no limit of that kind.
    """

    model_config = ConfigDict(frozen=True)

    max_age: timedelta | None = Field(
        None, description="delete footage that ended longer ago than this"
    )
    max_bytes: int | None = Field(
        None, gt=0, description="delete the oldest footage while the total exceeds this"
    )

    @field_validator("max_age")
    @classmethod
    def _positive_age(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("max_age must be positive")
        return value


class EventClips(BaseModel):
    """Write a clip around each event: ``before`` seconds before its start to ``after`` its end.

    ``kinds`` selects the events (``None``: every kind but stream health).
    An event that reports no end within ``max_length`` seconds is treated as
    ending then; an event that arrives already ended (a doorbell press) is a
    moment, and its clip covers ``[t - before, t + after]``.
    """

    model_config = ConfigDict(frozen=True)

    kinds: frozenset[EventKind] | None = None
    before: float = Field(5.0, ge=0, le=300, description="seconds before the event's start")
    after: float = Field(10.0, ge=0, le=3600, description="seconds after the event's end")
    max_length: float = Field(
        60.0, gt=0, le=3600, description="longest event a clip follows before it is cut"
    )

    @field_validator("kinds", mode="before")
    @classmethod
    def _kinds(cls, value: object) -> object:
        if isinstance(value, str | EventKind):
            value = [value]
        if value is not None and not value:
            raise ValueError("kinds must name at least one event kind (or be None for all)")
        return value


@dataclass(frozen=True, slots=True)
class Segment:
    """One finished file of continuous footage.

    ``start``/``end`` are wall-clock (UTC) and ``media_start``/``media_end``
    the camera's timeline in seconds; ``start_pts``/``end_pts`` are the same
    in ``time_base`` units, exactly. Consecutive segments of one run share
    their boundary: ``end_pts`` of one is ``start_pts`` of the next.
    ``after_gap`` says that this segment does not continue the one before it
    (the recorder started, or the stream was interrupted; see
    `RecordingIndex.gaps`). ``ended`` says why it ended: ``"length"``,
    ``"gap"``, ``"stop"``, ``"revoked"`` or ``"error"``.
    """

    path: Path
    start: datetime
    end: datetime
    media_start: float
    media_end: float
    start_pts: int
    end_pts: int
    time_base: Fraction
    bytes: int
    video_packets: int
    audio_packets: int
    after_gap: bool
    ended: str

    @property
    def duration(self) -> float:
        """Seconds of media in the file."""
        return self.media_end - self.media_start


@dataclass(frozen=True, slots=True)
class IndexedEvent:
    """An event the recorder saw, with the clip written around it (if any).

    ``end`` is ``None`` while the event is open (or when it never reported
    one); ``clip`` is ``None`` until the clip is complete, or when it could
    not be written or was deleted by retention.
    """

    event_id: str
    kind: EventKind
    start: datetime
    end: datetime | None
    clip: Path | None
    clip_start: datetime | None
    clip_end: datetime | None
    clip_bytes: int


@dataclass(frozen=True, slots=True)
class RecordingGap:
    """Wall-clock time with no footage because the stream was interrupted.

    ``reason`` is the `camsdk.Discontinuity` reason: ``"reconnect"``,
    ``"overflow"`` (the recorder fell behind and packets were dropped) or
    ``"timestamp"``.
    """

    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class RecorderStats:
    """Counters of one recorder run.

    ``gaps`` counts stream interruptions that split the footage (0 on a
    healthy stream); ``dropped`` counts packets lost to the recorder (queue
    overflow, or unusable until the next keyframe); ``deleted`` counts files
    removed by retention.
    """

    segments: int
    bytes: int
    gaps: int
    dropped: int
    clips: int
    clips_skipped: int
    deleted: int
