"""`WebRtcTalkChannel`: two-way audio on a `WebRtcSession`'s audio send track.

The facade (``cam.talk()``) encodes PCM to the negotiated codec with PyAV
and paces the packets in real time; this channel hands each packet to the
session's outgoing track as an ``av.Packet``. aiortc's sender packetises a
packet it gets from a track without encoding it, so the audio is encoded
once, by the facade, and what the speaker sends is what the device gets.
(Feeding decoded frames instead would make aiortc resample and encode a
second time, with its own codec settings.)

RTP timestamps count samples sent; after a pause longer than the facade's
lead they jump to real time, so the device's jitter buffer sees the gap as
silence rather than a burst of late audio.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction

from .._errors import (
    CameraClosedError,
    CameraTimeoutError,
    ConfigurationError,
    StreamOpenError,
)
from .._talk import AudioFormat
from ._session import WebRtcSession

__all__ = ["WebRtcTalkChannel"]


class WebRtcTalkChannel:
    """A `camsdk.driver` talk channel over a session opened with ``audio="sendrecv"``.

    Create it once the answer is accepted (the codec is negotiated then).
    ``close_session`` closes the peer connection with `aclose` (when the
    channel alone uses the session); ``send_timeout`` bounds the wait for
    room in the send track's small queue (a connection that does not drain it).
    """

    def __init__(
        self, session: WebRtcSession, *, close_session: bool = False, send_timeout: float = 5.0
    ) -> None:
        codec = session.audio_codec
        if session.talk_track is None or codec is None:
            raise ConfigurationError(
                "the session has no negotiated audio to send (offer audio='sendrecv')",
                scheme=session.scheme, url=session.url,
            )
        if codec.ffmpeg_name not in ("opus", "pcm_mulaw", "pcm_alaw"):
            raise StreamOpenError(f"cannot send {codec.name} audio", scheme=session.scheme,
                                  url=session.url)
        self.session = session
        # Opus in RTP always counts 48 kHz; camsdk sends mono (RFC 7587 allows it).
        self._format = AudioFormat(codec.ffmpeg_name, codec.clock_rate, 1)
        self._time_base = Fraction(1, codec.clock_rate)
        self._close_session = close_session
        self._send_timeout = send_timeout
        self._next_pts = 0
        self._started: float | None = None
        self._closed = False
        self.packets = 0
        self.bytes = 0

    @property
    def format(self) -> AudioFormat:
        """The negotiated codec: ``opus`` (48 kHz), ``pcm_mulaw`` or ``pcm_alaw`` (8 kHz)."""
        return self._format

    async def send(self, packet: bytes, samples: int) -> None:
        """Queue one encoded packet on the send track (waits for room, bounded)."""
        import av

        session = self.session
        if self._closed or session.closed:
            raise CameraClosedError("the talk channel is closed", scheme=session.scheme,
                                    url=session.url)
        session.raise_if_ended()
        now = time.monotonic()
        if self._started is None:
            self._started = now
        rate = self._format.sample_rate
        # Behind real time (a pause): continue from now; ahead (the facade's lead): contiguous.
        pts = max(self._next_pts, int((now - self._started) * rate))
        self._next_pts = pts + samples
        out = av.Packet(packet)
        out.pts = pts
        out.time_base = self._time_base
        from aiortc.mediastreams import MediaStreamError

        try:
            async with asyncio.timeout(self._send_timeout):
                await session.talk_track.push(out)
        except TimeoutError:
            raise CameraTimeoutError(
                f"the WebRTC audio track did not drain within {self._send_timeout:g} s",
                scheme=session.scheme, url=session.url,
            ) from None
        except MediaStreamError:
            raise CameraClosedError("the WebRTC audio track ended", scheme=session.scheme,
                                    url=session.url) from None
        self.packets += 1
        self.bytes += len(packet)

    async def aclose(self) -> None:
        """End the talk session (and the peer connection with ``close_session``)."""
        if self._closed:
            return
        self._closed = True
        if self._close_session:
            await self.session.aclose()
