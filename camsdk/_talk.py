"""Two-way audio: the driver side of ``cam.talk()``.

A driver that can play audio on the device's speaker returns a `TalkChannel`
from ``CameraDriver.open_talk``: an open path (an RTSP backchannel track, a
vendor HTTP audio upload, a WebRTC send track) that takes *encoded* audio in
the channel's `AudioFormat`. The facade does the generic work once for every
driver: the access check and audit record, encoding PCM to the channel's
codec with PyAV, and pacing the packets in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ._lifecycle import AsyncResource

if TYPE_CHECKING:  # pragma: no cover
    from ._access import Decision
    from ._camera import Camera

__all__ = ["AudioEncoder", "AudioFormat", "Speaker", "TalkChannel"]


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


# -- the facade side ------------------------------------------------------------------------

_LEAD = 0.25  # seconds of audio a speaker may send ahead of real time


class AudioEncoder:
    """PCM (signed 16-bit, interleaved) -> packets in ``fmt.codec``, with PyAV. Blocking."""

    def __init__(self, fmt: AudioFormat) -> None:
        import av

        self.format = fmt
        layout = "mono" if fmt.channels == 1 else "stereo"
        ctx: Any = av.CodecContext.create(fmt.codec, "w")
        ctx.sample_rate = fmt.sample_rate
        ctx.layout = layout
        ctx.format = _sample_format(ctx)
        ctx.open()
        self._ctx = ctx
        self._layout = layout
        self._frame_size = ctx.frame_size or max(1, fmt.sample_rate // 50)  # 20 ms for PCM
        self._fifo = av.AudioFifo()
        self._resamplers: dict[tuple[int, int], Any] = {}
        self._pts = 0

    def encode(self, pcm: bytes, sample_rate: int, channels: int) -> list[tuple[bytes, int]]:
        """Encode ``pcm``; returns ``(packet, samples)`` pairs (a remainder waits for more)."""
        import av
        import numpy as np

        if not pcm:
            return []
        samples = np.frombuffer(pcm, dtype="<i2")
        frame = av.AudioFrame.from_ndarray(
            samples.reshape(1, -1), format="s16", layout="mono" if channels == 1 else "stereo"
        )
        frame.sample_rate = sample_rate
        key = (sample_rate, channels)
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = self._resamplers[key] = av.AudioResampler(
                format=self._ctx.format.name, layout=self._layout, rate=self.format.sample_rate
            )
        for converted in resampler.resample(frame):
            converted.pts = None
            self._fifo.write(converted)
        out: list[tuple[bytes, int]] = []
        while self._fifo.samples >= self._frame_size:
            chunk = self._fifo.read(self._frame_size)
            if chunk is None:
                break
            chunk.pts = self._pts
            self._pts += chunk.samples
            for packet in self._ctx.encode(chunk):
                out.append((bytes(packet), chunk.samples))
        return out


def _sample_format(ctx: Any) -> str:
    formats = [f.name for f in (ctx.codec.audio_formats or ())]
    for preferred in ("s16", "fltp", "s16p", "flt"):
        if preferred in formats or not formats:
            return preferred
    return str(formats[0])


class Speaker(AsyncResource):
    """An open two-way audio session (``async with cam.talk() as speaker``).

    `send` takes signed 16-bit PCM (bytes, interleaved, or a numpy array) at
    any sample rate, encodes it to the device's codec and sends it paced in
    real time; `send_encoded` takes packets already in ``format.codec``.
    Entering the context passes the access policy (action ``talk``) and is
    audited; leaving closes the device's audio path.
    """

    def __init__(self, camera: Camera, *, purpose: str) -> None:
        self._camera = camera
        self._purpose = purpose
        self._channel: TalkChannel | None = None
        self._encoder: AudioEncoder | None = None
        self._decision: Decision | None = None
        self._closed = False
        self._started: float | None = None
        self._opened_at = 0.0
        self._sent_samples = 0
        self.packets = 0
        self.bytes = 0

    def __repr__(self) -> str:
        return f"<Speaker {self._camera.url} packets={self.packets}>"

    @property
    def format(self) -> AudioFormat:
        """The device's audio format (valid once entered)."""
        if self._channel is None:
            from ._errors import CameraClosedError

            raise CameraClosedError("speaker is not open", url=self._camera.url)
        return self._channel.format

    async def open(self) -> Speaker:
        """Authorize and open the device's audio path (``open_timeout``)."""
        from ._access import Action
        from ._errors import CameraClosedError

        if self._closed:
            raise CameraClosedError("a closed speaker cannot be reopened", url=self._camera.url)
        if self._channel is not None:
            return self
        camera = self._camera
        self._decision = camera._authorize(Action.TALK, self._purpose)
        self._channel = await camera._call(
            camera._driver.open_talk(), camera.config.open_timeout,
            camera._request(Action.TALK, self._purpose),
        )
        self._opened_at = time.monotonic()
        return self

    async def _on_enter(self) -> None:
        await self.open()

    def _require_channel(self) -> TalkChannel:
        from ._errors import AccessDeniedError, CameraClosedError

        if self._channel is None or self._closed:
            raise CameraClosedError("speaker is not open", url=self._camera.url)
        if self._decision is not None and not self._decision.still_valid():
            raise AccessDeniedError(
                "access to talk was revoked or has expired", url=self._camera.url,
                reason="grant no longer valid",
            )
        return self._channel

    async def send(
        self, pcm: bytes | Any, *, sample_rate: int | None = None, channels: int = 1
    ) -> None:
        """Encode signed 16-bit PCM and send it, paced in real time."""
        from ._errors import ConfigurationError

        channel = self._require_channel()
        rate = sample_rate or channel.format.sample_rate
        if channels not in (1, 2) or rate <= 0:
            raise ConfigurationError("PCM must be mono or stereo at a positive rate",
                                     url=self._camera.url)
        data = pcm if isinstance(pcm, bytes | bytearray | memoryview) else _as_s16(pcm)
        if self._encoder is None:
            self._encoder = AudioEncoder(channel.format)
        packets = await asyncio.to_thread(self._encoder.encode, bytes(data), rate, channels)
        for packet, samples in packets:
            await self.send_encoded(packet, samples)

    async def send_encoded(self, packet: bytes, samples: int) -> None:
        """Send one packet already in ``format.codec`` holding ``samples`` samples."""
        channel = self._require_channel()
        now = time.monotonic()
        if self._started is None:
            self._started = now
        ahead = self._started + self._sent_samples / channel.format.sample_rate - now
        if ahead > _LEAD:
            # Real-time pacing: the device plays at its rate and buffers little.
            await asyncio.sleep(ahead - _LEAD)
        await self._camera._call(channel.send(packet, samples),
                                 self._camera.config.request_timeout)
        self._sent_samples += samples
        self.packets += 1
        self.bytes += len(packet)

    async def aclose(self) -> None:
        """Close the device's audio path and record the session's end. Idempotent."""
        from ._access import Action

        if self._closed:
            return
        self._closed = True
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                await channel.aclose()
        if self._decision is not None:
            self._camera._end(Action.TALK, self._decision, items=self.packets,
                              nbytes=self.bytes, duration=time.monotonic() - self._opened_at,
                              purpose=self._purpose)


def _as_s16(array: Any) -> bytes:
    import numpy as np

    values = np.asarray(array)
    if values.dtype.kind == "f":
        values = np.clip(values, -1.0, 1.0) * 32767
    return bytes(values.astype("<i2").tobytes())
