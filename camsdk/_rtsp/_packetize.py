"""RTP packetisation and SDP media descriptions for RTSP servers.

Used by the gateway's restream (`camsdk.serve`) and the test server
(`camsdk.testing.RtspServer`).

Everything here is pure computation on bytes, no I/O:

- splitting access units into NAL units (Annex B start codes, or AVCC/HVCC
  length prefixes when the extradata says so);
- RTP payloads: H.264 (RFC 6184, single NAL unit and FU-A), H.265 (RFC 7798,
  single NAL unit and FU), AAC (RFC 3640 ``AAC-hbr`` with one AU header);
- the RTP fixed header (RFC 3550), RTCP sender reports and the ``$``
  interleaved framing of RFC 2326 section 10.12;
- `MediaTimeline`: a source's packets turned, once, into a list of
  ready-to-send RTP payloads with send times, plus the SDP ``m=`` sections.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from camsdk._media import MediaPacket, StreamInfo
from camsdk._rtsp._nal import read_avcc, read_hvcc, split_annexb

__all__ = [
    "MAX_PAYLOAD",
    "MediaTimeline",
    "MediaUnit",
    "RtpTrack",
    "aac_payload",
    "audio_specific_config",
    "fragment_h264",
    "fragment_h265",
    "interleaved_frame",
    "rtcp_sender_report",
    "rtp_packet",
    "split_annexb",
    "split_length_prefixed",
]

#: Largest RTP payload we emit. Keeps every UDP datagram under a 1500-byte
#: Ethernet MTU with room for IP/UDP/RTP headers, like real cameras do.
MAX_PAYLOAD = 1400

_H264_FU_A = 28
_H265_FU = 49
_H265_VPS, _H265_SPS, _H265_PPS = 32, 33, 34
_H264_SPS, _H264_PPS = 7, 8

# Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch).
_NTP_UNIX_OFFSET = 2_208_988_800

_AAC_SAMPLE_RATES = (
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
)


def split_length_prefixed(data: bytes, length_size: int = 4) -> list[bytes]:
    """Split AVCC/HVCC-style length-prefixed NAL units.

    Raises `ValueError` when a length runs past the end of the buffer.
    """
    nals: list[bytes] = []
    pos = 0
    while pos + length_size <= len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if pos + size > len(data):
            raise ValueError("truncated length-prefixed NAL unit")
        if size:
            nals.append(data[pos : pos + size])
        pos += size
    return nals


def fragment_h264(nal: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads for one H.264 NAL unit (RFC 6184).

    A NAL unit that fits is sent as a single NAL unit packet; a larger one is
    cut into FU-A fragments whose FU header carries start/end bits.
    """
    if len(nal) <= max_payload:
        return [nal]
    indicator = (nal[0] & 0xE0) | _H264_FU_A
    nal_type = nal[0] & 0x1F
    body = nal[1:]
    step = max_payload - 2
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    out: list[bytes] = []
    for i, chunk in enumerate(chunks):
        header = nal_type
        if i == 0:
            header |= 0x80
        if i == len(chunks) - 1:
            header |= 0x40
        out.append(bytes((indicator, header)) + chunk)
    return out


