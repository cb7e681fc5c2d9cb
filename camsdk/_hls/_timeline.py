"""One timeline out of many segments: MPEG-TS wrap-around, discontinuities, wall-clock time.

Each segment is demuxed on its own, so the timeline across segments is
kept here, per track (video, audio):

- **Wrap-around.** MPEG-TS timestamps are 33-bit and wrap every ~26.5 h;
  each one is unwrapped to the value nearest its track's previous one.
- **Discontinuities.** At an ``EXT-X-DISCONTINUITY``, a skipped or missing
  segment, a playlist reset, or a jump the timestamps themselves show
  (backwards, or forwards by more than ``max(1 s, segment duration)``), the
  segment is shifted onto the running timeline, the same number of seconds
  for both tracks so they stay in sync. Where it lands depends on
  ``seamless``:

  * ``False`` (what `StreamSession` expects): the first video DTS after the
    break *equals* the last one before it. A DTS that does not increase is
    the session's signal to insert a `Discontinuity` marker, after which it
    continues the track monotonically itself.
  * ``True``: the first DTS after the break follows the last one by one
    packet duration, so the output alone is strictly increasing; the break
    is only counted (``HlsUpstream.discontinuities``).

- **Wall clock.** With ``EXT-X-PROGRAM-DATE-TIME``, each packet's
  `MediaPacket.wallclock` is the segment's date plus the packet's offset
  from the segment's first video timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .._media import MediaKind, MediaPacket

__all__ = ["RawPacket", "Timeline"]

_WRAP = 1 << 33
_HALF_WRAP = 1 << 32


@dataclass(slots=True)
class RawPacket:
    """A demuxed packet before it is placed on the timeline (timestamps in its track's units)."""

    kind: MediaKind
    data: bytes
    pts: int | None
    dts: int | None
    keyframe: bool
    duration: int


class _Track:
    __slots__ = ("last", "offset", "reference", "seconds", "step", "time_base")

    def __init__(self, time_base: Fraction) -> None:
        self.time_base = time_base
        self.seconds = float(time_base)
        #: Last unwrapped input timestamp (wrap-around reference).
        self.reference: int | None = None
        #: Last output DTS.
        self.last: int | None = None
        #: Last packet duration (or DTS step) in output units.
        self.step = 1
        self.offset = 0


class Timeline:
    """Places the packets of successive segments on one timeline (see module docstring)."""

    def __init__(
        self,
        video_time_base: Fraction,
        audio_time_base: Fraction | None,
        *,
        wraps: bool,
        seamless: bool,
    ) -> None:
        self._tracks: dict[str, _Track] = {"video": _Track(video_time_base)}
        if audio_time_base is not None:
            self._tracks["audio"] = _Track(audio_time_base)
        self._wraps = wraps
        self._seamless = seamless

    def place(
        self,
        packets: Sequence[RawPacket],
        *,
        reason: str | None,
        duration: float,
        wallclock: float | None = None,
    ) -> tuple[list[MediaPacket], str | None]:
        """The segment's packets on the timeline, and why it was shifted (``None``: it was not).

        ``reason`` says the playlist announced a break before this segment;
        ``duration`` is its ``EXTINF`` and ``wallclock`` its program date.
        """
        tracks = self._tracks
        if self._wraps:
            self._unwrap(packets)
        firsts: dict[str, RawPacket] = {}
        for pkt in packets:
            if pkt.kind not in firsts and _stamp(pkt) is not None and pkt.kind in tracks:
                firsts[pkt.kind] = pkt
                if len(firsts) == len(tracks):
                    break
        anchor = "video" if "video" in firsts else next(iter(firsts), None)
        if anchor is not None:
            track = tracks[anchor]
            first = _stamp(firsts[anchor])
            assert first is not None
            if reason is None and track.last is not None:
                placed = first + track.offset
                tolerance = round(max(1.0, duration) / track.seconds)
                if placed <= track.last or placed > track.last + track.step + tolerance:
                    reason = "timestamp"
            if reason is not None and track.last is not None:
                self._rebase(anchor, first, firsts)
            else:
                reason = None
        base = None
        if wallclock is not None and anchor is not None:
            anchor_first = firsts[anchor]
            stamp = anchor_first.pts if anchor_first.pts is not None else _stamp(anchor_first)
            if stamp is not None:
                base = wallclock - stamp * tracks[anchor].seconds
        return self._emit(packets, base), reason

    def _rebase(self, anchor: str, first: int, firsts: dict[str, RawPacket]) -> None:
        tracks = self._tracks
        track = tracks[anchor]
        assert track.last is not None
        target = track.last + (track.step if self._seamless else 0)
        track.offset = target - first
        shift = track.offset * track.time_base
        for kind, other in tracks.items():
            if kind == anchor:
                continue
            other.offset = round(shift / other.time_base)
            other_first = firsts.get(kind)
            stamp = None if other_first is None else _stamp(other_first)
            if (
                self._seamless
                and stamp is not None
                and other.last is not None
                and stamp + other.offset <= other.last
            ):
                other.offset = other.last + other.step - stamp

    def _unwrap(self, packets: Sequence[RawPacket]) -> None:
        tracks = self._tracks
        for pkt in packets:
            track = tracks.get(pkt.kind)
            if track is None:
                continue
            dts = pkt.dts
            reference = track.reference
            if dts is not None:
                if reference is not None:
                    delta = (dts - reference) % _WRAP
                    dts = reference + (delta - _WRAP if delta >= _HALF_WRAP else delta)
                    pkt.dts = dts
                track.reference = dts
            if pkt.pts is not None:
                near = dts if dts is not None else reference
                if near is not None:
                    delta = (pkt.pts - near) % _WRAP
                    pkt.pts = near + (delta - _WRAP if delta >= _HALF_WRAP else delta)
                if dts is None:
                    track.reference = pkt.pts

    def _emit(self, packets: Sequence[RawPacket], wall_base: float | None) -> list[MediaPacket]:
        tracks = self._tracks
        out: list[MediaPacket] = []
        append = out.append
        for pkt in packets:
            track = tracks.get(pkt.kind)
            if track is None:
                continue
            offset = track.offset
            pts = None if pkt.pts is None else pkt.pts + offset
            dts = None if pkt.dts is None else pkt.dts + offset
            stamp = dts if dts is not None else pts
            if stamp is not None:
                last = track.last
                if pkt.duration > 0:
                    track.step = pkt.duration
                elif last is not None and stamp > last:
                    track.step = stamp - last
                if last is None or stamp > last:
                    track.last = stamp
            wall = None
            if wall_base is not None and pkt.pts is not None:
                wall = wall_base + pkt.pts * track.seconds
            append(
                MediaPacket(
                    pkt.data, pts, dts, track.time_base, pkt.keyframe, pkt.kind, pkt.duration,
                    wallclock=wall,
                )
            )
        return out


def _stamp(pkt: RawPacket) -> int | None:
    return pkt.dts if pkt.dts is not None else pkt.pts
