"""`VirtualStream`: replays an encoded loop as a live camera stream.

The loop's packets (video, and audio interleaved by time) are yielded in real
time: packet ``i`` of repetition ``k`` is due at ``start + k * duration +
t_i`` on the asyncio clock, computed from ``k`` rather than accumulated, so
the stream never drifts. Timestamps of repetition ``k`` are shifted by ``k *
duration`` in each track's time base, so they keep increasing across the
loop boundary. A consumer that falls behind gets the packets that are already
due at once, without sleeping, until it has caught up.

Faults (from the URL and injected into the device) are applied as each
packet falls due; see `VirtualStream.__anext__`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from fractions import Fraction

from camsdk.driver import (
    AuthenticationError,
    CameraUnreachableError,
    MediaPacket,
    PrivacyModeError,
    StreamInfo,
)

from ._device import Injection, VirtualDevice
from ._options import Fault
from ._scene import EncodedLoop

__all__ = ["VirtualStream"]

#: Packets yielded back to back (catching up) before letting other tasks run once.
_MAX_BURST = 64
#: ``corrupt_dts``: every this many video packets ...
_CORRUPT_EVERY = 10
#: ... jumps back this many frames.
_CORRUPT_FRAMES = 5


class _Rule:
    """A fault as one stream applies it: counted from ``base`` packets."""

    __slots__ = ("base", "fault", "injection")

    def __init__(self, fault: Fault, base: int, injection: Injection | None) -> None:
        self.fault = fault
        self.base = base
        self.injection = injection


class VirtualStream:
    """A `camsdk.PacketSource` over one `EncodedLoop` (see the module docstring)."""

    #: The session reconnects a live source that ends instead of finishing.
    live = True
    #: A virtual camera never ends for good.
    finite = False

    def __init__(
        self,
        *,
        device: VirtualDevice,
        loop: EncodedLoop,
        faults: tuple[Fault, ...],
        url: str,
        realtime: bool = True,
        motion_onset: int | None = None,
    ) -> None:
        self._device: VirtualDevice | None = device
        # Without pacing this is a non-live source: the pipeline holds it back
        # instead of dropping, so consumers see every packet.
        self._realtime = realtime
        self.live = realtime
        self._info = loop.info
        self._url = url
        self._duration = loop.duration
        self._time_bases: dict[str, Fraction] = {"video": loop.info.time_base}
        if loop.info.audio_time_base is not None:
            self._time_bases["audio"] = loop.info.audio_time_base
        # One merged timetable per repetition; on a tie video goes first.
        entries = [(Fraction(p.pts or 0) * p.time_base, 0, p) for p in loop.video]
        entries += [(Fraction(p.pts or 0) * p.time_base, 1, p) for p in loop.audio]
        entries.sort(key=lambda e: (e[0], e[1]))
        self._schedule = tuple((float(t), p) for t, _, p in entries)
        # Where in the timetable the scripted motion's first frame is (video packet
        # number ``motion_onset``), so its send time can be noted on the device.
        self._onset_index: int | None = None
        if motion_onset is not None:
            video = [i for i, (_, p) in enumerate(self._schedule) if p.kind == "video"]
            if 0 <= motion_onset < len(video):
                self._onset_index = video[motion_onset]
        fps = loop.info.fps or 1.0
        self._corrupt_step = round(_CORRUPT_FRAMES / fps / loop.info.time_base)
        # Faults from the URL apply to every connection, counted from its first packet.
        self._rules = [_Rule(f, 0, None) for f in faults]
        self._seen: dict[int, _Rule] = {}
        self._generation = -1
        self._closed = False
        self._closed_event = asyncio.Event()
        self._start: float | None = None
        self._index = 0
        self._repeat = 0
        self._loop_base = 0.0
        self._shifts = {kind: 0 for kind in self._time_bases}
        self._sent = 0
        self._video_sent = 0
        self._burst = 0
        device.stream_opened(self)

    @property
    def info(self) -> StreamInfo:
        """Codec parameters of the stream (size of the opened profile)."""
        return self._info

    @property
    def packets_sent(self) -> int:
        """Packets this stream has yielded."""
        return self._sent

    @property
    def closed(self) -> bool:
        """Whether the stream was closed or failed."""
        return self._closed

    def __aiter__(self) -> VirtualStream:
        return self

    async def __anext__(self) -> MediaPacket:
        """Wait until the next packet is due, apply faults, yield it.

        Faults: ``auth`` (injected while streaming) raises
        `AuthenticationError`; ``timeout`` and ``stall_after:N`` stop yielding
        without ending (until cancelled or closed); ``drop_after:N`` raises
        `CameraUnreachableError` and ends the stream; ``corrupt_dts`` moves
        every 10th video packet 5 frames back in time.
        """
        if self._closed:
            raise StopAsyncIteration
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._start is None:
            self._start = now
        offset, packet = self._schedule[self._index]
        wait = self._start + self._loop_base + offset - now if self._realtime else 0.0
        if wait > 0:
            self._burst = 0
            await asyncio.sleep(wait)
        elif self._burst >= _MAX_BURST:
            # Catching up: do not starve the other tasks while the backlog drains.
            self._burst = 0
            await asyncio.sleep(0)
        else:
            self._burst += 1
        if self._closed:
            raise StopAsyncIteration
        if self._device is not None and self._device.privacy_mode:
            # A covered lens captures nothing: the stream ends with the reason.
            self._finish()
            raise PrivacyModeError(
                "the virtual camera is in privacy mode", scheme="virtual", url=self._url
            )
        corrupt = await self._apply_faults()
        return self._emit(packet, corrupt)

    def _emit(self, packet: MediaPacket, corrupt: bool) -> MediaPacket:
        shift = self._shifts[packet.kind]
        pts = None if packet.pts is None else packet.pts + shift
        dts = None if packet.dts is None else packet.dts + shift
        if packet.kind == "video":
            self._video_sent += 1
            if corrupt and self._video_sent % _CORRUPT_EVERY == 0:
                pts = None if pts is None else pts - self._corrupt_step
                dts = None if dts is None else dts - self._corrupt_step
        onset = self._index == self._onset_index
        self._advance()
        self._sent += 1
        now = time.monotonic()
        if self._device is not None:
            self._device.packets_sent += 1
            if onset:
                self._device.motion_onsets.append(now)
        return dataclasses.replace(packet, pts=pts, dts=dts, received_at=now)

    def _advance(self) -> None:
        self._index += 1
        if self._index == len(self._schedule):
            self._index = 0
            self._repeat += 1
            span = self._repeat * self._duration
            self._loop_base = float(span)
            self._shifts = {kind: math.floor(span / tb) for kind, tb in self._time_bases.items()}

    async def _apply_faults(self) -> bool:
        """Act on the faults in force before the next packet; True to corrupt it."""
        device = self._device
        if device is not None and self._generation != device.fault_generation:
            self._refresh_rules(device)
        corrupt = False
        for rule in self._rules:
            fault = rule.fault
            if fault.kind == "corrupt_dts":
                corrupt = True
            elif fault.kind == "auth":
                self._finish()
                raise AuthenticationError(
                    "virtual camera revoked the session", scheme="virtual", url=self._url
                )
            elif fault.kind == "timeout":
                await self._hang()
            elif self._sent - rule.base >= fault.after:
                if fault.kind == "stall_after":
                    await self._hang()
                else:  # drop_after
                    if rule.injection is not None and device is not None:
                        device.consume(rule.injection)
                    self._finish()
                    raise CameraUnreachableError(
                        "connection dropped", scheme="virtual", url=self._url
                    )
        return corrupt

    def _refresh_rules(self, device: VirtualDevice) -> None:
        # Injected faults count from the packet at which this stream first saw them.
        live = {id(i): i for i in device.injections()}
        for key in [k for k in self._seen if k not in live]:
            self._rules.remove(self._seen.pop(key))
        for key, injection in live.items():
            if key not in self._seen:
                rule = _Rule(injection.fault, self._sent, injection)
                self._seen[key] = rule
                self._rules.append(rule)
        self._generation = device.fault_generation

    async def _hang(self) -> None:
        """Stop yielding without ending: only closing (or cancelling) gets out."""
        await self._closed_event.wait()
        raise StopAsyncIteration

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            self._closed_event.set()
            if self._device is not None:
                self._device.stream_closed(self)
                # A closed stream no longer uses the device: let the registry drop it.
                self._device = None

    async def aclose(self) -> None:
        """Close the stream; an iterator waiting in it ends. Safe to call twice."""
        self._finish()
