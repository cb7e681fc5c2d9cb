"""Continuous recording: segments, event clips, a searchable index and retention.

``async with cam.recorder("footage/") as recorder: ...`` records the camera
in the background into fixed-length segments cut on keyframes (no gaps or
overlaps between them), optionally writes a clip around each event, indexes
everything in SQLite and deletes old footage by age and size. See
`Recorder` and ``docs/recording.md``.
"""

from ._index import RecordingIndex
from ._models import EventClips, IndexedEvent, RecorderStats, RecordingGap, Retention, Segment
from ._recorder import Recorder

__all__ = [
    "EventClips",
    "IndexedEvent",
    "Recorder",
    "RecorderStats",
    "RecordingGap",
    "RecordingIndex",
    "Retention",
    "Segment",
]
