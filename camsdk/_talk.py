"""Two-way audio: the driver side of ``cam.talk()``.

A driver that can play audio on the device's speaker returns a `TalkChannel`
from ``CameraDriver.open_talk``: an open path (an RTSP backchannel track, a
vendor HTTP audio upload, a WebRTC send track) that takes *encoded* audio in
the channel's `AudioFormat`. The facade does the generic work once for every
driver: the access check and audit record, encoding PCM to the channel's
codec with PyAV, and pacing the packets in real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["AudioFormat", "TalkChannel"]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """What a talk channel carries.

    ``codec`` is FFmpeg's name: ``pcm_mulaw`` (G.711 µ-law), ``pcm_alaw``
    (G.711 A-law), ``aac``, ``opus``, ``pcm_s16be`` (L16) ...
    """

    codec: str
    sample_rate: int = 8000
    channels: int = 1


class TalkChannel(Protocol):
    """An open audio path to the device's speaker (implemented by drivers)."""

    @property
    def format(self) -> AudioFormat:
        """The codec, sample rate and channels the device expects."""
        ...

    async def send(self, packet: bytes, samples: int) -> None:
        """Send one encoded packet holding ``samples`` samples per channel.

        The caller paces packets in real time; a channel never buffers
        without bound (it may wait for its transport).
        """
        ...

    async def aclose(self) -> None:
        """End the session with the device; safe to call twice."""
        ...
