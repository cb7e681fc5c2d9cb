"""SDP answer fixes: each vendor quirk is refused or misread by aiortc, and works once fixed.

Every fix has two tests: on text (the quirk is repaired, a clean answer is
left alone) and end to end (the answerer's real answer, given the quirk,
fails without the fix and streams with it).
"""

from __future__ import annotations

import re

import pytest

from camsdk import CameraProtocolError
from camsdk._webrtc import (
    KNOWN_ANSWER_FIXES,
    WebRtcSession,
    WebRtcUpstream,
    answer_direction_within_offer,
    candidate_empty_foundation,
    h264_profile_from_offer,
    setup_actpass_as_passive,
)
from camsdk._webrtc._sdp import (
    MAX_SDP_BYTES,
    Sdp,
    first_audio_codec,
    sprop_parameter_sets,
    without_candidates,
)
from camsdk.testing import WebRtcAnswerer

from ._loopback import SMALL

pytestmark = pytest.mark.anyio

OFFER = """v=0
o=- 1 1 IN IP4 0.0.0.0
s=-
t=0 0
m=audio 9 UDP/TLS/RTP/SAVPF 96 0
a=recvonly
a=mid:0
a=rtpmap:96 opus/48000/2
a=rtpmap:0 PCMU/8000
m=video 9 UDP/TLS/RTP/SAVPF 99 100
a=recvonly
a=mid:1
a=rtpmap:99 H264/90000
a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:100 rtx/90000
a=fmtp:100 apt=99
"""

NEST_ANSWER = """v=0
o=- 0 2 IN IP4 127.0.0.1
s=-
t=0 0
a=ice-lite
m=audio 19305 UDP/TLS/RTP/SAVPF 96
c=IN IP4 192.0.2.7
a=candidate: 1 udp 2113939711 2001:db8::7f 19305 typ host generation 0
a=candidate: 1 tcp 2113939710 2001:db8::7f 19305 typ host tcptype passive generation 0
a=candidate: 1 ssltcp 2113939709 192.0.2.7 443 typ host generation 0
a=setup:passive
a=mid:0
a=sendrecv
a=rtpmap:96 opus/48000/2
m=video 9 UDP/TLS/RTP/SAVPF 99
a=setup:passive
a=mid:1
a=sendrecv
a=rtpmap:99 H264/90000
a=fmtp:99 profile-level-id=640c1f
"""


def lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# -- on text -------------------------------------------------------------------------------


def test_empty_candidate_foundations_get_a_foundation() -> None:
    fixed = candidate_empty_foundation(NEST_ANSWER, OFFER)
    candidates = lines(fixed, "a=candidate:")
    assert len(candidates) == 3
    for line in candidates:
        fields = line[len("a=candidate:"):].split()
        assert fields[0] and not fields[0].isdigit() and fields[1] == "1"
    assert len({line.split()[0] for line in candidates}) == 3


def test_actpass_in_an_answer_becomes_passive() -> None:
    quirky = NEST_ANSWER.replace("a=setup:passive", "a=setup:actpass")
    assert lines(setup_actpass_as_passive(quirky, OFFER), "a=setup:") == ["a=setup:passive"] * 2


def test_sending_on_a_section_we_only_receive_is_narrowed_to_sendonly() -> None:
    fixed = Sdp.parse(answer_direction_within_offer(NEST_ANSWER, OFFER))
    assert [Sdp.direction(section) for section in fixed.media] == ["sendonly", "sendonly"]


def test_a_direction_the_offer_allows_is_kept() -> None:
    offer = OFFER.replace("a=recvonly\na=mid:0", "a=sendrecv\na=mid:0")
    fixed = Sdp.parse(answer_direction_within_offer(NEST_ANSWER, offer))
    assert [Sdp.direction(section) for section in fixed.media] == ["sendrecv", "sendonly"]


def test_an_h264_profile_the_offer_lacks_is_relabelled_with_the_offered_one() -> None:
    fixed = h264_profile_from_offer(NEST_ANSWER, OFFER)
    assert lines(fixed, "a=fmtp:99") == ["a=fmtp:99 profile-level-id=42e01f;packetization-mode=1"]


@pytest.mark.parametrize("fix", KNOWN_ANSWER_FIXES, ids=lambda f: f.__name__)
def test_a_fix_leaves_an_answer_without_its_quirk_unchanged(fix: object) -> None:
    clean = """v=0
o=- 0 2 IN IP4 127.0.0.1
s=-
t=0 0
m=audio 9 UDP/TLS/RTP/SAVPF 96
a=candidate:1 1 udp 2113939711 192.0.2.7 19305 typ host
a=setup:active
a=mid:0
a=sendonly
a=rtpmap:96 opus/48000/2
m=video 9 UDP/TLS/RTP/SAVPF 99
a=setup:active
a=mid:1
a=sendonly
a=rtpmap:99 H264/90000
a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
"""
    assert fix(clean, OFFER) == clean  # type: ignore[operator]


