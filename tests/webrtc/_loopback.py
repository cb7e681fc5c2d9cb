"""A loopback ``webrtc-test://`` camera driver: camsdk's WebRTC session against the answerer.

What the Nest and Ring drivers will do with a vendor API, done with a local
`WebRtcAnswerer`: make the offer, hand it to the "vendor", accept the answer,
return a `WebRtcUpstream` (and a `WebRtcTalkChannel` for ``cam.talk()``).
Each answerer made is appended to `ANSWERERS` so a test can inspect it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

from camsdk._webrtc import WebRtcSession, WebRtcTalkChannel, WebRtcUpstream
from camsdk.driver import (
    CameraDriver,
    CameraInfo,
    Capability,
    DriverOptions,
    MediaPacket,
    PacketSource,
    StreamInfo,
    StreamProfile,
)
from camsdk.drivers.virtual._scene import LoopParams
from camsdk.testing import WebRtcAnswerer

ANSWERERS: list[WebRtcAnswerer] = []
SMALL = LoopParams(width=320, height=240, fps=15, gop=15, seconds=2)


class LoopbackOptions(DriverOptions):
    """``audio``: the answerer's audio codec, or ``none``."""

    audio: Literal["none", "opus", "pcmu"] = "none"


class _Owned:
    """An upstream that also closes the answerer it reads from."""

    def __init__(self, upstream: WebRtcUpstream, answerer: WebRtcAnswerer) -> None:
        self._upstream = upstream
        self._answerer = answerer

    @property
    def info(self) -> StreamInfo:
        return self._upstream.info

    @property
    def live(self) -> bool:
        return True

    @property
    def finite(self) -> bool:
        return False

    def __aiter__(self) -> AsyncIterator[MediaPacket]:
        return self._upstream

    async def aclose(self) -> None:
        try:
            await self._upstream.aclose()
        finally:
            await self._answerer.aclose()


class LoopbackWebRtcDriver(CameraDriver[LoopbackOptions]):
    """A camera whose stream and speaker are a loopback WebRTC peer."""

    schemes: ClassVar[tuple[str, ...]] = ("webrtc-test",)
    display_name: ClassVar[str] = "Loopback WebRTC camera"
    declared_capabilities: ClassVar[Capability] = (
        Capability.STREAM | Capability.SNAPSHOT | Capability.AUDIO | Capability.TWO_WAY_AUDIO
    )

    async def connect(self) -> CameraInfo:
        return CameraInfo(id="webrtc-test:1", vendor="camsdk", model="answerer",
                          profiles=(StreamProfile(name="main"),))

    def _session(self, codecs: tuple[str, ...] = ("opus", "PCMU")) -> WebRtcSession:
        return WebRtcSession(host_addresses=("127.0.0.1",), audio_codecs=codecs,
                             scheme="webrtc-test", url=self.url.redacted())

    async def open_stream(self, profile: str) -> PacketSource:
        audio = None if self.options.audio == "none" else self.options.audio
        answerer = WebRtcAnswerer(params=SMALL, audio=audio)
        ANSWERERS.append(answerer)
        session = self._session()
        upstream = WebRtcUpstream(session)
        try:
            offer = await session.create_offer(data_channel=True,
                                               audio="recvonly" if audio else None)
            await session.accept_answer(await answerer.answer(offer))
            await upstream.start(timeout=self.config.open_timeout)
        except BaseException:
            await upstream.aclose()
            await answerer.aclose()
            raise
        return _Owned(upstream, answerer)

    async def open_talk(self) -> Any:
        answerer = WebRtcAnswerer(params=SMALL)
        ANSWERERS.append(answerer)
        session = self._session(("PCMU",))
        try:
            offer = await session.create_offer(audio="sendonly", video=None)
            await session.accept_answer(await answerer.answer(offer))
            await session.wait_connected(self.config.open_timeout)
        except BaseException:
            await session.aclose()
            await answerer.aclose()
            raise
        return _TalkOwned(WebRtcTalkChannel(session, close_session=True), answerer)


class _TalkOwned:
    """A talk channel that also closes its answerer (tests read the answerer's record later)."""

    def __init__(self, channel: WebRtcTalkChannel, answerer: WebRtcAnswerer) -> None:
        self._channel = channel
        self._answerer = answerer

    @property
    def format(self) -> Any:
        return self._channel.format

    async def send(self, packet: bytes, samples: int) -> None:
        await self._channel.send(packet, samples)

    async def aclose(self) -> None:
        try:
            await self._channel.aclose()
        finally:
            await self._answerer.aclose()
