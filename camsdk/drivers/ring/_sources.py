"""The live view as the facade uses it: a leased packet source, and a talk channel.

The stream's source is a `camsdk.cloud.LeasedSource` (keyframe requests
reach the live view's peer as a PLI) whose lease is the live view's hard
maximum (``live_max``; Ring sessions cannot be extended); when it is reached
the source ends and the stream session opens a new live view, which
consumers see as a `Discontinuity`.
`RingTalkChannel` sends Opus on the same live view's peer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camsdk.cloud import LeasedSource, LeaseTerms
from camsdk.driver import (
    AudioFormat,
    CameraClosedError,
    CamError,
    StreamEndedError,
    WatchedSource,
    webrtc,
)

from ._devices import RingDevice
from ._live import LiveView, acquire_live, release_live

if TYPE_CHECKING:  # pragma: no cover
    from ._account import RingSession

__all__ = ["RingTalkChannel", "open_talk", "open_video"]


class _VideoSource(WatchedSource):
    """The live view's media as a packet source: Ring's close reason instead of a bare end.

    Closing it releases the live view (the last user closes the peer). That is
    done here, not in the lease's ``stop`` hook, which `LeasedSource` bounds to
    two seconds: closing a peer connection may take longer, and must finish.
    """

    def __init__(self, session: RingSession, view: LiveView,
                 upstream: webrtc.WebRtcUpstream) -> None:
        super().__init__(upstream, None, explain=self._why_ended)
        self._session = session
        self._view = view
        self._released = False

    async def _why_ended(self, error: CamError | None) -> CamError:
        ended = self._view.ended
        if error is not None and ended is not None and not isinstance(ended, CameraClosedError):
            return ended
        return error if error is not None else StreamEndedError("the live view ended")

    async def aclose(self) -> None:
        """Close the peer's stream, then release the live view. Idempotent."""
        if self._released:
            return
        self._released = True
        try:
            await super().aclose()
        finally:
            await release_live(self._session, self._view)


async def open_video(session: RingSession, device: RingDevice, timeout: float
                     ) -> LeasedSource:
    """The device's live video as a leased packet source (connected, first keyframe in)."""
    view = await acquire_live(session, device, timeout)
    upstream = webrtc.WebRtcUpstream(view.rtc, close_session=False)
    try:
        await upstream.start(timeout=timeout)
    except BaseException:
        await upstream.aclose()
        await release_live(session, view)
        if view.ended is not None and not isinstance(view.ended, CameraClosedError):
            raise view.ended from None
        raise
    remaining = max(1.0, session.options.live_max - view.age)
    # Ring's live views cannot be extended: the lease is the hard maximum.
    return LeasedSource(_VideoSource(session, view, upstream),
                        LeaseTerms(lasts=remaining, handle=view), extend=None,
                        renew_before=0.0, hard_max=remaining, owner=device.key)


class RingTalkChannel:
    """Two-way audio on the live view's Opus send track; releases the view on `aclose`."""

    def __init__(self, session: RingSession, view: LiveView) -> None:
        self._session = session
        self._view = view
        self._channel = webrtc.WebRtcTalkChannel(view.rtc, close_session=False)
        self._closed = False

    @property
    def format(self) -> AudioFormat:
        """Opus, 48 kHz, mono (what the peer negotiated)."""
        return self._channel.format

    async def send(self, packet: bytes, samples: int) -> None:
        """Send one encoded packet; the live view's end reason if Ring ended it."""
        ended = self._view.ended
        if ended is not None and not isinstance(ended, CameraClosedError):
            raise ended
        await self._channel.send(packet, samples)

    async def aclose(self) -> None:
        """End the talk session; the live view closes if nobody else uses it."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._channel.aclose()
        finally:
            await release_live(self._session, self._view)


async def open_talk(session: RingSession, device: RingDevice, timeout: float) -> RingTalkChannel:
    """A talk channel on the device's live view (started if none runs)."""
    view = await acquire_live(session, device, timeout)
    try:
        return RingTalkChannel(session, view)
    except BaseException:
        await release_live(session, view)
        raise
