"""The recording index: one SQLite file per camera directory, one row per segment, event, gap.

`IndexStore` is the blocking part (called from worker threads, one
connection guarded by a lock); `RecordingIndex` is the public, async face:
its queries run in a worker thread so the event loop never waits on the disk.
Times are stored as integer microseconds since the UNIX epoch (UTC), so the
boundary of two segments compares exactly; media times as integer pts with
their time base.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError, RecordingError
from .._models import EventKind
from ._models import IndexedEvent, RecordingGap, Segment

__all__ = ["INDEX_NAME", "IndexStore", "RecordingIndex", "StoredFile", "from_us", "to_us"]

#: The index's file name inside a camera directory.
INDEX_NAME = "index.sqlite3"
_SCHEMA_VERSION = "1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    start_pts INTEGER NOT NULL,
    end_pts INTEGER NOT NULL,
    tb_num INTEGER NOT NULL,
    tb_den INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    video_packets INTEGER NOT NULL,
    audio_packets INTEGER NOT NULL,
    after_gap INTEGER NOT NULL,
    ended TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS segments_start ON segments (start_us);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER,
    clip_path TEXT,
    clip_start_us INTEGER,
    clip_end_us INTEGER,
    clip_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_start ON events (start_us);
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gaps_start ON gaps (start_us);
"""

_SEGMENT_COLUMNS = (
    "path, start_us, end_us, start_pts, end_pts, tb_num, tb_den, bytes, video_packets, "
    "audio_packets, after_gap, ended"
)
_EVENT_COLUMNS = (
    "event_id, kind, start_us, end_us, clip_path, clip_start_us, clip_end_us, clip_bytes"
)


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware ``datetime`` (exact, no float rounding)."""
    if moment.tzinfo is None:
        raise ConfigurationError("times must be timezone-aware (e.g. datetime.now(UTC))")
    return (moment - _EPOCH) // _US


def from_us(us: int) -> datetime:
    """The UTC ``datetime`` of ``us`` microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=us)


