"""`WebRtcSession`: the offers vendors want, trickle, the lazy import, closing and failures."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import pytest

from camsdk import (
    CameraClosedError,
    CameraProtocolError,
    CameraTimeoutError,
    ConfigurationError,
    DriverUnavailableError,
    StreamEndedError,
    StreamStalledError,
)
from camsdk._webrtc import IceServer, WebRtcSession, WebRtcUpstream
from camsdk._webrtc._sdp import Sdp
from camsdk.testing import WebRtcAnswerer, wait_until

from ._loopback import SMALL
from .conftest import LONG_GOP, Connect

pytestmark = pytest.mark.anyio


@pytest.fixture
async def session(camsdk_no_task_leaks: None) -> object:
    made = WebRtcSession(host_addresses=("127.0.0.1",))
    yield made
    await made.aclose()


def candidates(sdp: str) -> list[str]:
    return [line for line in sdp.splitlines() if line.startswith("a=candidate:")]


async def test_a_nest_style_offer_is_complete_audio_video_data_in_that_order(
    session: WebRtcSession,
) -> None:
    offer = Sdp.parse(await session.create_offer(data_channel=True, audio="recvonly"))
    assert [Sdp.kind(section) for section in offer.media] == ["audio", "video", "application"]
    assert [Sdp.direction(s) for s in offer.media[:2]] == ["recvonly", "recvonly"]
    for section in offer.media:
        found = [line for line in section if line.startswith("a=candidate:")]
        assert found and all(" 127.0.0.1 " in line for line in found)
        assert "a=end-of-candidates" in section


async def test_the_offered_video_is_h264_only(session: WebRtcSession) -> None:
    offer = await session.create_offer(audio=None)
    codecs = {line.split()[1].split("/")[0] for line in offer.splitlines()
              if line.startswith("a=rtpmap:")}
    assert codecs == {"H264", "rtx"}


async def test_audio_codecs_are_offered_in_the_order_given(camsdk_no_task_leaks: None) -> None:
    session = WebRtcSession(host_addresses=("127.0.0.1",), audio_codecs=("PCMU", "opus"))
    try:
        offer = await session.create_offer(audio="sendrecv", video=None)
    finally:
        await session.aclose()
    audio = next(line for line in offer.splitlines() if line.startswith("m=audio"))
    assert audio.split()[3:] == ["0", "96"]
    assert "a=sendrecv" in offer


async def test_no_stun_server_is_contacted_unless_one_is_given(
    session: WebRtcSession, recorded_connections: list[object]
) -> None:
    offer = await session.create_offer(audio=None)
    assert all(" typ host" in line for line in candidates(offer))
    assert recorded_connections == []


def test_ice_server_credentials_stay_out_of_its_repr() -> None:
    server = IceServer(urls="turn:turn.example:3478", username="u", credential="hunter2-turn")
    assert "hunter2" not in repr(server) and server.urls == ("turn:turn.example:3478",)


async def test_a_trickle_exchange_connects(session: WebRtcSession,
                                          camsdk_no_task_leaks: None) -> None:
    peer = WebRtcAnswerer(params=SMALL, trickle=True)
    try:
        offer = await session.create_offer(audio=None, trickle=True)
        assert candidates(offer) == [] and "a=ice-options:trickle" in offer
        answer = await peer.answer(offer)
        assert candidates(answer) == []
        # The vendor's candidates may come before its answer; they wait for it.
        async for candidate, mid, index in peer.local_candidates():
            await session.add_remote_candidate(candidate, sdp_mid=mid, sdp_mline_index=index)
        await session.add_remote_candidate(None)
        await session.accept_answer(answer)
        sent = 0
        async for ours in session.local_candidates():
            await peer.add_remote_candidate(ours.candidate, ours.sdp_mid, ours.sdp_mline_index)
            sent += 1
        await peer.add_remote_candidate(None, None, None)
        assert sent >= 1
        info = await WebRtcUpstream(session, close_session=False).start(timeout=10)
        assert info.width == SMALL.width
    finally:
        await peer.aclose()


async def test_aclose_closes_the_connection_and_stops_every_task(connect: Connect) -> None:
    session, upstream, _peer = await connect()
    before = {t for t in asyncio.all_tasks() if t.get_name().startswith("camsdk-webrtc")}
    assert before
    assert "video-decoder" in [t.name for t in threading.enumerate()]
    await upstream.aclose()
    assert session.closed and session.connection_state == "new"
    assert not any(not t.done() for t in before)
    # aiortc's receive thread (it runs the pass-through "decoder") is joined too.
    assert not [t.name for t in threading.enumerate() if t.name == "video-decoder"]
    with pytest.raises(CameraClosedError):
        await session.next_packet()
    # Sockets: the autouse leak check fails the test if one is left open.


async def test_an_offer_is_made_once(session: WebRtcSession) -> None:
    await session.create_offer(audio=None)
    with pytest.raises(ConfigurationError):
        await session.create_offer(audio=None)


async def test_an_offer_needs_some_media(session: WebRtcSession) -> None:
    with pytest.raises(ConfigurationError):
        await session.create_offer(audio=None, video=None)


async def test_a_malformed_answer_is_a_protocol_error(session: WebRtcSession) -> None:
    await session.create_offer(audio=None)
    with pytest.raises(CameraProtocolError):
        await session.accept_answer("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 99\r\n")


async def test_an_answer_without_an_offer_is_refused(session: WebRtcSession) -> None:
    with pytest.raises(ConfigurationError):
        await session.accept_answer("v=0\r\n")


async def test_a_flood_of_trickled_candidates_is_refused(session: WebRtcSession) -> None:
    await session.create_offer(audio=None, trickle=True)
    candidate = "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"
    with pytest.raises(CameraProtocolError, match="too many"):
        for _ in range(1000):  # bounded; the session gives up at 256
            await session.add_remote_candidate(candidate, sdp_mid="0")


async def test_a_peer_that_never_answers_times_out(session: WebRtcSession) -> None:
    await session.create_offer(audio=None)
    with pytest.raises(CameraTimeoutError, match="connection"):
        await WebRtcUpstream(session, close_session=False).start(timeout=0.3)


async def test_a_peer_gone_before_connecting_times_out(session: WebRtcSession) -> None:
    peer = WebRtcAnswerer(params=SMALL)
    answer = await peer.answer(await session.create_offer(audio=None))
    await peer.aclose()
    await session.accept_answer(answer)
    with pytest.raises(CameraTimeoutError):
        await WebRtcUpstream(session, close_session=False).start(timeout=0.5)


async def test_a_peer_that_closes_ends_the_stream(connect: Connect) -> None:
    _, upstream, peer = await connect()
    await peer.aclose()
    with pytest.raises(StreamEndedError):
        async with asyncio.timeout(5):
            async for _ in upstream:
                pass


async def test_a_peer_that_stops_sending_stalls_the_stream(connect: Connect) -> None:
    _, upstream, peer = await connect(upstream={"stall_timeout": 0.3})
    peer.freeze()
    with pytest.raises(StreamStalledError):
        async with asyncio.timeout(5):
            async for _ in upstream:
                pass


async def test_a_slow_reader_loses_old_packets_and_resumes_on_a_keyframe(
    connect: Connect,
) -> None:
    session, upstream, peer = await connect(params=LONG_GOP, session={"inbox_size": 16})
    # Nobody reads for 20 frames: the inbox keeps at most 16, no keyframe among them.
    await wait_until(lambda: peer.video_sent >= 22, timeout=10)
    assert session.dropped > 0 and peer.keyframe_requests == 0
    packets = []
    async for packet in upstream:
        packets.append(packet)
        if len(packets) == 3:
            break
    assert packets[0].keyframe  # asked for when the reader came back
    assert peer.keyframe_requests == 1 and peer.forced_keyframes == 1


def test_import_camsdk_does_not_import_aiortc() -> None:
    code = ("import sys, camsdk, camsdk.driver, camsdk._webrtc; "
            "assert 'aiortc' not in sys.modules, 'aiortc imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_without_aiortc_a_session_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aiortc", None)  # import aiortc -> ImportError
    with pytest.raises(DriverUnavailableError) as caught:
        WebRtcSession(scheme="nest", url="nest://project/device")
    assert caught.value.hint == "pip install camsdk[webrtc]"
    assert caught.value.scheme == "nest"
