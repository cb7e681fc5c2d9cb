"""Access-unit assembly shared by the H.264 and H.265 depacketisers.

NAL units of one RTP timestamp are collected until the marker bit (or a new
timestamp) ends the access unit, which then leaves as one Annex-B buffer. The
rules that make that buffer safe for a decoder live here:

- a lost packet breaks the unit, and a broken unit is dropped whole, never
  delivered with a hole in it;
- a unit without a picture (parameter sets or SEI only, as some cameras send
  with their own marker bit) is not delivered alone: its NAL units open the
  next unit;
- a keyframe that lacks parameter sets gets the latest ones (from the SDP, or
  in band) inserted before its first slice;
- a unit larger than `MAX_ACCESS_UNIT` is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "MAX_ACCESS_UNIT",
    "START_CODE",
    "AccessUnitAssembler",
    "Emit",
    "FragmentedNal",
    "read_avcc",
    "read_hvcc",
    "split_annexb",
]

#: Largest access unit accepted (a 4K intra picture is a few MiB).
MAX_ACCESS_UNIT = 8 * 1024 * 1024
#: Largest number of NAL units in one access unit (slices, SEI, parameter sets).
MAX_NALS = 1024
START_CODE = b"\x00\x00\x00\x01"

#: ``emit(data, rtp_timestamp, keyframe, duration)``: one access unit or audio frame
#: (duration in clock ticks, 0 when unknown).
Emit = Callable[[bytes, int, bool, int], None]


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B buffer (start codes and trailing zeros removed)."""
    nals: list[bytes] = []
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        nxt = data.find(b"\x00\x00\x01", begin)
        nal = data[begin : len(data) if nxt == -1 else nxt].rstrip(b"\x00")
        if nal:
            nals.append(nal)
        start = nxt
    return nals


class AccessUnitAssembler:
    """Collects NAL units into access units for one video track.

    ``nal_type`` maps a NAL unit to its type; ``vcl``, ``keyframes``,
    ``parameter_types`` (in decoding order, e.g. VPS, SPS, PPS) describe the
    codec. `emit` gets each finished unit.
    """

    __slots__ = (
        "_broken", "_check_start", "_has_vcl", "_keyframe", "_nals", "_size", "_ts", "_types",
        "dropped", "emit", "first_slice", "keyframes", "nal_type", "parameter_sets",
        "parameter_types", "vcl",
    )

    def __init__(
        self,
        emit: Emit,
        nal_type: Callable[[bytes], int],
        first_slice: Callable[[bytes], bool],
        *,
        vcl: frozenset[int],
        keyframes: frozenset[int],
        parameter_types: tuple[int, ...],
        parameter_sets: list[bytes],
    ) -> None:
        self.emit = emit
        self.nal_type = nal_type
        self.first_slice = first_slice
        self.vcl = vcl
        self.keyframes = keyframes
        self.parameter_types = parameter_types
        #: type -> the latest parameter sets of that type (SDP first, then in band).
        self.parameter_sets: dict[int, list[bytes]] = {}
        for nal in parameter_sets:
            kind = nal_type(nal) if nal else -1
            if kind in parameter_types:
                self.parameter_sets.setdefault(kind, []).append(nal)
        self._nals: list[bytes] = []
        self._types: list[int] = []
        self._ts: int | None = None
        self._size = 0
        self._broken = False
        self._has_vcl = False
        self._keyframe = False
        self._check_start = False
        #: Access units dropped because a packet was lost or they were malformed.
        self.dropped = 0

    def begin(self, timestamp: int) -> None:
        """Called for every packet: a new timestamp ends the unit being collected."""
        if timestamp != self._ts:
            if self._has_vcl or self._broken:
                self.finish()
            self._ts = timestamp

    def add(self, nal: bytes) -> None:
        """Append one complete NAL unit to the current access unit."""
        if not nal:
            return
        kind = self.nal_type(nal)
        if self._check_start:
            # The first NAL unit after a loss: a slice that does not start its
            # picture means the loss took this unit's beginning.
            self._check_start = False
            if not self._has_vcl and kind in self.vcl and not self.first_slice(nal):
                self._broken = True
        self._size += len(nal) + 4
        if self._size > MAX_ACCESS_UNIT or len(self._nals) >= MAX_NALS:
            self._broken = True
            return
        self._nals.append(nal)
        self._types.append(kind)
        if kind in self.vcl:
            self._has_vcl = True
            if kind in self.keyframes:
                self._keyframe = True

    def damage(self) -> None:
        """Mark the current access unit broken (a packet of it was malformed)."""
        self._broken = True

    def lost(self) -> None:
        """Packets were lost: the unit being collected is broken, and the next one is
        checked for a missing beginning."""
        if self._nals:
            self._broken = True
        self._check_start = True

    def finish(self) -> None:
        """End the current access unit (marker bit): deliver it, drop it, or keep it
        as the prefix of the next one when it carries no picture."""
        if not self._has_vcl and not self._broken:
            return  # parameter sets or SEI alone: they open the next unit
        nals, types, ts = self._nals, self._types, self._ts
        broken, keyframe = self._broken, self._keyframe
        self._nals, self._types = [], []
        self._size = 0
        self._broken = self._has_vcl = self._keyframe = False
        if broken or ts is None:
            if nals or broken:
                self.dropped += 1
            return
        self._remember_parameter_sets(nals, types)
        if keyframe:
            nals = self._with_parameter_sets(nals, types)
        self.emit(START_CODE + START_CODE.join(nals), ts, keyframe, 0)

    def _remember_parameter_sets(self, nals: list[bytes], types: list[int]) -> None:
        fresh: dict[int, list[bytes]] = {}
        for nal, kind in zip(nals, types, strict=True):
            if kind in self.parameter_types:
                fresh.setdefault(kind, []).append(nal)
        self.parameter_sets.update(fresh)

    def _with_parameter_sets(self, nals: list[bytes], types: list[int]) -> list[bytes]:
        missing = [
            nal
            for kind in self.parameter_types
            if kind not in types
            for nal in self.parameter_sets.get(kind, ())
        ]
        if not missing:
            return nals
        first_vcl = next(i for i, kind in enumerate(types) if kind in self.vcl)
        return nals[:first_vcl] + missing + nals[first_vcl:]


