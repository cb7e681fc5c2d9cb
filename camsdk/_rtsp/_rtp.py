"""RTP and RTCP (RFC 3550) pieces that are not per-codec.

- `parse_rtcp`: sender reports (RTP time <-> NTP wall clock) and BYE out of a
  compound RTCP packet, bounded and tolerant of junk;
- `receiver_report`: an RR (one report block per source) plus the SDES CNAME
  RFC 3550 requires in every compound packet;
- `ReorderBuffer`: puts UDP packets back in sequence-number order within a
  window of packets and a short time bound, and says when some are lost;
- `rtp_packet`: the 12-byte fixed header plus payload, for what we send.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "NTP_UNIX_OFFSET",
    "ReorderBuffer",
    "RtcpBye",
    "RtcpSenderReport",
    "parse_rtcp",
    "receiver_report",
    "rtp_header",
    "rtp_packet",
]

#: Seconds from the NTP epoch (1900) to the UNIX epoch (1970).
NTP_UNIX_OFFSET = 2_208_988_800
_MAX_RTCP_PARTS = 32
_SR, _RR, _SDES, _BYE = 200, 201, 202, 203
_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class RtcpSenderReport:
    """A sender report: ``rtp_timestamp`` was sampled at ``wallclock`` (UNIX seconds)."""

    ssrc: int
    wallclock: float
    rtp_timestamp: int
    #: The middle 32 bits of the NTP timestamp, echoed in receiver reports (LSR).
    ntp_middle: int


@dataclass(frozen=True, slots=True)
class RtcpBye:
    """A BYE: these sources leave the session."""

    ssrcs: tuple[int, ...]


def parse_rtcp(data: bytes) -> list[RtcpSenderReport | RtcpBye]:
    """Sender reports and BYEs in a (compound) RTCP packet; the rest is skipped.

    Malformed parts end the walk: what was read before them is returned.
    """
    out: list[RtcpSenderReport | RtcpBye] = []
    pos = 0
    for _ in range(_MAX_RTCP_PARTS):
        if len(data) - pos < 4:
            break
        first, kind, words = struct.unpack_from("!BBH", data, pos)
        size = 4 * (words + 1)
        if first >> 6 != 2 or pos + size > len(data):
            break
        if kind == _SR and size >= 28:
            ssrc, seconds, fraction, rtp_ts = struct.unpack_from("!IIII", data, pos + 4)
            wallclock = seconds - NTP_UNIX_OFFSET + fraction / 4294967296.0
            middle = ((seconds & 0xFFFF) << 16) | (fraction >> 16)
            out.append(RtcpSenderReport(ssrc, wallclock, rtp_ts, middle))
        elif kind == _BYE:
            count = min(first & 0x1F, (size - 4) // 4)
            out.append(RtcpBye(struct.unpack_from(f"!{count}I", data, pos + 4)))
        pos += size
    return out


def receiver_report(ssrc: int, blocks: list[bytes], cname: bytes = b"camsdk") -> bytes:
    """A compound RTCP packet: RR with ``blocks`` (24 bytes each) + SDES CNAME."""
    blocks = blocks[:31]
    rr = struct.pack("!BBHI", 0x80 | len(blocks), _RR, 1 + 6 * len(blocks), ssrc) + b"".join(
        blocks
    )
    cname = cname[:255]
    item = struct.pack("!IBB", ssrc, 1, len(cname)) + cname + b"\x00"
    item += b"\x00" * (-len(item) % 4)
    sdes = struct.pack("!BBH", 0x81, _SDES, len(item) // 4) + item
    return rr + sdes


def report_block(
    source: int, fraction_lost: int, cumulative_lost: int, highest_seq: int, jitter: int,
    last_sr: int, delay_since_sr: int,
) -> bytes:
    """One 24-byte RR report block (RFC 3550 6.4.1)."""
    lost = max(-0x800000, min(0x7FFFFF, cumulative_lost)) & 0xFFFFFF
    return struct.pack(
        "!IIIIII", source & 0xFFFFFFFF, ((fraction_lost & 0xFF) << 24) | lost,
        highest_seq & 0xFFFFFFFF, jitter & 0xFFFFFFFF, last_sr & 0xFFFFFFFF,
        delay_since_sr & 0xFFFFFFFF,
    )


def rtp_header(payload_type: int, seq: int, timestamp: int, ssrc: int, marker: bool) -> bytes:
    """The 12-byte RTP fixed header."""
    return _HEADER.pack(0x80, (0x80 if marker else 0) | (payload_type & 0x7F), seq & 0xFFFF,
                        timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)


def rtp_packet(
    payload_type: int, seq: int, timestamp: int, ssrc: int, marker: bool, payload: bytes
) -> bytes:
    """An RTP packet: fixed header plus payload."""
    return rtp_header(payload_type, seq, timestamp, ssrc, marker) + payload


class ReorderBuffer:
    """Releases UDP packets in sequence order; gives up on a missing one after
    ``window`` later packets arrived or ``delay`` seconds passed.

    ``release(packet)`` gets every packet in order; ``lost(count)`` is called
    before the first packet after a hole. Late packets (behind what was
    released) and duplicates are dropped. The caller calls `expire` when the
    time bound may have passed (it schedules that from `deadline`).
    """

    __slots__ = ("_delay", "_expected", "_held", "_since", "_window", "late", "lost", "release")

    def __init__(self, release: Callable[[bytes], None], lost: Callable[[int], None], *,
                 window: int, delay: float) -> None:
        self.release = release
        self.lost = lost
        self._window = window
        self._delay = delay
        self._expected: int | None = None
        self._held: dict[int, bytes] = {}
        self._since = 0.0
        #: Packets dropped for arriving too late or twice.
        self.late = 0

    @property
    def held(self) -> int:
        """Packets waiting for a missing one."""
        return len(self._held)

    @property
    def deadline(self) -> float | None:
        """When the oldest held packet must go out (monotonic seconds), if any is held."""
        return self._since + self._delay if self._held else None

    def push(self, seq: int, packet: bytes, now: float) -> None:
        """Take one packet with 16-bit sequence number ``seq``, received at ``now``."""
        expected = self._expected
        if expected is None or (not self._held and seq == expected):
            self._expected = (seq + 1) & 0xFFFF
            self.release(packet)
            return
        ahead = (seq - expected) & 0xFFFF
        if ahead >= 0x8000:
            if ahead > 0xFFFF - 3000:
                self.late += 1  # behind: already released or given up on
                return
            # A jump far back (a restarted sender): start again from it.
            self._drain_all()
            self._expected = (seq + 1) & 0xFFFF
            self.release(packet)
            return
        if ahead > 3000:
            self._drain_all()  # a jump far ahead: a new stream; do not wait for the hole
            self._expected = seq
        if seq in self._held:
            self.late += 1
            return
        if not self._held:
            self._since = now
        self._held[seq] = packet
        self._drain_ready()
        if len(self._held) > self._window:
            self._skip_hole()

    def expire(self, now: float) -> None:
        """Give up on holes older than the time bound."""
        while self._held and now >= self._since + self._delay:
            self._skip_hole()
            if self._held:
                self._since = now

    def _drain_ready(self) -> None:
        held = self._held
        expected = self._expected
        assert expected is not None
        while expected in held:
            packet = held.pop(expected)
            expected = (expected + 1) & 0xFFFF
            self._expected = expected
            self.release(packet)

    def _skip_hole(self) -> None:
        """Declare the missing packets before the oldest held one lost, then drain."""
        assert self._expected is not None
        nearest = min(self._held, key=lambda s: (s - self._expected) & 0xFFFF)  # type: ignore[operator]
        missing = (nearest - self._expected) & 0xFFFF
        self._expected = nearest
        if missing:
            self.lost(missing)
        self._drain_ready()

    def _drain_all(self) -> None:
        while self._held:
            self._skip_hole()