def fragment_h265(nal: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads for one H.265 NAL unit (RFC 7798).

    Single NAL unit packet when it fits, otherwise fragmentation units (type
    49) whose payload header keeps the F bit, layer id and temporal id.
    """
    if len(nal) <= max_payload:
        return [nal]
    nal_type = (nal[0] >> 1) & 0x3F
    payload_header = bytes(((nal[0] & 0x81) | (_H265_FU << 1), nal[1]))
    body = nal[2:]
    step = max_payload - 3
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    out: list[bytes] = []
    for i, chunk in enumerate(chunks):
        header = nal_type
        if i == 0:
            header |= 0x80
        if i == len(chunks) - 1:
            header |= 0x40
        out.append(payload_header + bytes((header,)) + chunk)
    return out


def aac_payload(frame: bytes) -> bytes:
    """RTP payload for one raw AAC frame in ``AAC-hbr`` mode (RFC 3640).

    One AU per packet: a 16-bit AU-headers-length (in bits) followed by one
    AU header of 13-bit size and 3-bit index. An ADTS header, if present, is
    stripped because RTP carries raw access units.
    """
    if len(frame) >= 7 and frame[0] == 0xFF and (frame[1] & 0xF0) == 0xF0:
        header_len = 7 if frame[1] & 0x01 else 9  # protection_absent decides the CRC
        frame = frame[header_len:]
    if len(frame) >= 1 << 13:
        raise ValueError("AAC frame too large for a 13-bit AU size")
    return struct.pack("!HH", 16, len(frame) << 3) + frame


def audio_specific_config(sample_rate: int, channels: int) -> bytes:
    """A two-byte AAC-LC AudioSpecificConfig, for sources without extradata."""
    try:
        index = _AAC_SAMPLE_RATES.index(sample_rate)
    except ValueError:
        raise ValueError(f"no AAC sampling index for {sample_rate} Hz") from None
    value = (2 << 11) | (index << 7) | ((channels & 0x0F) << 3)
    return value.to_bytes(2, "big")


def rtp_packet(
    payload_type: int, seq: int, timestamp: int, ssrc: int, marker: bool, payload: bytes
) -> bytes:
    """An RTP packet: the 12-byte fixed header (RFC 3550 5.1) plus payload."""
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    header = struct.pack(
        "!BBHII", 0x80, second, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF
    )
    return header + payload


def rtcp_sender_report(
    ssrc: int, wallclock: float, rtp_timestamp: int, packet_count: int, octet_count: int
) -> bytes:
    """An RTCP sender report without report blocks (RFC 3550 6.4.1).

    ``wallclock`` is Unix time in seconds; it is what lets a receiver map RTP
    timestamps of different tracks onto one clock.
    """
    ntp = wallclock + _NTP_UNIX_OFFSET
    seconds = int(ntp)
    fraction = int((ntp - seconds) * (1 << 32)) & 0xFFFFFFFF
    return struct.pack(
        "!BBHIIIIII",
        0x80,
        200,
        6,
        ssrc & 0xFFFFFFFF,
        seconds & 0xFFFFFFFF,
        fraction,
        rtp_timestamp & 0xFFFFFFFF,
        packet_count & 0xFFFFFFFF,
        octet_count & 0xFFFFFFFF,
    )


def interleaved_frame(channel: int, data: bytes) -> bytes:
    """Frame ``data`` for RTSP interleaved TCP transport (RFC 2326 10.12)."""
    if len(data) > 0xFFFF:
        raise ValueError("interleaved frame larger than 65535 bytes")
    return struct.pack("!cBH", b"$", channel, len(data)) + data


@dataclass(frozen=True, slots=True)
class RtpTrack:
    """One media track as the SDP and the RTP sender see it."""

    index: int
    kind: str
    codec: str
    payload_type: int
    clock_rate: int
    #: The SDP ``m=`` section without the ``a=control`` line.
    sdp_media: str

    @property
    def control(self) -> str:
        """Relative control URL used in SDP and SETUP."""
        return f"trackID={self.index}"

    def payload_header_length(self, payload: bytes) -> int:
        """Bytes at the start of ``payload`` that depacketisers need intact.

        Fault injection corrupts only what follows, so receivers still
        reassemble frames and the damage lands in the coded data.
        """
        if self.codec == "aac":
            return 4
        if self.codec == "h264":
            return 2 if payload and (payload[0] & 0x1F) == _H264_FU_A else 1
        return 3 if payload and ((payload[0] >> 1) & 0x3F) == _H265_FU else 2


@dataclass(frozen=True, slots=True)
class MediaUnit:
    """One source packet, packetised: what the pacer sends at one instant."""

    track: int
    #: Send time in seconds from the start of the loop (decode order).
    send_at: Fraction
    #: Presentation time in seconds from the start of the loop; RTP timestamps
    #: derive from it.
    rtp_at: Fraction
    payloads: tuple[bytes, ...]
    keyframe: bool


@dataclass(frozen=True, slots=True)
class MediaTimeline:
    """A source turned into RTP payloads once, replayed by every session."""

    tracks: tuple[RtpTrack, ...]
    units: tuple[MediaUnit, ...]
    #: Length of one loop in seconds; the next loop starts this much later.
    duration: Fraction

    @classmethod
    def from_source(
        cls,
        info: StreamInfo,
        video: Sequence[MediaPacket],
        audio: Sequence[MediaPacket] | None = None,
    ) -> MediaTimeline:
        """Packetise a source. Raises `ValueError` for unusable input."""
        if not video:
            raise ValueError("source has no video packets")
        if not video[0].keyframe:
            raise ValueError("source video must start with a keyframe")
        codec = _normalise_video_codec(info.codec)
        nal_splitter, parameter_sets = _nal_format(codec, info.extradata)

        video_nals = [nal_splitter(p.data) for p in video]
        if not parameter_sets:
            parameter_sets = _parameter_sets_from(codec, video_nals[0])
        tracks = [_video_track(codec, parameter_sets, info.fps)]

        fragment = fragment_h264 if codec == "h264" else fragment_h265
        origin = _decode_time(video[0])
        units: list[MediaUnit] = []
        for pkt, nals in zip(video, video_nals, strict=True):
            payloads = tuple(p for nal in nals for p in fragment(nal))
            if not payloads:
                continue
            units.append(
                MediaUnit(
                    track=0,
                    send_at=_decode_time(pkt) - origin,
                    rtp_at=_presentation_time(pkt) - origin,
                    payloads=payloads,
                    keyframe=pkt.keyframe,
                )
            )
        duration = units[-1].send_at + _frame_interval(video, info)

        if audio and info.audio_codec is not None:
            if info.audio_codec != "aac":
                raise ValueError(f"unsupported audio codec {info.audio_codec!r}")
            tracks.append(_aac_track(info))
            audio_origin = _presentation_time(audio[0])
            for pkt in audio:
                at = _presentation_time(pkt) - audio_origin
                if at >= duration:
                    break  # the loop length is the video's; extra audio would overlap
                units.append(MediaUnit(1, at, at, (aac_payload(pkt.data),), True))
        units.sort(key=lambda u: (u.send_at, u.track))
        return cls(tuple(tracks), tuple(units), duration)

    def sdp_media_sections(self) -> str:
        """All ``m=`` sections, each with its ``a=control`` line."""
        return "".join(f"{t.sdp_media}a=control:{t.control}\r\n" for t in self.tracks)


def _normalise_video_codec(codec: str) -> str:
    name = codec.lower()
    if name in ("h264", "avc", "avc1"):
        return "h264"
    if name in ("h265", "hevc", "hvc1", "hev1"):
        return "hevc"
    raise ValueError(f"unsupported video codec {codec!r} (use h264 or hevc)")


def _nal_format(
    codec: str, extradata: bytes | None
) -> tuple[Callable[[bytes], list[bytes]], dict[int, bytes]]:
    """How packets are framed, judged from the extradata, and its parameter sets.

    Extradata that starts with version byte 1 is an avcC/hvcC record, which
    means the packets use length prefixes; anything else means Annex B.
    """
    if not extradata:
        return split_annexb, {}
    if extradata[0] == 1 and not extradata.startswith(b"\x00\x00"):
        if codec == "h264":
            length_size, nals = read_avcc(extradata)
        else:
            length_size, nals = read_hvcc(extradata)

        def split(data: bytes) -> list[bytes]:
            return split_length_prefixed(data, length_size)

        return split, _parameter_sets_from(codec, nals)
    return split_annexb, _parameter_sets_from(codec, split_annexb(extradata))


def _parameter_sets_from(codec: str, nals: Sequence[bytes]) -> dict[int, bytes]:
    """First VPS/SPS/PPS found, keyed by NAL unit type."""
    found: dict[int, bytes] = {}
    for nal in nals:
        if not nal:
            continue
        nal_type = nal[0] & 0x1F if codec == "h264" else (nal[0] >> 1) & 0x3F
        wanted = (_H264_SPS, _H264_PPS) if codec == "h264" else (_H265_VPS, _H265_SPS, _H265_PPS)
        if nal_type in wanted and nal_type not in found:
            found[nal_type] = nal
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _video_track(codec: str, parameter_sets: dict[int, bytes], fps: float | None) -> RtpTrack:
    if codec == "h264":
        sps = parameter_sets.get(_H264_SPS)
        pps = parameter_sets.get(_H264_PPS)
        if sps is None or pps is None or len(sps) < 4:
            raise ValueError("H.264 source has no SPS/PPS in extradata or first keyframe")
        fmtp = (
            f"packetization-mode=1;profile-level-id={sps[1:4].hex()};"
            f"sprop-parameter-sets={_b64(sps)},{_b64(pps)}"
        )
        rtpmap = "H264/90000"
    else:
        try:
            vps, sps, pps = (parameter_sets[t] for t in (_H265_VPS, _H265_SPS, _H265_PPS))
        except KeyError:
            raise ValueError("H.265 source has no VPS/SPS/PPS") from None
        fmtp = f"sprop-vps={_b64(vps)};sprop-sps={_b64(sps)};sprop-pps={_b64(pps)}"
        rtpmap = "H265/90000"
    media = f"m=video 0 RTP/AVP 96\r\na=rtpmap:96 {rtpmap}\r\na=fmtp:96 {fmtp}\r\n"
    if fps:
        # Receivers (FFmpeg among them) take the frame rate from here instead
        # of measuring it over the first second or so of packets.
        media += f"a=framerate:{fps:g}\r\n"
    return RtpTrack(0, "video", codec, 96, 90000, media)


def _aac_track(info: StreamInfo) -> RtpTrack:
    rate = info.audio_sample_rate
    channels = info.audio_channels or 1
    if not rate:
        raise ValueError("AAC source needs audio_sample_rate")
    config = info.audio_extradata or audio_specific_config(rate, channels)
    media = (
        "m=audio 0 RTP/AVP 97\r\n"
        f"a=rtpmap:97 MPEG4-GENERIC/{rate}/{channels}\r\n"
        "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;"
        f"indexlength=3;indexdeltalength=3;config={config.hex()}\r\n"
    )
    return RtpTrack(1, "audio", "aac", 97, rate, media)


def _decode_time(pkt: MediaPacket) -> Fraction:
    ticks = pkt.dts if pkt.dts is not None else pkt.pts
    if ticks is None:
        raise ValueError("source packet without pts or dts")
    return ticks * pkt.time_base


def _presentation_time(pkt: MediaPacket) -> Fraction:
    ticks = pkt.pts if pkt.pts is not None else pkt.dts
    if ticks is None:
        raise ValueError("source packet without pts or dts")
    return ticks * pkt.time_base


def _frame_interval(video: Sequence[MediaPacket], info: StreamInfo) -> Fraction:
    """How long the last frame lasts, so the loop seam keeps the frame rate."""
    last = video[-1]
    if last.duration > 0:
        return last.duration * last.time_base
    if info.fps:
        return 1 / Fraction(info.fps).limit_denominator(1001)
    if len(video) > 1:
        span = _decode_time(last) - _decode_time(video[0])
        if span > 0:
            return span / (len(video) - 1)
    return Fraction(1, 15)