class FragmentedNal:
    """One NAL unit being rebuilt from fragmentation units (H.264 FU-A, H.265 FU).

    The depacketiser hands over the rebuilt NAL header with the first
    fragment's body, then each later body; `end` adds the whole NAL unit to
    the access unit. A start while another unit is open, a continuation without
    a start, or a unit past `MAX_ACCESS_UNIT` breaks the access unit.
    """

    __slots__ = ("_au", "_parts", "_size")

    def __init__(self, au: AccessUnitAssembler) -> None:
        self._au = au
        self._parts: list[bytes] | None = None
        self._size = 0

    def start(self, header: bytes, body: bytes) -> None:
        """The first fragment: ``header`` is the NAL header rebuilt from the FU header."""
        if self._parts is not None:
            self._au.damage()  # the previous unit never ended
        self._parts = [header, body]
        self._size = len(header) + len(body)

    def append(self, body: bytes) -> bool:
        """A middle or end fragment; False (and the access unit broken) when it cannot belong."""
        if self._parts is None:
            self._au.damage()  # a middle or end without its start
            return False
        self._parts.append(body)
        self._size += len(body)
        if self._size > MAX_ACCESS_UNIT:
            self._parts = None
            self._au.damage()
            return False
        return True

    def end(self) -> None:
        """The end bit: the rebuilt NAL unit joins the access unit."""
        if self._parts is not None:
            nal = b"".join(self._parts)
            self._parts = None
            self._au.add(nal)

    def abandon(self) -> None:
        """Something other than a fragment came, or the unit ended: an open one is broken."""
        if self._parts is not None:
            self._parts = None
            self._au.damage()


def read_avcc(record: bytes) -> tuple[int, list[bytes]]:
    """``(length_size, parameter sets)`` of an ``avcC`` record; `ValueError` when truncated."""
    try:
        length_size = (record[4] & 0x03) + 1
        sets: list[bytes] = []
        pos = 5
        for count_mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count
            count = record[pos] & count_mask
            pos += 1
            for _ in range(count):
                pos = _read_unit(record, pos, sets)
    except IndexError:
        raise ValueError("truncated avcC record") from None
    return length_size, sets


def read_hvcc(record: bytes) -> tuple[int, list[bytes]]:
    """``(length_size, parameter sets)`` of an ``hvcC`` record (every array, in order).

    `ValueError` when truncated.
    """
    try:
        length_size = (record[21] & 0x03) + 1
        arrays = record[22]
        pos = 23
        sets: list[bytes] = []
        for _ in range(arrays):
            count = int.from_bytes(record[pos + 1 : pos + 3], "big")
            pos += 3
            for _ in range(count):
                pos = _read_unit(record, pos, sets)
    except IndexError:
        raise ValueError("truncated hvcC record") from None
    return length_size, sets


def _read_unit(record: bytes, pos: int, into: list[bytes]) -> int:
    """Append the 16-bit-length-prefixed unit at ``pos``; the position after it."""
    size = int.from_bytes(record[pos : pos + 2], "big")
    unit = record[pos + 2 : pos + 2 + size]
    if len(unit) != size or size == 0:
        raise IndexError
    into.append(unit)
    return pos + 2 + size