def test_an_oversized_answer_is_refused_before_any_fix() -> None:
    with pytest.raises(ValueError, match="larger than"):
        Sdp.parse("v=0\r\n" + "a=x\r\n" * (MAX_SDP_BYTES // 5))


def test_a_trickle_offer_has_no_candidates_and_says_trickle() -> None:
    with_candidates = NEST_ANSWER.replace("a=candidate: ", "a=candidate:x ")
    stripped = without_candidates(with_candidates)
    assert not lines(stripped, "a=candidate") and "a=ice-options:trickle" in stripped
    assert lines(stripped, "m=audio") == ["m=audio 9 UDP/TLS/RTP/SAVPF 96"]
    assert lines(stripped, "c=") == ["c=IN IP4 0.0.0.0"]


def test_sprop_parameter_sets_are_read_from_the_answer() -> None:
    answer = NEST_ANSWER.replace(
        "a=fmtp:99 profile-level-id=640c1f",
        "a=fmtp:99 profile-level-id=42e01f;sprop-parameter-sets=Z0LAHtkA,aM4G4g==,!!",
    )
    assert sprop_parameter_sets(answer) == [bytes.fromhex("6742c01ed900"),
                                            bytes.fromhex("68ce06e2")]


def test_the_first_usable_audio_codec_is_the_one_sent() -> None:
    answer = NEST_ANSWER.replace("m=audio 19305 UDP/TLS/RTP/SAVPF 96", "m=audio 9 RTP/SAVPF 13 0")
    codec = first_audio_codec(answer)  # 13 is comfort noise, 0 is PCMU without an rtpmap
    assert codec is not None and (codec.ffmpeg_name, codec.clock_rate) == ("pcm_mulaw", 8000)


# -- end to end against aiortc --------------------------------------------------------------


async def _answer(peer: WebRtcAnswerer, session: WebRtcSession) -> str:
    return await peer.answer(await session.create_offer(audio=None))


async def _streams(session: WebRtcSession) -> bool:
    upstream = WebRtcUpstream(session, close_session=False)
    info = await upstream.start(timeout=10)
    return info.width == SMALL.width


@pytest.fixture
async def pair(camsdk_no_task_leaks: None) -> object:
    made: list[object] = []

    def make(fixes: tuple[object, ...], **answerer: object) -> tuple[WebRtcSession,
                                                                     WebRtcAnswerer]:
        session = WebRtcSession(host_addresses=("127.0.0.1",),
                                answer_fixes=fixes)  # type: ignore[arg-type]
        peer = WebRtcAnswerer(params=SMALL, **answerer)  # type: ignore[arg-type]
        made.extend([session, peer])
        return session, peer

    yield make
    for thing in reversed(made):
        await thing.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("fixed", [False, True], ids=["refused", "fixed"])
async def test_nest_candidates_without_foundation(pair: object, fixed: bool) -> None:
    session, peer = pair((candidate_empty_foundation,) if fixed else ())  # type: ignore[operator]
    answer = re.sub(r"a=candidate:\S+ ", "a=candidate: ", await _answer(peer, session))
    if not fixed:
        with pytest.raises(CameraProtocolError, match="refused"):
            await session.accept_answer(answer)
        return
    await session.accept_answer(answer)
    assert await _streams(session)


@pytest.mark.parametrize("fixed", [False, True], ids=["refused", "fixed"])
async def test_an_answer_that_says_actpass(pair: object, fixed: bool) -> None:
    # The peer (like libpeer and other embedded stacks) waits for our ClientHello.
    session, peer = pair((setup_actpass_as_passive,) if fixed else (),  # type: ignore[operator]
                         dtls_role="passive")
    answer = (await _answer(peer, session)).replace("a=setup:passive", "a=setup:actpass")
    if not fixed:
        with pytest.raises(CameraProtocolError, match="DTLS setup"):
            await session.accept_answer(answer)
        return
    await session.accept_answer(answer)
    assert await _streams(session)


@pytest.mark.parametrize("fixed", [False, True], ids=["misread", "fixed"])
async def test_an_answer_that_sends_both_ways_on_our_receive_only_video(
    pair: object, fixed: bool
) -> None:
    session, peer = pair((answer_direction_within_offer,) if fixed else ())  # type: ignore[operator]
    answer = (await _answer(peer, session)).replace("a=sendonly", "a=sendrecv")
    await session.accept_answer(answer)
    # Misread, aiortc would run an RTP sender without a track for the whole session.
    video = session._transceivers["video"]
    assert video.currentDirection == ("recvonly" if fixed else "sendrecv")
    assert await _streams(session)


@pytest.mark.parametrize("fixed", [False, True], ids=["refused", "fixed"])
async def test_an_answer_with_a_high_profile(pair: object, fixed: bool) -> None:
    session, peer = pair((h264_profile_from_offer,) if fixed else ())  # type: ignore[operator]
    answer = re.sub(r"profile-level-id=\w+", "profile-level-id=640c1f",
                    await _answer(peer, session))
    if not fixed:
        with pytest.raises(CameraProtocolError, match="refused"):
            await session.accept_answer(answer)
        return
    await session.accept_answer(answer)
    assert await _streams(session)
