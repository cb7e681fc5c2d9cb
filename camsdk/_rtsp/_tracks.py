"""One set-up media track: RTP packets in, `MediaPacket`s out.

Per packet (the hot path): header checks, sequence-number continuity, 64-bit
timestamp unwrapping, then the codec's depacketiser. Per access unit: the
presentation time relative to the track's first delivered unit, DTS kept
strictly increasing, and the camera's wall-clock time once an RTCP sender
report has tied RTP time to NTP time.

Loss policy (video): a sequence gap drops the access unit it hit (the
depacketiser never delivers a unit with a hole) and then every unit up to
the next keyframe, so a decoder never sees a reference it lacks. Each such
gap counts once in `Track.gaps`. Video delivery also starts at the first
keyframe. Audio frames are independent: a gap costs only the lost frames.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Protocol

from camsdk._errors import StreamOpenError
from camsdk._media import MediaKind, MediaPacket

from ._aac import AacDepacketizer, LatmDepacketizer, parse_stream_mux_config
from ._audio import FrameDepacketizer
from ._h264 import H264Depacketizer
from ._h265 import H265Depacketizer
from ._metadata import MetadataDepacketizer
from ._mjpeg import JpegDepacketizer
from ._nal import Emit
from ._rtp import RtcpBye, RtcpSenderReport, parse_rtcp, report_block
from ._sdp import MediaDescription

if TYPE_CHECKING:  # pragma: no cover
    from ._udp import UdpPair

__all__ = ["AudioCodec", "Depacketizer", "Track", "audio_codec_of", "make_depacketizer"]

_HEADER = struct.Struct("!BBHII")


class Depacketizer(Protocol):
    """What every payload format implements."""

    def push(self, packet: bytes, start: int, end: int, timestamp: int, marker: bool) -> None:
        """Take one RTP payload, ``packet[start:end]``, with its unwrapped timestamp."""
        ...

    def lost(self) -> None:
        """Packets before the next one were lost."""
        ...


@dataclass(frozen=True, slots=True)
class AudioCodec:
    """An audio track's codec parameters, FFmpeg names."""

    codec: str
    sample_rate: int
    channels: int
    extradata: bytes | None = None


def audio_codec_of(media: MediaDescription) -> AudioCodec | None:
    """Codec parameters of an audio section camsdk can read, else ``None``."""
    enc = media.encoding
    if enc in ("pcmu", "pcma"):
        return AudioCodec("pcm_mulaw" if enc == "pcmu" else "pcm_alaw", media.clock_rate,
                          media.channels)
    if enc == "l16":
        return AudioCodec("pcm_s16be", media.clock_rate, media.channels)
    if enc == "opus":
        channels = 2 if media.fmtp.get("stereo") == "1" else media.channels
        return AudioCodec("opus", 48000, channels)
    if enc == "mpeg4-generic":
        mode = media.fmtp.get("mode", "").lower()
        if mode and not mode.startswith("aac"):
            return None  # CELP and other MPEG-4 modes
        try:
            config = bytes.fromhex(media.fmtp.get("config", ""))
        except ValueError:
            config = b""
        return AudioCodec("aac", media.clock_rate, media.channels, config or None)
    if enc == "mp4a-latm":
        if media.fmtp.get("cpresent", "1") != "0":
            return None
        try:
            asc, rate, channels, _ = parse_stream_mux_config(
                bytes.fromhex(media.fmtp.get("config", "")))
        except ValueError:
            return None
        return AudioCodec("aac", rate, channels, asc)
    return None


def make_depacketizer(media: MediaDescription, emit: Emit) -> Depacketizer:
    """The depacketiser for a media section; `StreamOpenError` for unknown payloads."""
    enc = media.encoding
    if enc == "h264":
        return H264Depacketizer(emit, media.sprop_parameter_sets())
    if enc == "h265":
        don = media.fmtp.get("sprop-max-don-diff", "0")
        return H265Depacketizer(emit, media.sprop_hevc(), donl=don.isdigit() and int(don) > 0)
    if enc in ("pcmu", "pcma"):
        return FrameDepacketizer(emit, bytes_per_sample=max(1, media.channels))
    if enc == "l16":
        return FrameDepacketizer(emit, bytes_per_sample=2 * max(1, media.channels))
    if enc == "opus":
        return FrameDepacketizer(emit, bytes_per_sample=0)
    if enc == "mpeg4-generic":
        return AacDepacketizer(emit, media.fmtp)
    if enc == "mp4a-latm":
        try:
            _, _, _, subframes = parse_stream_mux_config(
                bytes.fromhex(media.fmtp.get("config", "")))
        except ValueError as exc:
            raise StreamOpenError(f"unreadable MP4A-LATM config: {exc}") from None
        return LatmDepacketizer(emit, subframes)
    if enc == "vnd.onvif.metadata":
        return MetadataDepacketizer(emit)
    if enc == "jpeg":
        return JpegDepacketizer(emit)
    raise StreamOpenError(f"camsdk cannot read {enc or 'unknown'} over RTP")


