"""The timeline across segments: wrap-around, discontinuities (both modes), wall clock."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

from camsdk import MediaPacket
from camsdk._hls._timeline import RawPacket, Timeline

V = Fraction(1, 90000)
FRAME = 3000  # 30 fps at 90 kHz
AUDIO = 1920  # 1024 samples at 48 kHz, in 90 kHz units
WRAP = 1 << 33


def segment(start: int, frames: int = 15, *, audio_start: int | None = None) -> list[RawPacket]:
    """One 0.5 s segment: video every frame, audio (if asked) interleaved."""
    out = []
    audio = audio_start
    for i in range(frames):
        stamp = (start + i * FRAME) % WRAP
        out.append(RawPacket("video", b"v", stamp, stamp, i == 0, FRAME))
        if audio is not None:
            out.append(RawPacket("audio", b"a", audio % WRAP, audio % WRAP, True, AUDIO))
            audio += AUDIO
    return out


def dts(packets: list[MediaPacket], kind: str = "video") -> list[int]:
    return [p.dts for p in packets if p.kind == kind]  # type: ignore[misc]


def test_continuous_segments_pass_through_unchanged() -> None:
    timeline = Timeline(V, V, wraps=True, seamless=False)
    first, r1 = timeline.place(segment(126000, audio_start=126000), reason=None, duration=0.5)
    second, r2 = timeline.place(segment(126000 + 15 * FRAME, audio_start=126000 + 15 * AUDIO),
                                reason=None, duration=0.5)
    assert (r1, r2) == (None, None)
    assert dts(first + second) == [126000 + i * FRAME for i in range(30)]


def test_mpegts_wrap_around_continues_upwards() -> None:
    timeline = Timeline(V, None, wraps=True, seamless=False)
    start = WRAP - 10 * FRAME
    before, _ = timeline.place(segment(start), reason=None, duration=0.5)
    after, reason = timeline.place(segment(start + 15 * FRAME), reason=None, duration=0.5)
    stamps = dts(before + after)
    assert reason is None
    assert stamps == [start + i * FRAME for i in range(30)]
    assert stamps[-1] > WRAP


def test_without_wraps_large_values_are_left_alone() -> None:
    timeline = Timeline(V, None, wraps=False, seamless=False)
    timeline.place([RawPacket("video", b"v", 0, 0, True, FRAME)], reason=None, duration=0.5)
    big = 5 * WRAP + FRAME  # fMP4 timestamps are 64-bit: no wrap to undo
    packets, reason = timeline.place([RawPacket("video", b"v", big, big, True, FRAME)],
                                     reason=None, duration=1e6)
    assert (dts(packets)[0], reason) == (big, None)


def test_a_discontinuity_repeats_the_last_dts_for_the_session_to_see() -> None:
    timeline = Timeline(V, V, wraps=True, seamless=False)
    before, _ = timeline.place(segment(900_000, audio_start=900_000), reason=None, duration=0.5)
    after, reason = timeline.place(segment(126_000, audio_start=126_000 + 600),
                                   reason="discontinuity", duration=0.5)
    assert reason == "discontinuity"
    last_video = dts(before)[-1]
    assert dts(after)[0] == last_video  # not increasing: the session's marker signal
    assert all(b > a for a, b in pairwise(dts(after)))
    # Audio moved by the same number of seconds: A/V offsets inside the segment kept.
    assert dts(after, "audio")[0] - dts(after)[0] == 600


def test_seamless_mode_continues_strictly_increasing() -> None:
    timeline = Timeline(V, V, wraps=True, seamless=True)
    before, _ = timeline.place(segment(900_000, audio_start=900_000), reason=None, duration=0.5)
    after, reason = timeline.place(segment(126_000, audio_start=126_000),
                                   reason="discontinuity", duration=0.5)
    assert reason == "discontinuity"
    for kind in ("video", "audio"):
        stamps = dts(before + after, kind)
        assert all(b > a for a, b in pairwise(stamps)), kind
    assert dts(after)[0] == dts(before)[-1] + FRAME


def test_an_untagged_jump_back_is_found_in_the_timestamps() -> None:
    timeline = Timeline(V, None, wraps=True, seamless=True)
    timeline.place(segment(900_000), reason=None, duration=0.5)
    after, reason = timeline.place(segment(0), reason=None, duration=0.5)
    assert reason == "timestamp"
    assert dts(after)[0] == 900_000 + 15 * FRAME


def test_an_untagged_jump_forward_beyond_a_second_is_found() -> None:
    timeline = Timeline(V, None, wraps=True, seamless=True)
    timeline.place(segment(0), reason=None, duration=0.5)
    _, small = timeline.place(segment(15 * FRAME + 9000), reason=None, duration=0.5)
    _, large = timeline.place(segment(10 * 90000), reason=None, duration=0.5)
    assert (small, large) == (None, "timestamp")


def test_the_first_segment_is_never_shifted() -> None:
    timeline = Timeline(V, None, wraps=True, seamless=False)
    packets, reason = timeline.place(segment(777), reason="reset", duration=0.5)
    assert reason is None and dts(packets)[0] == 777


def test_audio_in_its_own_time_base_moves_by_the_same_seconds() -> None:
    audio_tb = Fraction(1, 48000)
    timeline = Timeline(Fraction(1, 15360), audio_tb, wraps=False, seamless=False)
    timeline.place([RawPacket("video", b"v", 15360, 15360, True, 512),
                    RawPacket("audio", b"a", 48000, 48000, True, 1024)],
                   reason=None, duration=0.5)
    after, _ = timeline.place([RawPacket("video", b"v", 0, 0, True, 512),
                               RawPacket("audio", b"a", 0, 0, True, 1024)],
                              reason="discontinuity", duration=0.5)
    video, audio = after
    assert video.dts == 15360  # one second, repeated
    assert audio.dts == 48000  # the same second in 48 kHz units


def test_program_date_time_becomes_the_wall_clock() -> None:
    timeline = Timeline(V, V, wraps=True, seamless=False)
    packets, _ = timeline.place(segment(90_000, frames=3, audio_start=90_000 + 4500),
                                reason=None, duration=0.1, wallclock=1_700_000_000.0)
    video = [p for p in packets if p.kind == "video"]
    audio = [p for p in packets if p.kind == "audio"]
    assert [p.wallclock for p in video] == [1_700_000_000.0 + i / 30 for i in range(3)]
    assert audio[0].wallclock == 1_700_000_000.05


def test_no_program_date_time_leaves_the_wall_clock_unknown() -> None:
    timeline = Timeline(V, None, wraps=True, seamless=False)
    packets, _ = timeline.place(segment(0, frames=2), reason=None, duration=0.1)
    assert {p.wallclock for p in packets} == {None}
