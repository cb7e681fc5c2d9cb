"""`MotionTracker`: per-zone start, updates and end, driven by a hand-held clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from camsdk import CameraEvent, EventKind
from camsdk._motion._analysis import FrameAnalysis, ZoneMotion
from camsdk._motion._tracker import KEEPALIVE, UPDATE_INTERVAL, MotionTracker

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOLD = 5.0
QUIET = ZoneMotion(0.0, False, None)


def wall(at: float) -> datetime:
    """The hand-held clock: monotonic ``at`` seconds is ``T0 + at``."""
    return T0 + timedelta(seconds=at)


def tracker(hold: float = HOLD, zones: tuple[str | None, ...] = ("drive", "lawn")) -> MotionTracker:
    return MotionTracker(camera_id="virtual:t", zones=zones, hold=hold, wall=wall)


def frame(*moving: float, zones: int = 2) -> FrameAnalysis:
    """An analysis in which zone ``i`` changed by ``moving[i]`` (0 = quiet)."""
    areas = [*moving, *([0.0] * (zones - len(moving)))]
    return FrameAnalysis(
        "analysed", tuple(ZoneMotion(a, a > 0, (0.1, 0.2, 0.3, 0.4) if a else None) for a in areas)
    )


def test_the_first_moving_frame_starts_a_labelled_motion_event_in_its_zone() -> None:
    [event] = tracker().observe(frame(0.12), 10.0)
    assert isinstance(event, CameraEvent)
    assert event.kind is EventKind.MOTION
    assert event.active
    assert event.zone == "drive"
    assert event.vendor == "camsdk"
    assert event.extra["detector"] == "software"
    assert event.score == 0.12
    assert event.region == (0.1, 0.2, 0.3, 0.4)
    assert event.started_at == wall(10.0)
    assert event.camera_id == "virtual:t"


def test_continued_motion_is_an_update_of_the_same_event_at_most_every_update_interval() -> None:
    t = tracker()
    [start] = t.observe(frame(0.1), 0.0)
    assert t.observe(frame(0.2), UPDATE_INTERVAL / 2) == []
    [update] = t.observe(frame(0.3), UPDATE_INTERVAL)
    assert update.active
    assert update.event_id == start.event_id
    assert update.started_at == start.started_at
    assert update.score == 0.3  # the peak so far


def test_an_activity_ends_hold_seconds_after_the_last_moving_frame() -> None:
    t = tracker()
    [start] = t.observe(frame(0.1), 0.0)
    t.observe(frame(0.1), 1.0)
    assert t.due(1.0 + HOLD - 0.01) == []
    [end] = t.due(1.0 + HOLD)
    assert not end.active
    assert end.event_id == start.event_id
    assert end.ended_at == wall(1.0)  # when the motion stopped, not when the hold ran out
    assert end.extra["ended_by"] == "hold"
    assert t.active_zones == ()


def test_a_quiet_frame_after_the_hold_ends_the_activity() -> None:
    t = tracker()
    t.observe(frame(0.1), 0.0)
    [end] = t.observe(frame(0.0), HOLD)
    assert not end.active


def test_the_hold_stretches_to_one_and_a_half_frame_intervals() -> None:
    t = tracker(hold=1.0)
    t.frame_interval = 2.0  # keyframes every 2 s
    t.observe(frame(0.1), 0.0)
    assert t.due(2.9) == []
    assert [e.active for e in t.due(3.0)] == [False]


def test_zones_have_activities_of_their_own() -> None:
    t = tracker()
    [drive] = t.observe(frame(0.1), 0.0)
    [lawn] = t.observe(frame(0.0, 0.2), 1.0)
    assert (drive.zone, lawn.zone) == ("drive", "lawn")
    assert drive.event_id != lawn.event_id
    assert t.active_zones == ("drive", "lawn")
    [end] = t.observe(frame(0.0, 0.2), 0.0 + HOLD)
    assert (end.zone, end.active) == ("drive", False)


def test_a_held_activity_is_reannounced_so_the_pipeline_does_not_close_it() -> None:
    t = tracker(hold=60.0)
    [start] = t.observe(frame(0.1), 0.0)
    assert t.next_deadline() == KEEPALIVE
    [again] = t.due(KEEPALIVE)
    assert again.active
    assert again.event_id == start.event_id


def test_next_deadline_is_the_earliest_end_or_none() -> None:
    t = tracker()
    assert t.next_deadline() is None
    t.observe(frame(0.1), 0.0)
    t.observe(frame(0.0, 0.1), 2.0)
    assert t.next_deadline() == HOLD


def test_closing_ends_every_activity_in_progress() -> None:
    t = tracker()
    t.observe(frame(0.1, 0.1), 0.0)
    ends = t.close()
    assert [(e.zone, e.active, e.extra["ended_by"]) for e in ends] == [
        ("drive", False, "stopped"),
        ("lawn", False, "stopped"),
    ]
    assert t.close() == []


def test_the_whole_picture_reports_events_without_a_zone() -> None:
    [event] = tracker(zones=(None,)).observe(frame(0.1, zones=1), 0.0)
    assert event.zone is None


def test_a_new_activity_after_an_end_has_a_new_event_id() -> None:
    t = tracker()
    [first] = t.observe(frame(0.1), 0.0)
    t.due(HOLD)
    [second] = t.observe(frame(0.1), HOLD + 1.0)
    assert second.event_id != first.event_id
    assert t.started == 2
