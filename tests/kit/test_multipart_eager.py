"""`MultipartParser(eager=True)`: a part is released as soon as its Content-Length bytes arrived."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camsdk.driver import MultipartParser, Part, PartTooLargeError


def _part(body: bytes, *, length: int | None = None, kind: str = "application/xml") -> bytes:
    declared = len(body) if length is None else length
    return (f"--event\r\nContent-Type: {kind}\r\nContent-Length: {declared}\r\n\r\n".encode()
            + body + b"\r\n")


def _doc(n: int) -> bytes:
    return f"<Alert><id>{n}</id><state>active</state></Alert>".encode()


def _closed(part: Part) -> bool:
    return part.body.rstrip().endswith(b"</Alert>")


def _bodies(parts: list[Part]) -> list[bytes]:
    return [p.body for p in parts]


def test_by_default_a_part_waits_for_the_next_boundary() -> None:
    parser = MultipartParser("event")
    assert parser.feed(_part(_doc(1))) == []
    assert _bodies(parser.feed(b"--event\r\n")) == [_doc(1)]


def test_in_eager_mode_a_part_is_released_when_its_length_arrived() -> None:
    parser = MultipartParser("event", eager=True)
    assert _bodies(parser.feed(_part(_doc(1)))) == [_doc(1)]


def test_a_part_split_across_chunks_is_released_with_its_last_byte() -> None:
    data = _part(_doc(7))
    end = data.index(b"</Alert>") + len(b"</Alert>")
    parser = MultipartParser("event", eager=True)
    assert parser.feed(data[:end - 1]) == []
    assert _bodies(parser.feed(data[end - 1:end])) == [_doc(7)]
    assert parser.feed(data[end:] + _part(_doc(8))[:20]) == []


STREAM = b"".join(_part(_doc(n)) for n in range(4))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=20))
def test_split_at_any_bytes_every_part_comes_out_once_and_whole(cuts: list[int]) -> None:
    parser = MultipartParser("event", eager=True, complete=_closed)
    found: list[Part] = []
    start = 0
    for point in [*sorted(set(cuts)), len(STREAM)]:
        found += parser.feed(STREAM[start:point])
        start = point
    assert _bodies(found) == [_doc(n) for n in range(4)]  # all out before any later boundary


def test_bytes_after_the_body_that_contradict_its_length_fall_back_to_the_boundary() -> None:
    data = _part(_doc(1), length=len(_doc(1)) - 4) + b"--event\r\n"
    parser = MultipartParser("event", eager=True)
    assert _bodies(parser.feed(data)) == [_doc(1)]
    assert parser.resyncs == 1


def test_a_boundary_inside_a_declared_body_ends_the_part_there() -> None:
    data = _part(_doc(1), length=4000) + _part(_doc(2))
    parser = MultipartParser("event", eager=True)
    assert _bodies(parser.feed(data)) == [_doc(1), _doc(2)]


def test_a_part_the_caller_finds_unfinished_waits_for_its_boundary() -> None:
    cut = b"<Alert><id>1</id>"
    parser = MultipartParser("event", eager=True, complete=_closed)
    assert parser.feed(_part(cut)) == []
    assert _bodies(parser.feed(b"--event\r\n")) == [cut]


def test_a_finished_part_with_a_too_long_length_is_released_at_its_line_ending() -> None:
    parser = MultipartParser("event", eager=True, complete=_closed)
    assert _bodies(parser.feed(_part(_doc(1), length=len(_doc(1)) + 9))) == [_doc(1)]
    assert _bodies(parser.feed(_part(_doc(2)))) == [_doc(2)]


def test_without_a_completeness_check_a_too_long_part_waits() -> None:
    parser = MultipartParser("event", eager=True)
    assert parser.feed(_part(_doc(1), length=len(_doc(1)) + 9)) == []


def test_a_part_without_a_header_block_is_read() -> None:
    parser = MultipartParser("event")
    parts = parser.feed(b"--event\r\nCode=VideoMotion;action=Start;index=0\r\n--event\r\n")
    assert _bodies(parts) == [b"Code=VideoMotion;action=Start;index=0"]


def test_finish_keeps_a_last_part_the_caller_finds_finished() -> None:
    parser = MultipartParser("event", complete=_closed)
    parser.feed(b"--event\r\nContent-Type: application/xml\r\n\r\n" + _doc(3))
    assert _bodies(parser.finish()) == [_doc(3)]


def test_an_oversized_declared_part_is_refused_at_once_in_eager_mode() -> None:
    parser = MultipartParser("event", eager=True, max_part_bytes=1024)
    with pytest.raises(PartTooLargeError):
        parser.feed(b"--event\r\nContent-Length: 999999\r\n\r\n<Alert>")