class Track:
    """One media track of a session: RTP/RTCP in, packets to ``sink`` out."""

    __slots__ = (
        "_dts",
        "_expected_prior",
        "_ext",
        "_ext_seq",
        "_first_seq",
        "_last_ts",
        "_origin",
        "_received_prior",
        "_seq",
        "_sr",
        "_sr_arrival",
                "bad",
        "clock_rate",
        "depacketizer",
        "fps_ticks",
        "frames_dropped",
        "gaps",
        "kind",
        "lost_packets",
        "media",
        "on_bye",
        "on_gap",
        "payload_type",
        "received",
        "rtcp_channel",
        "rtp_channel",
        "sink",
        "ssrc",
        "time_base",
        "udp",
        "waiting_keyframe",
        "wall_offset",
    )

    def __init__(
        self,
        media: MediaDescription,
        kind: MediaKind | str,
        sink: Callable[[MediaPacket], None],
        *,
        on_gap: Callable[[], None] | None = None,
        on_bye: Callable[[], None] | None = None,
        fps: float | None = None,
    ) -> None:
        self.media = media
        self.kind = kind
        self.sink = sink
        self.on_gap = on_gap
        self.on_bye = on_bye
        self.payload_type = media.payload_type
        self.clock_rate = media.clock_rate
        self.time_base = Fraction(1, media.clock_rate)
        self.fps_ticks = round(media.clock_rate / fps) if fps else 0
        self.depacketizer: Depacketizer = make_depacketizer(media, self._emit)
        self.waiting_keyframe = kind == "video"
        self.rtp_channel: int | None = None
        self.rtcp_channel: int | None = None
        #: The UDP port pair, when RTP comes over UDP.
        self.udp: UdpPair | None = None
        self.ssrc: int | None = None
        self._seq: int | None = None
        self._first_seq = 0
        self._ext_seq = 0
        self._last_ts: int | None = None
        self._ext = 0
        self._origin: int | None = None
        self._dts = -1
        self._sr: RtcpSenderReport | None = None
        self._sr_arrival = 0.0
        self.wall_offset: tuple[int, float] | None = None
        self._expected_prior = 0
        self._received_prior = 0
        #: Packets received, lost (sequence gaps), malformed; video gaps; frames dropped
        #: while waiting for a keyframe.
        self.received = 0
        self.lost_packets = 0
        self.bad = 0
        self.gaps = 0
        self.frames_dropped = 0

    # -- RTP ---------------------------------------------------------------------------

    def on_rtp(self, packet: bytes) -> None:
        """One RTP packet (in sequence order)."""
        size = len(packet)
        if size < 12:
            self.bad += 1
            return
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(packet)
        if b0 & 0xC0 != 0x80 or b1 & 0x7F != self.payload_type:
            self.bad += 1  # not RTP, or a payload type we did not set up (comfort noise...)
            return
        start = 12 + ((b0 & 0x0F) << 2)
        if b0 & 0x10:  # header extension
            if size < start + 4:
                self.bad += 1
                return
            start += 4 + (((packet[start + 2] << 8) | packet[start + 3]) << 2)
        end = size - packet[-1] if b0 & 0x20 else size
        if start > end:
            self.bad += 1
            return
        if ssrc != self.ssrc:
            self._new_source(ssrc, seq, ts)
        else:
            if seq != self._seq:
                ahead = (seq - self._seq) & 0xFFFF
                if ahead >= 0x8000:
                    self.bad += 1  # a duplicate or a packet from the past
                    return
                self.lost_packets += ahead
                self._ext_seq += ahead
                self._lost()
            self._ext_seq += 1
            diff = (ts - self._last_ts) & 0xFFFFFFFF
            self._ext += diff - 0x100000000 if diff & 0x80000000 else diff
        self._seq = (seq + 1) & 0xFFFF
        self._last_ts = ts
        self.received += 1
        self.depacketizer.push(packet, start, end, self._ext, b1 & 0x80 != 0)

    def _new_source(self, ssrc: int, seq: int, ts: int) -> None:
        """The first packet, or a new SSRC (the camera restarted its encoder)."""
        if self.ssrc is not None:
            # Keep time running forward: continue one frame after the last one.
            self._lost()
            self._ext += self.fps_ticks or 1
        elif self._last_ts is not None:
            diff = (ts - self._last_ts) & 0xFFFFFFFF  # an SR came first
            self._ext += diff - 0x100000000 if diff & 0x80000000 else diff
        else:
            self._ext = ts
        self.ssrc = ssrc
        self.wall_offset = None if self._sr is not None and self._sr.ssrc != self.ssrc else (
            self.wall_offset)
        self._first_seq = self._ext_seq = seq
        self._expected_prior = self._received_prior = 0
        self.received = 0

    def _lost(self) -> None:
        self.depacketizer.lost()
        if self.kind == "video":
            if not self.waiting_keyframe:
                self.gaps += 1
                if self.on_gap is not None:
                    self.on_gap()
            self.waiting_keyframe = True

    def _emit(self, data: bytes, timestamp: int, keyframe: bool, duration: int) -> None:
        if self.waiting_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                return
            self.waiting_keyframe = False
        if self._origin is None:
            self._origin = timestamp
        pts = timestamp - self._origin
        if pts <= self._dts:
            pts = self._dts + 1  # cameras send no B-frames: DTS = PTS, kept increasing
        self._dts = pts
        wallclock = None
        if self.wall_offset is not None:
            sr_ext, sr_wall = self.wall_offset
            wallclock = sr_wall + (timestamp - sr_ext) / self.clock_rate
        self.sink(MediaPacket(
            data, pts, pts, self.time_base, keyframe, self.kind,  # type: ignore[arg-type]
            duration or self.fps_ticks, time.monotonic(), wallclock,
        ))

    # -- RTCP --------------------------------------------------------------------------

    def on_rtcp(self, packet: bytes) -> None:
        """One RTCP packet from the sender: sender reports and BYE."""
        for item in parse_rtcp(packet):
            if isinstance(item, RtcpSenderReport):
                if self.ssrc is not None and item.ssrc != self.ssrc:
                    continue
                if self._last_ts is None:
                    self._last_ts = self._ext = item.rtp_timestamp
                diff = (item.rtp_timestamp - self._last_ts) & 0xFFFFFFFF
                sr_ext = self._ext + (diff - 0x100000000 if diff & 0x80000000 else diff)
                self.wall_offset = (sr_ext, item.wallclock)
                self._sr = item
                self._sr_arrival = time.monotonic()
            elif isinstance(item, RtcpBye) and self.on_bye is not None and (
                    self.ssrc is None or self.ssrc in item.ssrcs or not item.ssrcs):
                self.on_bye()

    def report_block(self) -> bytes | None:
        """This track's RR report block, or ``None`` before the first packet."""
        if self.ssrc is None or self._seq is None:
            return None
        expected = max(self._ext_seq - self._first_seq + 1, self.received)
        interval_expected = expected - self._expected_prior
        interval_received = self.received - self._received_prior
        self._expected_prior, self._received_prior = expected, self.received
        interval_lost = interval_expected - interval_received
        fraction = (interval_lost << 8) // interval_expected if interval_expected > 0 and (
            interval_lost > 0) else 0
        last_sr = delay = 0
        if self._sr is not None:
            last_sr = self._sr.ntp_middle
            delay = int((time.monotonic() - self._sr_arrival) * 65536)
        return report_block(self.ssrc, fraction, self.lost_packets, self._ext_seq, 0, last_sr,
                            delay)

    @property
    def stats(self) -> Mapping[str, int]:
        """Counters, for diagnostics."""
        return {"received": self.received, "lost": self.lost_packets, "bad": self.bad,
                "gaps": self.gaps, "frames_dropped": self.frames_dropped}
