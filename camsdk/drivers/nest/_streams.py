"""Live streams as leases: ``GenerateRtspStream`` or ``GenerateWebRtcStream``, extended or replaced.

Google hands out a live stream for five minutes. `StreamLeases.open`
generates one with the protocol the device supports and wraps it in a
`camsdk.cloud.LeasedSource`: ``renew_before`` seconds before it expires the
lease is extended (``ExtendRtspStream`` with the extension token,
``ExtendWebRtcStream`` with the media session id); when Google refuses (a
battery device on battery cannot extend, or answers with the same expiry)
the source ends early and the stream session generates a new stream: the
consumers see a `Discontinuity`, never a gap where the old stream lapsed.
A device that refused once is not asked again in this process (it would
only cost quota). Closing the source stops the stream on Google's side.

- RTSP: the URL is ``rtsps://...dropcam.com:443/sdm_live_stream/<token>?auth=<token>``
  and is read by camsdk's RTSP client (both tokens are registered as
  secrets, so no log shows them). An extension gives new tokens for the
  *next* connection; the running one goes on.
- WebRTC: a complete offer in the order Nest demands (audio ``recvonly``
  with Opus, video, a data channel), the answer through the SDP fixes Nest
  needs, media through camsdk's pass-through tap (`camsdk.driver.webrtc`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from camsdk.cloud import LeasedSource, LeaseTerms
from camsdk.driver import (
    CameraProtocolError,
    CamError,
    PacketSource,
    StreamOpenError,
    StreamSource,
    get_logger,
    open_source,
    register_secret,
)

from ._model import NestDevice

if TYPE_CHECKING:  # pragma: no cover
    from camsdk.driver import CameraDriver

    from ._account import NestAccount

__all__ = ["LEASE_SECONDS", "RtspLease", "StreamLeases", "WebRtcLease", "expiry_of",
           "lease_seconds"]

log = get_logger("camsdk.drivers.nest.streams")

#: How long Google grants a live stream (used when an answer's expiry is unreadable).
LEASE_SECONDS = 300.0
_LIVE = "CameraLiveStream."


def expiry_of(expires_at: Any) -> datetime | None:
    """``expiresAt`` (RFC 3339) as an aware datetime, or ``None`` if unreadable."""
    if not isinstance(expires_at, str):
        return None
    try:
        moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def lease_seconds(expires_at: Any, *, now: datetime | None = None) -> float:
    """Seconds from now until ``expiresAt`` (RFC 3339), within (0, 5 min]; 5 min if unreadable."""
    moment = expiry_of(expires_at)
    if moment is None:
        return LEASE_SECONDS
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    # A clock far off from Google's must not make a lease look dead or eternal.
    return seconds if 0 < seconds <= LEASE_SECONDS else LEASE_SECONDS


@dataclass(frozen=True, slots=True)
class RtspLease:
    """An RTSP live stream's handle: the URL, its tokens and Google's expiry."""

    url: str
    stream_token: str
    extension_token: str
    expires: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebRtcLease:
    """A WebRTC live stream's handle: the media session and Google's expiry."""

    session: str
    expires: datetime | None = None


def _moved(before: datetime | None, after: datetime | None) -> bool:
    """Whether an extension moved the expiry (Google ignores it on battery power)."""
    return before is None or after is None or (after - before).total_seconds() >= 1.0


class StreamLeases:
    """Generates, extends and stops one device's live streams (see the module docstring).

    ``clock`` and ``sleep`` drive the lease timing (a fake clock in tests and
    benchmarks); ``wall`` is the wall-clock used to read Google's expiry.
    """

    def __init__(
        self,
        driver: CameraDriver[Any],
        account: NestAccount,
        device: NestDevice,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._driver = driver
        self._account = account
        self._device = device
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        #: Streams generated, extensions granted and refused, streams stopped.
        self.generated = 0
        self.extended = 0
        self.refused = 0
        self.stopped = 0

    @property
    def _renew(self) -> float:
        return self._account.options.renew_before

    def _lasts(self, results: dict[str, Any]) -> float:
        return lease_seconds(results.get("expiresAt"), now=self._wall())

    async def _command(self, command: str, params: dict[str, Any], why: str, *,
                       max_wait: float | None = None) -> dict[str, Any]:
        return await self._account.command(self._device.id, _LIVE + command, params, why=why,
                                           max_wait=max_wait)

    def _lease(self, inner: PacketSource, terms: LeaseTerms,
               extend: Callable[[LeaseTerms], Awaitable[LeaseTerms | None]],
               stop: Callable[[LeaseTerms], Awaitable[None]]) -> LeasedSource:
        return LeasedSource(inner, terms, extend=extend, stop=stop, renew_before=self._renew,
                            owner=self._device.id, clock=self._clock, sleep=self._sleep)

    def _refusal(self, why: str) -> None:
        self.refused += 1
        self._account.unextendable.add(self._device.id)
        log.info("%s: Google would not extend the live stream (%s); it is replaced before "
                 "it expires", self._device.label, why)

    # -- RTSP --------------------------------------------------------------------------------

    async def rtsp(self, open_inner: Callable[[StreamSource], Awaitable[PacketSource]]
                   | None = None) -> LeasedSource:
        """Generate an RTSP stream and read it (``open_inner`` replaces the RTSP client)."""
        results = await self._command("GenerateRtspStream", {}, "generate an RTSP stream")
        self.generated += 1
        lease = self._rtsp_lease(results, None)
        terms = LeaseTerms(self._lasts(results), lease)
        try:
            self._account.check_host(lease.url, "the RTSP stream")
            source = StreamSource(url=lease.url, transport="tcp")
            inner = await (open_inner or self._open_source)(source)
        except BaseException:
            with contextlib.suppress(CamError, TimeoutError):
                await self._stop_rtsp(terms)
            raise
        return self._lease(inner, terms, self._extend_rtsp, self._stop_rtsp)

    async def _open_source(self, source: StreamSource) -> PacketSource:
        return await open_source(self._driver, source)

    def _rtsp_lease(self, results: dict[str, Any], previous: RtspLease | None) -> RtspLease:
        urls = results.get("streamUrls")
        url = urls.get("rtspUrl") if isinstance(urls, dict) else None
        stream_token = results.get("streamToken")
        extension = results.get("streamExtensionToken")
        if not isinstance(stream_token, str) or not isinstance(extension, str):
            raise CameraProtocolError("the RTSP stream answer has no tokens", scheme="nest")
        register_secret(stream_token)
        register_secret(extension)
        if previous is not None:
            # The extension names new tokens; the URL keeps its host and path layout.
            url = previous.url.replace(previous.extension_token, extension).replace(
                previous.stream_token, stream_token)
        if not isinstance(url, str) or not url.lower().startswith(("rtsp://", "rtsps://")):
            raise CameraProtocolError("the RTSP stream answer has no rtsp(s) URL", scheme="nest")
        return RtspLease(url, stream_token, extension, expiry_of(results.get("expiresAt")))

    async def _extend_rtsp(self, terms: LeaseTerms) -> LeaseTerms | None:
        lease: RtspLease = terms.handle
        if self._device.id in self._account.unextendable:
            return None
        try:
            results = await self._command(
                "ExtendRtspStream", {"streamExtensionToken": lease.extension_token},
                "extend the RTSP stream", max_wait=self._renew / 2)
            renewed = self._rtsp_lease(results, lease)
        except CamError as exc:
            self._refusal(f"{type(exc).__name__}: {exc}")
            return None
        if not _moved(lease.expires, renewed.expires):
            self._refusal("the expiry did not move")
            return None
        self.extended += 1
        self._account.audit.periodic("extend live streams", "POST",
                                     self._account.sdm("devices:executeCommand"))
        return LeaseTerms(self._lasts(results), renewed)

    async def _stop_rtsp(self, terms: LeaseTerms) -> None:
        lease: RtspLease = terms.handle
        await self._command("StopRtspStream", {"streamExtensionToken": lease.extension_token},
                            "stop the RTSP stream", max_wait=1.0)
        self.stopped += 1

    # -- WebRTC ------------------------------------------------------------------------------

    async def webrtc(self) -> LeasedSource:
        """Generate a WebRTC stream, connect, and return its media (first keyframe seen)."""
        from camsdk.driver import webrtc

        options = self._account.options
        session = webrtc.WebRtcSession(
            answer_fixes=(webrtc.candidate_empty_foundation,
                          webrtc.answer_direction_within_offer,
                          webrtc.h264_profile_from_offer),
            audio_codecs=("opus",), host_addresses=options.webrtc_hosts, scheme="nest",
            url=self._account.shown,
        )
        upstream = webrtc.WebRtcUpstream(session)
        terms: LeaseTerms | None = None
        try:
            # Nest wants audio (recvonly, Opus), video and a data channel, in that order.
            offer = await session.create_offer(trickle=False, data_channel=True,
                                               audio="recvonly")
            results = await self._command("GenerateWebRtcStream", {"offerSdp": offer},
                                          "generate a WebRTC stream")
            self.generated += 1
            answer, media_session = results.get("answerSdp"), results.get("mediaSessionId")
            if not isinstance(answer, str) or not isinstance(media_session, str):
                raise StreamOpenError("the WebRTC stream answer has no SDP or session id",
                                      scheme="nest", url=self._account.shown)
            terms = LeaseTerms(self._lasts(results),
                               WebRtcLease(media_session, expiry_of(results.get("expiresAt"))))
            await session.accept_answer(answer)
            await upstream.start(timeout=self._driver.config.open_timeout)
        except BaseException:
            await upstream.aclose()
            if terms is not None:
                with contextlib.suppress(CamError, TimeoutError):
                    await self._stop_webrtc(terms)
            raise
        return self._lease(upstream, terms, self._extend_webrtc, self._stop_webrtc)

    async def _extend_webrtc(self, terms: LeaseTerms) -> LeaseTerms | None:
        lease: WebRtcLease = terms.handle
        if self._device.id in self._account.unextendable:
            return None
        try:
            results = await self._command(
                "ExtendWebRtcStream", {"mediaSessionId": lease.session},
                "extend the WebRTC stream", max_wait=self._renew / 2)
        except CamError as exc:
            self._refusal(f"{type(exc).__name__}: {exc}")
            return None
        expires = expiry_of(results.get("expiresAt"))
        if not _moved(lease.expires, expires):
            # Google ignores an extension on battery power: the expiry does not move.
            self._refusal("the expiry did not move")
            return None
        self.extended += 1
        self._account.audit.periodic("extend live streams", "POST",
                                     self._account.sdm("devices:executeCommand"))
        handle = results.get("mediaSessionId")
        session = handle if isinstance(handle, str) else lease.session
        return LeaseTerms(self._lasts(results), WebRtcLease(session, expires))

    async def _stop_webrtc(self, terms: LeaseTerms) -> None:
        lease: WebRtcLease = terms.handle
        await self._command("StopWebRtcStream", {"mediaSessionId": lease.session},
                            "stop the WebRTC stream", max_wait=1.0)
        self.stopped += 1
