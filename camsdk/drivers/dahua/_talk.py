"""Two-way audio: ``POST /cgi-bin/audio.cgi?action=postAudio&httptype=singlepart&channel=N``.

The device plays what arrives in the request body, a continuous flow of
G.711 (A-law or µ-law, 8 kHz mono) labelled ``Content-Type: Audio/G.711A``
or ``Audio/G.711Mu``. The body is streamed (chunked) from a bounded queue
while the talk session lasts; `DahuaTalk.aclose` ends it and reads the
device's answer. The facade encodes the PCM and paces the packets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from camsdk.driver import (
    AudioFormat,
    AuthenticationError,
    CameraClosedError,
    CamError,
    DeviceResponse,
    get_logger,
)

from ._api import DahuaApi

__all__ = ["CONTENT_TYPES", "DahuaTalk"]

log = get_logger("camsdk.dahua.talk")

#: The device's name of each codec camsdk can send.
CONTENT_TYPES = {"pcm_alaw": "Audio/G.711A", "pcm_mulaw": "Audio/G.711Mu"}
#: Packets queued for the device at most (a second of 20 ms packets).
QUEUE_PACKETS = 50
_CLOSE_WAIT = 5.0


class DahuaTalk:
    """An open audio upload to one channel's speaker (a `TalkChannel`)."""

    def __init__(self, api: DahuaApi, channel: int, codec: str, *, timeout: float) -> None:
        self._api = api
        self._channel = channel
        self._format = AudioFormat(codec=codec, sample_rate=8000, channels=1)
        self._timeout = timeout
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_PACKETS)
        self._task: asyncio.Task[DeviceResponse] | None = None
        self._closed = False
        #: Bytes handed to the upload so far.
        self.sent = 0

    def __repr__(self) -> str:
        return f"DahuaTalk({self._api.shown!r}, channel={self._channel}, {self._format.codec})"

    @property
    def format(self) -> AudioFormat:
        """G.711 at 8 kHz, mono."""
        return self._format

    async def _body(self) -> AsyncIterator[bytes]:
        while True:
            packet = await self._queue.get()
            if packet is None:
                return
            yield packet

    def open(self) -> None:
        """Start the upload (the request runs until `aclose`)."""
        self._api.check_refused()
        self._task = asyncio.get_running_loop().create_task(
            self._api.http.request(
                "POST", "/cgi-bin/audio.cgi",
                params={"action": "postAudio", "httptype": "singlepart",
                        "channel": str(self._channel)},
                headers={"Content-Type": CONTENT_TYPES[self._format.codec]},
                content=self._body(), check=False, timeout=self._timeout, action="talk",
            ),
            name="dahua-talk",
        )

    def _check_task(self) -> None:
        task = self._task
        if self._closed or task is None:
            raise CameraClosedError("talk session is closed", scheme="dahua",
                                    url=self._api.shown)
        if task.done():
            error = task.exception()
            if error is not None:
                raise error
            raise CameraClosedError("the device ended the talk session", scheme="dahua",
                                    url=self._api.shown)

    async def send(self, packet: bytes, samples: int) -> None:
        """Queue one G.711 packet (waits while a second of audio is already queued)."""
        self._check_task()
        await self._queue.put(bytes(packet))
        self.sent += len(packet)

    async def aclose(self) -> None:
        """End the upload and read the device's answer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is None:
            return
        while True:  # audio not yet sent is dropped: the speaker stops now
            try:
                self._queue.put_nowait(None)
                break
            except asyncio.QueueFull:
                self._queue.get_nowait()
        try:
            async with asyncio.timeout(_CLOSE_WAIT):
                response = await asyncio.shield(task)
        except (TimeoutError, CamError) as exc:
            log.debug("%s: talk upload ended badly (%s)", self._api.shown, exc)
            if isinstance(exc, AuthenticationError):
                self._api.refused = exc
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, CamError):
                await task
            return
        if response.status in (401, 403):
            self._api.refuse("talk", f"the device refused the credentials ({response.status})")
