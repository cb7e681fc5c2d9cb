"""Two-way audio through the ONVIF RTSP backchannel.

The client asks with ``Require: www.onvif.org/ver20/backchannel`` on
DESCRIBE, SETUP and PLAY; a device that has one lists an audio section with
``a=sendonly`` (the direction is the client's), which is set up alone over
TCP interleaved channels. After PLAY the client *sends* RTP on that channel:
G.711 µ-law/A-law and L16 split at the MTU, Opus one packet per RTP packet,
AAC with an RFC 3640 AU header (fragmented over packets when large).
A device without a backchannel answers 551 (or lists none):
`UnsupportedCapabilityError`.
"""

from __future__ import annotations

import secrets
import struct

from camsdk._errors import (
    CameraClosedError,
    CameraProtocolError,
    CameraUnreachableError,
    CamError,
    ConfigurationError,
    UnsupportedCapabilityError,
)
from camsdk._talk import AudioFormat, TalkChannel

from ._message import parse_transport
from ._rtp import rtp_header
from ._sdp import MediaDescription
from ._session import Redirected, RtspSession
from ._settings import RtspSettings

__all__ = ["BACKCHANNEL", "RtspBackchannel", "open_backchannel"]

BACKCHANNEL = "www.onvif.org/ver20/backchannel"
#: Largest RTP payload sent: keeps each packet inside an Ethernet MTU.
MTU_PAYLOAD = 1400
_FORMATS = {"pcmu": "pcm_mulaw", "pcma": "pcm_alaw", "mpeg4-generic": "aac", "opus": "opus",
            "l16": "pcm_s16be"}


def backchannel_format(media: MediaDescription) -> AudioFormat:
    """The `AudioFormat` of a backchannel section, or `UnsupportedCapabilityError`."""
    codec = _FORMATS.get(media.encoding)
    if codec is None:
        raise UnsupportedCapabilityError(
            f"the camera's backchannel wants {media.encoding or 'an unknown codec'}, which "
            "camsdk cannot send")
    rate = 48000 if codec == "opus" else media.clock_rate
    return AudioFormat(codec, rate, media.channels)


class RtspBackchannel:
    """An open backchannel: a `TalkChannel` that packetises into RTP."""

    def __init__(self, session: RtspSession, media: MediaDescription, fmt: AudioFormat,
                 channel: int) -> None:
        self._session = session
        self._media = media
        self._format = fmt
        self._channel = channel
        self._seq = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._ssrc = secrets.randbits(32)
        self._first = True
        self._closed = False
        size_length = media.fmtp.get("sizelength", "13")
        index_length = media.fmtp.get("indexlength", "3")
        self._size_bits = int(size_length) if size_length.isdigit() else 13
        self._index_bits = int(index_length) if index_length.isdigit() else 3
        #: RTP packets and payload bytes sent so far.
        self.packets = 0
        self.octets = 0

    @property
    def format(self) -> AudioFormat:
        """What the device expects."""
        return self._format

    def _frame(self, payload: bytes, timestamp: int, marker: bool) -> bytes:
        packet = rtp_header(self._media.payload_type, self._seq, timestamp, self._ssrc,
                            marker) + payload
        self._seq = (self._seq + 1) & 0xFFFF
        self.packets += 1
        self.octets += len(payload)
        return struct.pack("!cBH", b"$", self._channel, len(packet)) + packet

    def _packets(self, packet: bytes, samples: int) -> list[bytes]:
        codec = self._format.codec
        ts = self._timestamp
        if codec == "aac":
            return self._aac(packet, ts)
        if codec == "opus" or len(packet) <= MTU_PAYLOAD:
            return [self._frame(packet, ts, self._first)]
        width = max(1, self._format.channels) * (2 if codec == "pcm_s16be" else 1)
        step = MTU_PAYLOAD - MTU_PAYLOAD % width
        out = []
        for offset in range(0, len(packet), step):
            out.append(self._frame(packet[offset : offset + step], ts + offset // width,
                                   self._first and offset == 0))
        return out

    def _aac(self, frame: bytes, ts: int) -> list[bytes]:
        header_bits = self._size_bits + self._index_bits
        if len(frame) >= 1 << self._size_bits:
            raise ConfigurationError("AAC frame too large for the device's AU size field")
        value = len(frame) << self._index_bits
        header_bytes = (header_bits + 7) // 8
        au_header = struct.pack("!H", header_bits) + (
            value << (header_bytes * 8 - header_bits)).to_bytes(header_bytes, "big")
        room = MTU_PAYLOAD - len(au_header)
        chunks = [frame[i : i + room] for i in range(0, len(frame), room)] or [b""]
        return [self._frame(au_header + chunk, ts, i == len(chunks) - 1)
                for i, chunk in enumerate(chunks)]

    async def send(self, packet: bytes, samples: int) -> None:
        """Send one encoded packet of ``samples`` samples (per channel)."""
        if self._closed:
            raise CameraClosedError("the backchannel was closed")
        conn = self._session.connection
        if conn is None or conn.closed:
            raise self._session.annotate(
                CameraUnreachableError("the camera closed the backchannel connection"))
        if samples < 0:
            raise ConfigurationError("samples must not be negative")
        frames = self._packets(packet, samples)
        self._first = False
        self._timestamp = (self._timestamp + samples) & 0xFFFFFFFF
        conn.write(b"".join(frames))
        await conn.drain()

    async def aclose(self) -> None:
        """TEARDOWN and close; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._session.close(linger=0.5)


async def open_backchannel(settings: RtspSettings) -> TalkChannel:
    """Set up the ONVIF audio backchannel of ``settings.url`` and return it."""
    session = RtspSession(settings, require=BACKCHANNEL)
    try:
        for _ in range(settings.max_redirects + 1):
            desc = await session.describe()
            media = desc.backchannel
            if media is None:
                raise UnsupportedCapabilityError("the camera offers no audio backchannel")
            fmt = backchannel_format(media)
            try:
                response = await session.setup(media.control_url,
                                               "RTP/AVP/TCP;unicast;interleaved=0-1")
                session.check(response, "SETUP")
                spec = parse_transport(response.header("transport") or "")
                channel = spec.interleaved[0] if spec.interleaved is not None else 0
                await session.play()
            except Redirected as redirect:
                session.follow(redirect.url)
                continue
            session.start_keepalive()
            return RtspBackchannel(session, media, fmt, channel)
        raise CameraProtocolError("too many redirects")  # pragma: no cover
    except CamError as exc:
        session.abort()
        raise session.annotate(exc) from exc.__cause__
    except BaseException:
        session.abort()
        raise
