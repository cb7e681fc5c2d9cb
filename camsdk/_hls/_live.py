"""Following a live media playlist: which segments are new, and when to reload (RFC 8216 6.3).

`SegmentCursor` sees every load of the playlist and hands out each segment
once, by media sequence number: a segment already handed out is never
handed out again, however often it stays listed. It starts
``live_start_index`` segments from the end of a live playlist (-1: the
newest; 0 or more: from the start, as FFmpeg counts) and at the first
segment of a VOD one, and says where the timeline breaks:

- ``"discontinuity"``: an ``EXT-X-DISCONTINUITY`` precedes the segment;
- ``"gap"``: segments expired from the playlist before they were fetched;
- ``"reset"``: the sequence went backwards, or the last segment handed out
  is listed under its number with another URI (the server restarted): the
  cursor starts over as on the first load.

`reload_delay` is RFC 8216 6.3.4: a playlist that changed is reloaded a
target duration after its previous load *began*, one that did not at half
of that.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._playlist import MediaPlaylist, Segment

__all__ = ["MIN_RELOAD_INTERVAL", "ScheduledSegment", "SegmentCursor", "reload_delay"]

#: A floor under reloads, whatever the playlist claims (a target duration of 0 exists).
MIN_RELOAD_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class ScheduledSegment:
    """A segment to fetch, and why the timeline breaks before it (``None``: it does not)."""

    segment: Segment
    reason: str | None = None


class SegmentCursor:
    """Hands out each segment of successive playlist loads once (see module docstring)."""

    def __init__(self, live_start_index: int = -1) -> None:
        self._start_index = live_start_index
        self._last: Segment | None = None

    @property
    def next_sequence(self) -> int | None:
        """The media sequence number wanted next (``None`` before the first load)."""
        return None if self._last is None else self._last.sequence + 1

    def update(self, playlist: MediaPlaylist) -> list[ScheduledSegment]:
        """The segments of this load not handed out before, in order."""
        segments = playlist.segments
        if not segments:
            return []
        last = self._last
        first_reason: str | None = None
        if last is None:
            chosen = segments[self._start(playlist) :]
        elif self._reset(segments, last):
            chosen = segments[self._start(playlist) :]
            first_reason = "reset"
        else:
            index = last.sequence + 1 - segments[0].sequence
            if index < 0:
                first_reason = "gap"
                index = 0
            chosen = segments[index:]
        out = [
            ScheduledSegment(
                segment,
                first_reason if i == 0 and first_reason else (
                    "discontinuity" if segment.discontinuity else None
                ),
            )
            for i, segment in enumerate(chosen)
        ]
        if chosen:
            self._last = chosen[-1]
        return out

    def _start(self, playlist: MediaPlaylist) -> int:
        count = len(playlist.segments)
        if not playlist.live:
            return 0
        index = self._start_index
        return max(0, count + index) if index < 0 else min(index, count - 1)

    @staticmethod
    def _reset(segments: tuple[Segment, ...], last: Segment) -> bool:
        if segments[-1].sequence < last.sequence:
            return True
        index = last.sequence - segments[0].sequence
        return 0 <= index < len(segments) and segments[index].uri != last.uri


def reload_delay(playlist: MediaPlaylist, *, changed: bool, elapsed: float) -> float:
    """Seconds to wait before the next reload; ``elapsed`` since the last load began."""
    interval = playlist.reload_interval
    wait = max(interval if changed else interval / 2, MIN_RELOAD_INTERVAL)
    return max(0.0, wait - elapsed)
