"""`WebRtcTalkChannel`: encoded audio on the session's send track, as the device receives it."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from camsdk import CameraClosedError, CameraUnreachableError, ConfigurationError
from camsdk._talk import AudioEncoder
from camsdk._webrtc import WebRtcSession, WebRtcTalkChannel
from camsdk.testing import WebRtcAnswerer, wait_until

from ._loopback import SMALL

pytestmark = pytest.mark.anyio

TONE = (np.sin(2 * np.pi * 440 * np.arange(48_000) / 48_000) * 8000).astype("<i2").tobytes()


@pytest.fixture
async def talking(camsdk_no_task_leaks: None) -> object:
    made: list[object] = []

    async def make(codecs: tuple[str, ...]) -> tuple[WebRtcSession, WebRtcAnswerer]:
        session = WebRtcSession(host_addresses=("127.0.0.1",), audio_codecs=codecs)
        peer = WebRtcAnswerer(params=SMALL)
        made.extend([session, peer])
        offer = await session.create_offer(audio="sendonly", video=None)
        await session.accept_answer(await peer.answer(offer))
        await session.wait_connected(10)
        return session, peer

    yield make
    for thing in reversed(made):
        await thing.aclose()  # type: ignore[attr-defined]


async def test_opus_packets_reach_the_device_unchanged_in_a_48k_clock(talking: object) -> None:
    session, peer = await talking(("opus",))  # type: ignore[operator]
    channel = WebRtcTalkChannel(session)
    assert (channel.format.codec, channel.format.sample_rate) == ("opus", 48_000)
    packets = AudioEncoder(channel.format).encode(TONE[: 48_000], 48_000, 1)  # 0.5 s
    for packet, samples in packets:
        await channel.send(packet, samples)
    await peer.wait_audio(len(packets))
    assert peer.received_audio == [packet for packet, _ in packets]
    steps = {b - a for a, b in pairwise(peer.received_audio_timestamps)}
    assert steps == {960}  # 20 ms at 48 kHz, sent ahead of real time: contiguous


async def test_a_talk_channel_needs_a_session_that_sends_audio(
    camsdk_no_task_leaks: None,
) -> None:
    session = WebRtcSession(host_addresses=("127.0.0.1",))
    try:
        await session.create_offer(audio="recvonly", video=None)
        with pytest.raises(ConfigurationError, match="sendrecv"):
            WebRtcTalkChannel(session)
    finally:
        await session.aclose()


async def test_sending_after_the_peer_closed_is_a_typed_error(talking: object) -> None:
    session, peer = await talking(("PCMU",))  # type: ignore[operator]
    channel = WebRtcTalkChannel(session)
    await channel.send(b"\xff" * 160, 160)
    await peer.wait_audio(1)  # the path is up on both sides
    await peer.aclose()  # DTLS close: aiortc closes our side of the connection
    await wait_until(lambda: session.connection_state == "closed", timeout=5)
    with pytest.raises(CameraUnreachableError, match="peer closed"):
        await channel.send(b"\xff" * 160, 160)
    await channel.aclose()
    with pytest.raises(CameraClosedError):
        await channel.send(b"\xff" * 160, 160)