def _bound(moment: datetime | None, default: int) -> int:
    return default if moment is None else to_us(moment)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file the index lists (a segment or an event clip), as retention sees it."""

    table: str
    row: int
    path: str
    start_us: int
    end_us: int
    bytes: int


class IndexStore:
    """Blocking access to one camera directory's index. Thread-safe; call off the loop."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self.directory / INDEX_NAME

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                self._conn = self._open()
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise RecordingError(
                    f"the recording index {self.path.name!r} failed: {exc}"
                ) from exc

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise RecordingError(f"cannot open the recording index: {exc}") from exc
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)",
                             (_SCHEMA_VERSION,))
            elif row[0] != _SCHEMA_VERSION:
                raise ConfigurationError(
                    f"the recording index in {str(self.directory)!r} has schema {row[0]!r}; "
                    f"this camsdk reads {_SCHEMA_VERSION!r}"
                )
        except sqlite3.Error as exc:
            conn.close()
            raise RecordingError(
                f"the recording index {self.path.name!r} is unusable: {exc}"
            ) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def open(self) -> None:
        """Open (or create) the index now, so problems show at the start."""
        with self._db():
            pass

    def close(self) -> None:
        """Close the connection; a later call opens it again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- writes ----------------------------------------------------------------------------

    def add_segment(self, path: str, seg: Segment, start_us: int, end_us: int) -> None:
        """Index a finished segment (``path`` relative to the camera directory)."""
        tb = seg.time_base
        with self._db() as db:
            db.execute(
                f"INSERT INTO segments ({_SEGMENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (path, start_us, end_us, seg.start_pts, seg.end_pts, tb.numerator,
                 tb.denominator, seg.bytes, seg.video_packets, seg.audio_packets,
                 int(seg.after_gap), seg.ended),
            )

    def add_event(self, event_id: str, kind: EventKind, start_us: int) -> int:
        """Index an event's start; returns its row for `finish_event`."""
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO events (event_id, kind, start_us) VALUES (?,?,?)",
                (event_id, kind.value, start_us),
            )
            return int(cur.lastrowid or 0)

    def finish_event(
        self,
        row: int,
        *,
        end_us: int | None,
        clip: str | None,
        clip_start_us: int | None,
        clip_end_us: int | None,
        clip_bytes: int,
    ) -> None:
        """Record an event's end and its clip."""
        with self._db() as db:
            db.execute(
                "UPDATE events SET end_us = COALESCE(?, end_us), clip_path = ?, clip_start_us = ?, "
                "clip_end_us = ?, clip_bytes = ? WHERE id = ?",
                (end_us, clip, clip_start_us, clip_end_us, clip_bytes, row),
            )

    def set_event_end(self, row: int, end_us: int) -> None:
        """Record the end of an event whose clip was already finished (or never made)."""
        with self._db() as db:
            db.execute("UPDATE events SET end_us = ? WHERE id = ?", (end_us, row))

    def add_gap(self, start_us: int, end_us: int, reason: str) -> None:
        """Index an interruption of the footage."""
        with self._db() as db:
            db.execute("INSERT INTO gaps (start_us, end_us, reason) VALUES (?,?,?)",
                       (start_us, max(start_us, end_us), reason))

    # -- retention -------------------------------------------------------------------------

    def stored_files(self) -> list[StoredFile]:
        """Every segment and clip the index lists, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT 'segments', id, path, start_us, end_us, bytes FROM segments "
                "UNION ALL SELECT 'events', id, clip_path, clip_start_us, clip_end_us, "
                "clip_bytes FROM events WHERE clip_path IS NOT NULL "
                "ORDER BY 4, 2"
            ).fetchall()
        return [StoredFile(*row) for row in rows]

    def forget(self, files: Collection[StoredFile], *, older_than_us: int | None) -> None:
        """Drop the rows of deleted files; events and gaps older than the cut go too."""
        with self._db() as db:
            db.execute("BEGIN")
            try:
                for f in files:
                    if f.table == "segments":
                        db.execute("DELETE FROM segments WHERE id = ?", (f.row,))
                    else:
                        db.execute(
                            "UPDATE events SET clip_path = NULL, clip_bytes = 0 WHERE id = ?",
                            (f.row,),
                        )
                if older_than_us is not None:
                    db.execute(
                        "DELETE FROM events WHERE clip_path IS NULL "
                        "AND COALESCE(end_us, start_us) < ?", (older_than_us,),
                    )
                    db.execute("DELETE FROM gaps WHERE end_us < ?", (older_than_us,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # -- queries ---------------------------------------------------------------------------

    def find(self, start_us: int, end_us: int) -> list[Segment]:
        """Segments that overlap ``[start_us, end_us)``, in time order."""
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE start_us < ? AND end_us > ? "
                "ORDER BY start_us, id",
                (end_us, start_us),
            ).fetchall()
        return [self._segment(row) for row in rows]

    def last_segment(self) -> Segment | None:
        """The newest indexed segment."""
        with self._db() as db:
            row = db.execute(
                f"SELECT {_SEGMENT_COLUMNS} FROM segments ORDER BY start_us DESC, id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else self._segment(row)

    def events(
        self, start_us: int, end_us: int, kinds: Collection[EventKind] | None
    ) -> list[IndexedEvent]:
        """Events that overlap ``[start_us, end_us)``, optionally of some kinds only."""
        query = (
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE start_us < ? "
            "AND COALESCE(end_us, start_us) >= ?"
        )
        params: list[object] = [end_us, start_us]
        if kinds is not None:
            names = sorted({EventKind(k).value for k in kinds})
            query += f" AND kind IN ({','.join('?' * len(names))})"
            params.extend(names)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY start_us, id", params).fetchall()
        return [self._event(row) for row in rows]

    def gaps(self, start_us: int, end_us: int) -> list[RecordingGap]:
        """Interruptions that overlap ``[start_us, end_us)``."""
        with self._db() as db:
            rows = db.execute(
                "SELECT start_us, end_us, reason FROM gaps WHERE start_us < ? AND end_us >= ? "
                "ORDER BY start_us, id",
                (end_us, start_us),
            ).fetchall()
        return [RecordingGap(from_us(s), from_us(e), r) for s, e, r in rows]

    def _segment(self, row: tuple[Any, ...]) -> Segment:
        (path, start_us, end_us, start_pts, end_pts, num, den, nbytes, video, audio,
         after_gap, ended) = row
        tb = Fraction(int(num), int(den))
        s_pts, e_pts = int(start_pts), int(end_pts)
        return Segment(
            path=self.directory / str(path),
            start=from_us(int(start_us)),
            end=from_us(int(end_us)),
            media_start=float(s_pts * tb),
            media_end=float(e_pts * tb),
            start_pts=s_pts,
            end_pts=e_pts,
            time_base=tb,
            bytes=int(nbytes),
            video_packets=int(video),
            audio_packets=int(audio),
            after_gap=bool(after_gap),
            ended=str(ended),
        )

    def _event(self, row: tuple[Any, ...]) -> IndexedEvent:
        event_id, kind, start_us, end_us, clip, clip_start, clip_end, clip_bytes = row
        return IndexedEvent(
            event_id=str(event_id),
            kind=EventKind(str(kind)),
            start=from_us(int(start_us)),
            end=None if end_us is None else from_us(int(end_us)),
            clip=None if clip is None else self.directory / str(clip),
            clip_start=None if clip_start is None else from_us(int(clip_start)),
            clip_end=None if clip_end is None else from_us(int(clip_end)),
            clip_bytes=int(clip_bytes),
        )


class RecordingIndex:
    """Find a camera's recorded footage by time and event (``recorder.index``).

    Built on the camera directory a recorder writes (``<root>/<camera>/``);
    it can also be opened on such a directory without a recorder. Every query
    runs in a worker thread. Times must be timezone-aware; ``None`` leaves a
    bound open.
    """

    def __init__(self, directory: str | Path, *, _store: IndexStore | None = None) -> None:
        self.directory = Path(directory)
        self._store = _store if _store is not None else IndexStore(self.directory)

    def __repr__(self) -> str:
        return f"RecordingIndex({str(self.directory)!r})"

    async def find(self, start: datetime | None, end: datetime | None) -> list[Segment]:
        """Segments with footage in ``[start, end)``, oldest first."""
        lo, hi = _bound(start, -(2**62)), _bound(end, 2**62)
        return await asyncio.to_thread(self._store.find, lo, hi)

    async def events(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        kinds: Collection[EventKind] | None = None,
    ) -> list[IndexedEvent]:
        """Events in ``[start, end)`` (of ``kinds``, if given), with their clips."""
        lo, hi = _bound(start, -(2**62)), _bound(end, 2**62)
        if kinds is not None:
            try:
                kinds = frozenset(EventKind(k) for k in kinds)
            except ValueError as exc:
                raise ConfigurationError(str(exc)) from None
        return await asyncio.to_thread(self._store.events, lo, hi, kinds)

    async def gaps(self, start: datetime | None, end: datetime | None) -> list[RecordingGap]:
        """Interruptions of the footage in ``[start, end)``: the index never hides one."""
        lo, hi = _bound(start, -(2**62)), _bound(end, 2**62)
        return await asyncio.to_thread(self._store.gaps, lo, hi)

    async def aclose(self) -> None:
        """Close the database connection (a later query opens it again)."""
        await asyncio.to_thread(self._store.close)
