"""Redirects: followed only within the caller's origin (or allowed hosts); never elsewhere.

A refused redirect makes no connection to its target and so can leak no
credentials: a listener on 127.0.0.2 records every connection it sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from camsdk._errors import RedirectRefusedError
from camsdk._rtsp import RtspUpstream, describe
from camsdk._rtsp._urls import RedirectPolicy
from camsdk.testing import EncodedLoop, RtspServer

from ._helpers import settings, take
from ._tls import tls_pair

pytestmark = pytest.mark.anyio

USER, PASSWORD = "admin", "s3cret-Pa55"


class Listener:
    """A TCP listener that records who connected and what they sent."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = b""
        self.server: asyncio.Server | None = None

    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.received += await reader.read(4096)
        writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


@pytest.fixture
async def other_host() -> AsyncIterator[Listener]:
    listener = Listener()
    listener.server = await asyncio.start_server(listener._on_connect, "127.0.0.2", 0)
    yield listener
    listener.server.close()
    await listener.server.wait_closed()


def test_the_policy_allows_the_same_origin_and_allowed_hosts_only() -> None:
    policy = RedirectPolicy("rtsp://cam:554/a", frozenset({"relay.local"}), 3)
    assert policy.follow("rtsp://cam:554/a", "/b") == "rtsp://cam:554/b"
    assert policy.follow("rtsp://cam:554/b", "rtsp://cam/c") == "rtsp://cam/c"
    assert policy.follow("rtsp://cam/c", "rtsp://relay.local:8554/d") == "rtsp://relay.local:8554/d"
    with pytest.raises(RedirectRefusedError, match="more than 3"):
        policy.follow("rtsp://relay.local:8554/d", "rtsp://cam/e")


@pytest.mark.parametrize(("location", "why"), [
    ("rtsp://evil.example/x", "another host"),
    ("rtsp://cam:8554/x", "another host or port"),
    ("rtsp://user:pw@cam/x", "user information"),
    ("http://cam/x", "scheme"),
    ("rtsp://cam/a", "loop"),
])
def test_the_policy_refuses(location: str, why: str) -> None:
    policy = RedirectPolicy("rtsp://cam/a", frozenset(), 3)
    with pytest.raises(RedirectRefusedError, match=why) as info:
        policy.follow("rtsp://cam/a", location)
    assert "pw" not in info.value.location


def test_a_downgrade_from_rtsps_is_refused_even_to_the_same_host() -> None:
    policy = RedirectPolicy("rtsps://cam/a", frozenset(), 3)
    with pytest.raises(RedirectRefusedError, match="downgrade"):
        policy.follow("rtsps://cam/a", "rtsp://cam:322/a")


async def test_a_same_host_redirect_is_followed(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop, username=USER, password=PASSWORD) as server:
        server.redirect("/old", server.url)
        old = server.url.replace("/stream", "/old")
        async with RtspUpstream(settings(old, username=USER, password=PASSWORD)) as upstream:
            assert upstream.description.base_url == server.url
            await take(upstream, 1)


@pytest.mark.parametrize("methods", [frozenset({"OPTIONS"}), frozenset({"DESCRIBE"})])
async def test_a_redirect_to_another_host_is_refused_without_connecting(
    h264_loop: EncodedLoop, other_host: Listener, methods: frozenset[str]
) -> None:
    async with RtspServer(h264_loop, username=USER, password=PASSWORD) as server:
        location = f"rtsp://{USER}:{PASSWORD}@127.0.0.2:{other_host.port}/stream"
        server.redirect("/stream", location, methods=methods)
        with pytest.raises(RedirectRefusedError) as info:
            await describe(settings(server.url, username=USER, password=PASSWORD))
    assert other_host.connections == 0 and other_host.received == b""
    assert PASSWORD not in info.value.location and PASSWORD not in str(info.value)
    assert "127.0.0.2" in info.value.location


async def test_a_redirect_to_another_port_is_refused(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as target, RtspServer(h264_loop) as server:
        server.redirect("/stream", target.url)
        with pytest.raises(RedirectRefusedError, match="port"):
            await describe(settings(server.url))
        assert target.requests == []


async def test_a_redirect_during_setup_is_checked_too(h264_loop: EncodedLoop,
                                                      other_host: Listener) -> None:
    async with RtspServer(h264_loop) as server:
        server.redirect("/stream/trackID=0", f"rtsp://127.0.0.2:{other_host.port}/s",
                        methods=frozenset({"SETUP"}))
        upstream = RtspUpstream(settings(server.url))
        with pytest.raises(RedirectRefusedError):
            await upstream.start()
        await upstream.aclose()
    assert other_host.connections == 0


async def test_an_allowed_host_is_followed_and_asked_for_credentials_afresh(
    h264_loop: EncodedLoop,
) -> None:
    async with RtspServer(h264_loop, host="127.0.0.2", username=USER,
                          password=PASSWORD) as target, RtspServer(h264_loop) as server:
        server.redirect("/stream", target.url)
        config = settings(server.url, username=USER, password=PASSWORD,
                          allowed_hosts=frozenset({"127.0.0.2"}))
        async with RtspUpstream(config) as upstream:
            await take(upstream, 1)
        assert "authorization" not in target.request_log[0].headers


async def test_redirect_loops_are_refused(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        base = server.url.rsplit("/", 1)[0]
        server.redirect("/a", f"{base}/b")
        server.redirect("/b", f"{base}/a")
        with pytest.raises(RedirectRefusedError, match="loop"):
            await describe(settings(f"{base}/a"))


async def test_more_than_three_redirects_are_refused(h264_loop: EncodedLoop) -> None:
    async with RtspServer(h264_loop) as server:
        base = server.url.rsplit("/", 1)[0]
        for hop in range(1, 5):
            server.redirect(f"/r{hop}", f"{base}/r{hop + 1}")
        server.redirect("/r5", server.url)
        with pytest.raises(RedirectRefusedError, match="more than 3"):
            await describe(settings(f"{base}/r1"))
        assert "/r4" in [path for _, path in server.requests]
        assert "/r5" not in [path for _, path in server.requests]


async def test_rtsps_to_rtsp_is_refused(h264_loop: EncodedLoop) -> None:
    server_tls, client_tls = tls_pair()
    async with RtspServer(h264_loop, tls=server_tls) as server:
        server.redirect("/stream", server.url.replace("rtsps://", "rtsp://"))
        with pytest.raises(RedirectRefusedError, match="downgrade"):
            await describe(settings(server.url, tls=client_tls))
