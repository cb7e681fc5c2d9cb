"""AAC over RTP: ``mpeg4-generic`` (RFC 3640) and ``MP4A-LATM`` (RFC 6416).

Both yield raw AAC frames (no ADTS header) with the AudioSpecificConfig as
extradata, which is what FFmpeg's ``aac`` decoder and the MP4 muxer take.

- mpeg4-generic: AU headers with ``sizeLength``/``indexLength``/
  ``indexDeltaLength`` (and the optional CTS/DTS/RAP/stream-state fields),
  several frames per packet, or one frame fragmented over packets that share
  a timestamp (the marker bit ends it).
- LATM: ``cpresent=0`` with the StreamMuxConfig in the SDP ``config``
  (audioMuxVersion 0, one program and layer); each payload is one or more
  length-prefixed frames, possibly fragmented over packets.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._nal import Emit
from ._sps import BitReader

__all__ = ["AacDepacketizer", "LatmDepacketizer", "parse_stream_mux_config"]

_MAX_FRAME = 64 * 1024
_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025,
                 8000, 7350)


def _int(params: Mapping[str, str], key: str, default: int = 0) -> int:
    text = params.get(key, "")
    return min(int(text), 32) if text.isdigit() and len(text) < 4 else default


class AacDepacketizer:
    """``mpeg4-generic`` payloads -> raw AAC frames."""

    __slots__ = (
        "_aux",
        "_cts",
        "_dts",
        "_frag",
        "_frag_size",
        "_frag_ts",
        "_index",
        "_index_delta",
        "_rap",
        "_size",
        "_state",
        "emit",
        "frame_samples",
        "malformed",
    )

    def __init__(self, emit: Emit, fmtp: Mapping[str, str]) -> None:
        self.emit = emit
        self._size = _int(fmtp, "sizelength")
        self._index = _int(fmtp, "indexlength")
        self._index_delta = _int(fmtp, "indexdeltalength")
        self._cts = _int(fmtp, "ctsdeltalength")
        self._dts = _int(fmtp, "dtsdeltalength")
        self._rap = 1 if fmtp.get("randomaccessindication", "0") == "1" else 0
        self._state = _int(fmtp, "streamstateindication")
        self._aux = _int(fmtp, "auxiliarydatasizelength")
        duration = fmtp.get("constantduration", "")
        self.frame_samples = int(duration) if duration.isdigit() and 0 < int(duration) < 65536 \
            else 1024
        self._frag: list[bytes] | None = None
        self._frag_size = 0
        self._frag_ts = 0
        #: Payloads that could not be read.
        self.malformed = 0

    def lost(self) -> None:
        """Packets were lost: a frame being reassembled is incomplete."""
        self._frag = None

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """One RTP payload, ``packet[start:end]``."""
        if self._frag is not None:
            self._continue(packet, start, end, timestamp, marker)
            return
        try:
            headers, data = self._headers(packet, start, end)
        except ValueError:
            self.malformed += 1
            return
        pos = data
        for i, (size, index) in enumerate(headers):
            if pos + size > end:
                if i == 0 and len(headers) == 1 and not marker and size <= _MAX_FRAME:
                    # One frame fragmented over several packets.
                    self._frag = [packet[pos:end]]
                    self._frag_size = size
                    self._frag_ts = timestamp
                    return
                self.malformed += 1
                return
            self.emit(packet[pos : pos + size], timestamp + index * self.frame_samples, True,
                      self.frame_samples)
            pos += size

    def _continue(self, packet: bytes, start: int, end: int, timestamp: int,
                  marker: bool) -> None:
        assert self._frag is not None
        if timestamp != self._frag_ts:
            self._frag = None
            self.push(packet, start, end, timestamp, marker)
            return
        try:
            _, data = self._headers(packet, start, end)
        except ValueError:
            self._frag = None
            self.malformed += 1
            return
        self._frag.append(packet[data:end])
        have = sum(len(p) for p in self._frag)
        if have >= self._frag_size or marker:
            frame = b"".join(self._frag)
            self._frag = None
            if len(frame) == self._frag_size:
                self.emit(frame, timestamp, True, self.frame_samples)
            else:
                self.malformed += 1

    def _headers(self, packet: bytes, start: int, end: int) -> tuple[list[tuple[int, int]], int]:
        """The (size, index) of every AU in the payload, and where the data starts."""
        if not self._size:
            # No AU headers at all (constant-size mode is not used by cameras): one frame.
            return [(end - start, 0)], start
        if end - start < 2:
            raise ValueError("short payload")
        bits = (packet[start] << 8) | packet[start + 1]
        header_bytes = (bits + 7) // 8
        data = start + 2 + header_bytes
        if data > end or bits == 0:
            raise ValueError("AU headers run past the payload")
        r = BitReader(packet[start + 2 : data])
        out: list[tuple[int, int]] = []
        index = 0
        while r.position < bits and len(out) < 64:
            size = r.u(self._size)
            if out:
                index += r.u(self._index_delta) + 1
            else:
                r.skip(self._index)  # timestamps count from the first AU of the packet
            if self._cts and r.flag():
                r.skip(self._cts)
            if self._dts and r.flag():
                r.skip(self._dts)
            r.skip(self._rap + self._state)
            if size > _MAX_FRAME:
                raise ValueError("AU larger than 64 KiB")
            out.append((size, index))
        if self._aux:
            aux_bits = BitReader(packet[data : data + 4]).u(self._aux) if end - data >= 4 else 0
            data += (self._aux + aux_bits + 7) // 8
        return out, data


class LatmDepacketizer:
    """``MP4A-LATM`` payloads (``cpresent=0``) -> raw AAC frames."""

    __slots__ = ("_buf", "_ts", "emit", "frame_samples", "malformed", "subframes")

    def __init__(self, emit: Emit, subframes: int = 1, frame_samples: int = 1024) -> None:
        self.emit = emit
        self.subframes = subframes
        self.frame_samples = frame_samples
        self._buf: list[bytes] = []
        self._ts = 0
        self.malformed = 0

    def lost(self) -> None:
        """Packets were lost: drop a partial payload."""
        self._buf = []

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """One RTP payload; a payload may span packets until the marker bit."""
        if self._buf and timestamp != self._ts:
            self._buf = []
        self._ts = timestamp
        self._buf.append(packet[start:end])
        if sum(len(b) for b in self._buf) > 4 * _MAX_FRAME:
            self._buf = []
            self.malformed += 1
            return
        if not marker:
            return
        data = b"".join(self._buf)
        self._buf = []
        pos = 0
        for sub in range(self.subframes):
            length = 0
            while pos < len(data):
                byte = data[pos]
                pos += 1
                length += byte
                if byte != 255:
                    break
            if length == 0 or pos + length > len(data):
                self.malformed += 1
                return
            self.emit(data[pos : pos + length], timestamp + sub * self.frame_samples, True,
                      self.frame_samples)
            pos += length


def parse_stream_mux_config(config: bytes) -> tuple[bytes, int, int, int]:
    """AudioSpecificConfig, sample rate, channels and subframes per payload from a
    LATM StreamMuxConfig (audioMuxVersion 0). Raises `ValueError`."""
    r = BitReader(config)
    if r.u(1):
        raise ValueError("audioMuxVersion 1 is not supported")
    r.skip(1)  # allStreamsSameTimeFraming
    subframes = r.u(6) + 1
    if r.u(4) != 0 or r.u(3) != 0:
        raise ValueError("only one program and one layer are supported")
    start = r.position
    object_type = r.u(5)
    if object_type == 31:
        object_type = 32 + r.u(6)
    index = r.u(4)
    rate = r.u(24) if index == 15 else (_SAMPLE_RATES[index] if index < len(_SAMPLE_RATES)
                                        else 0)
    channels = r.u(4)
    if object_type in (5, 29):  # SBR/PS: the extension rate and the core object type follow
        ext = r.u(4)
        if ext == 15:
            r.skip(24)
        object_type = r.u(5)
    if object_type not in (1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23):
        raise ValueError(f"AAC object type {object_type} is not supported")
    r.skip(1)  # frameLengthFlag
    if r.flag():  # dependsOnCoreCoder
        r.skip(14)
    r.skip(1)  # extensionFlag
    end = r.position
    if not rate or not channels:
        raise ValueError("LATM config without sample rate or channels")
    bits = end - start
    value = int.from_bytes(config, "big") >> (len(config) * 8 - end)
    value &= (1 << bits) - 1
    asc = (value << (-bits % 8)).to_bytes((bits + 7) // 8, "big")
    return asc, rate, channels, subframes
