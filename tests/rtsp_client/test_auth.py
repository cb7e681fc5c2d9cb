"""Authentication: Basic and Digest variants, stale nonces, no retry on a wrong password."""

from __future__ import annotations

import logging

import pytest

from camsdk._errors import AuthenticationError
from camsdk._rtsp import RtspUpstream, describe
from camsdk._rtsp._auth import DigestAnswerer, parse_challenges
from camsdk.testing import EncodedLoop, RtspServer
from camsdk.testing._rtsp_server import RtspQuirks

from ._helpers import settings, take

pytestmark = pytest.mark.anyio

USER, PASSWORD = "admin", "s3cret-Pa55"


def test_several_challenges_in_one_header_are_parsed() -> None:
    challenges = parse_challenges([
        'Digest realm="cam", nonce="abc", algorithm=MD5, qop="auth,auth-int", '
        'Basic realm="cam"', 'Digest realm="cam", nonce="n2", algorithm=SHA-256, stale=TRUE'])
    assert [(c.scheme, c.algorithm) for c in challenges] == [
        ("digest", "MD5"), ("basic", "MD5"), ("digest", "SHA-256")]
    assert challenges[0].params["qop"] == "auth,auth-int"
    assert challenges[2].stale


@pytest.mark.parametrize(("algorithm", "expected"), [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_digest_answers_match_rfc_7616_examples(
    monkeypatch: pytest.MonkeyPatch, algorithm: str, expected: str
) -> None:
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    monkeypatch.setattr("camsdk._digest_auth.secrets.token_hex", lambda _n: cnonce)
    answerer = DigestAnswerer("Mufasa", "Circle of Life")
    answerer.accept([
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'], sent=False)
    header = answerer.authorization("GET", "/dir/index.html")
    assert header is not None
    assert f'response="{expected}"' in header
    assert "nc=00000001" in header and 'opaque="FQhe/' in header


def test_the_nonce_is_reused_with_an_increasing_count() -> None:
    answerer = DigestAnswerer("u", "p")
    answerer.accept(['Digest realm="r", nonce="n", qop="auth"'], sent=False)
    first = answerer.authorization("SETUP", "rtsp://h/a")
    second = answerer.authorization("PLAY", "rtsp://h/")
    assert first is not None and "nc=00000001" in first
    assert second is not None and "nc=00000002" in second


def test_nothing_is_sent_before_the_server_asks() -> None:
    assert DigestAnswerer("u", "p").authorization("DESCRIBE", "rtsp://h/") is None


def test_a_second_rejection_is_final_but_a_stale_nonce_is_not() -> None:
    answerer = DigestAnswerer("u", "p")
    answerer.accept(['Digest realm="r", nonce="n1"'], sent=False)
    answerer.accept(['Digest realm="r", nonce="n2", stale=true'], sent=True)
    with pytest.raises(AuthenticationError, match="rejected"):
        answerer.accept(['Digest realm="r", nonce="n3"'], sent=True)


def test_endless_stale_answers_end_in_an_error() -> None:
    answerer = DigestAnswerer("u", "p")
    answerer.accept(['Digest realm="r", nonce="n0"'], sent=False)
    with pytest.raises(AuthenticationError):
        for n in range(5):
            answerer.accept([f'Digest realm="r", nonce="n{n + 1}", stale=true'], sent=True)


def test_without_credentials_a_challenge_is_an_error_at_once() -> None:
    with pytest.raises(AuthenticationError, match="needs credentials"):
        DigestAnswerer(None, None).accept(['Basic realm="r"'], sent=False)


def test_unknown_schemes_are_refused() -> None:
    with pytest.raises(AuthenticationError, match="does not speak"):
        DigestAnswerer("u", "p").accept(['Negotiate abc', 'Digest realm="r"'], sent=False)


# -- against the test server ---------------------------------------------------------------


@pytest.mark.parametrize("quirks", [
    RtspQuirks(),
    RtspQuirks(qop=False),
    RtspQuirks(digest_algorithm="MD5-sess"),
    RtspQuirks(digest_algorithm="SHA-256"),
    RtspQuirks(digest=False),
], ids=["md5-qop", "md5", "md5-sess", "sha-256", "basic"])
async def test_each_scheme_opens_the_stream(h264_loop: EncodedLoop, quirks: RtspQuirks) -> None:
    async with RtspServer(h264_loop, username=USER, password=PASSWORD, quirks=quirks) as server:
        async with RtspUpstream(settings(server.url, username=USER, password=PASSWORD)) as up:
            assert (await take(up, 1))[0].keyframe
        assert server.auth_counts["denied"] == 0
        first = server.request_log[0]
        assert "authorization" not in first.headers  # nothing before the server asked


async def test_stale_nonces_are_answered_without_failing(h264_loop: EncodedLoop) -> None:
    quirks = RtspQuirks(nonce_uses=2)
    async with RtspServer(h264_loop, username=USER, password=PASSWORD, quirks=quirks) as server:
        async with RtspUpstream(settings(server.url, username=USER, password=PASSWORD)) as up:
            await take(up, 1)
        assert server.auth_counts["stale"] >= 1
        assert server.auth_counts["denied"] == 0


async def test_a_401_on_play_alone_is_answered(h264_loop: EncodedLoop) -> None:
    quirks = RtspQuirks(protected=frozenset({"PLAY"}))
    async with RtspServer(h264_loop, username=USER, password=PASSWORD, quirks=quirks) as server:
        async with RtspUpstream(settings(server.url, username=USER, password=PASSWORD)) as up:
            await take(up, 1)
        plays = [r for r in server.request_log if r.method == "PLAY"]
        assert ["authorization" in r.headers for r in plays] == [False, True]


async def test_a_wrong_password_fails_at_once_after_one_attempt(
    h264_loop: EncodedLoop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with RtspServer(h264_loop, username=USER, password=PASSWORD) as server:
        up = RtspUpstream(settings(server.url, username=USER, password="wrong-Secret-9"))
        with pytest.raises(AuthenticationError, match="rejected") as info:
            await up.start()
        await up.aclose()
        assert server.auth_counts["denied"] == 1  # one try: devices lock accounts
    assert "wrong-Secret-9" not in str(info.value) and "wrong-Secret-9" not in caplog.text
    assert info.value.url == server.url


async def test_missing_credentials_are_reported_as_such(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, username=USER, password=PASSWORD) as server:
        with pytest.raises(AuthenticationError, match="needs credentials"):
            await describe(settings(server.url))


def test_the_password_is_not_in_the_settings_repr() -> None:
    assert PASSWORD not in repr(settings("rtsp://127.0.0.1/x", username=USER, password=PASSWORD))
