"""`DeviceWebSocket`: host pinning, TLS, bounded messages, liveness by bytes, typed errors."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

import anyio
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse

from camsdk.driver import (
    AuthenticationError,
    CameraConfig,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    DeviceError,
    DeviceWebSocket,
    RedirectRefusedError,
    StreamStalledError,
    register_secret,
)
from camsdk.testing import self_signed_tls

pytestmark = pytest.mark.anyio

CONFIG = CameraConfig(connect_timeout=3.0, request_timeout=3.0)
Handler = Callable[[ServerConnection], Awaitable[None]]
Gate = Callable[[ServerConnection, WsRequest], WsResponse | None]


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


class Peer:
    """A websocket server on loopback; ``seen`` keeps each handshake's headers."""

    def __init__(self, server: Server, scheme: str) -> None:
        self.server = server
        self.port = server.sockets[0].getsockname()[1]
        self.scheme = scheme
        self.seen: list[dict[str, str]] = []

    def url(self, path: str = "/feed") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


async def _peer(handler: Handler = echo, *, gate: Gate | None = None,
                tls: ssl.SSLContext | None = None) -> AsyncIterator[Peer]:
    peer: Peer | None = None

    def process_request(ws: ServerConnection, request: WsRequest) -> WsResponse | None:
        assert peer is not None
        peer.seen.append({k.lower(): v for k, v in request.headers.raw_items()})
        return gate(ws, request) if gate is not None else None

    async with serve(handler, "127.0.0.1", 0, ssl=tls, process_request=process_request,
                     max_size=None, close_timeout=0.2) as server:
        peer = Peer(server, "wss" if tls is not None else "ws")
        yield peer


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    async for p in _peer():
        yield p


def _open(url: str, **kwargs: Any) -> Awaitable[DeviceWebSocket]:
    kwargs.setdefault("allowed_hosts", {"127.0.0.1"})
    kwargs.setdefault("config", CONFIG)
    return DeviceWebSocket.connect(url, scheme="acme", shown_url="acme://127.0.0.1", **kwargs)


async def test_messages_go_both_ways_and_iteration_ends_on_a_normal_close(peer: Peer) -> None:
    with anyio.fail_after(10):
        async with await _open(peer.url(), headers={"X-API-KEY": "k-123"}) as ws:
            await ws.send("hello")
            await ws.send(b"\x00\x01")
            assert await ws.recv() == "hello"
            assert await ws.recv() == b"\x00\x01"
    assert peer.seen[0]["x-api-key"] == "k-123"
    assert peer.seen[0]["user-agent"] == "camsdk"


async def test_a_host_the_caller_did_not_allow_is_refused_before_connecting(peer: Peer) -> None:
    with pytest.raises(RedirectRefusedError):
        await _open(peer.url(), allowed_hosts={"camera.example"})
    assert peer.seen == []


def _status(status: HTTPStatus, **headers: str) -> Gate:
    def gate(ws: ServerConnection, request: WsRequest) -> WsResponse:
        response = ws.respond(status, "")
        for name, value in headers.items():
            response.headers[name] = value
        return response

    return gate


@pytest.mark.parametrize(("status", "error"), [
    (HTTPStatus.UNAUTHORIZED, AuthenticationError),
    (HTTPStatus.FORBIDDEN, AuthenticationError),
    (HTTPStatus.INTERNAL_SERVER_ERROR, DeviceError),
])
async def test_a_refused_handshake_is_a_typed_error(status: HTTPStatus, error: type) -> None:
    async for peer in _peer(gate=_status(status)):
        with anyio.fail_after(10), pytest.raises(error):
            await _open(peer.url())


async def test_a_redirect_is_refused_never_followed() -> None:
    async for elsewhere in _peer():
        gate = _status(HTTPStatus.FOUND, Location=elsewhere.url("/other"))
        async for peer in _peer(gate=gate):
            with anyio.fail_after(10), pytest.raises(RedirectRefusedError):
                await _open(peer.url())
        assert elsewhere.seen == []


async def test_a_message_over_the_cap_is_a_protocol_error() -> None:
    async def flood(ws: ServerConnection) -> None:
        await ws.send(b"x" * 100_000)
        await ws.wait_closed()

    async for peer in _peer(flood):
        with anyio.fail_after(10):
            async with await _open(peer.url(), max_size=64 * 1024) as ws:
                with pytest.raises(CameraProtocolError, match="larger than"):
                    await ws.recv()


async def test_a_half_open_peer_is_declared_dead_after_the_idle_window() -> None:
    async def go_deaf(ws: ServerConnection) -> None:
        ws.transport.pause_reading()  # no pong ever comes back
        await ws.wait_closed()

    async for peer in _peer(go_deaf):
        with anyio.fail_after(10):
            async with await _open(peer.url(), idle_timeout=0.3) as ws:
                with pytest.raises(CameraTimeoutError, match="no byte"):
                    await ws.recv()
                assert ws.pings >= 1


async def test_the_caller_chooses_the_error_of_a_dead_peer() -> None:
    async def go_deaf(ws: ServerConnection) -> None:
        ws.transport.pause_reading()
        await ws.wait_closed()

    def stalled() -> StreamStalledError:
        return StreamStalledError("event feed stalled")

    async for peer in _peer(go_deaf):
        with anyio.fail_after(10):
            async with await _open(peer.url(), idle_timeout=0.3, on_idle=stalled) as ws:
                with pytest.raises(StreamStalledError, match="event feed stalled"):
                    await ws.recv()


async def test_a_quiet_peer_that_answers_pings_stays_alive(peer: Peer) -> None:
    async with await _open(peer.url(), idle_timeout=0.3) as ws:
        with anyio.move_on_after(1.2):
            await ws.recv()  # nothing is sent: only the window is tested
        assert ws.pings >= 3 and ws.idle < 0.3


@pytest.fixture(scope="module")
def certificate() -> tuple[ssl.SSLContext, bytes]:
    return self_signed_tls("console.local")


async def test_a_self_signed_peer_is_refused_by_default_and_taken_with_its_context(
    certificate: tuple[ssl.SSLContext, bytes],
) -> None:
    server_context, der = certificate
    trusting = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
    trusting.check_hostname = False
    async for peer in _peer(tls=server_context):
        with anyio.fail_after(10):
            with pytest.raises(CameraUnreachableError, match="TLS"):
                await _open(peer.url())
            async with await _open(peer.url(), verify=trusting, require_tls=True) as ws:
                await ws.send("over tls")
                assert await ws.recv() == "over tls"


async def test_a_plain_websocket_is_refused_where_tls_is_required(peer: Peer) -> None:
    with pytest.raises(RedirectRefusedError):
        await _open(peer.url(), require_tls=True)
    assert peer.seen == []


async def test_handshake_secrets_never_reach_the_websockets_logs(
    peer: Peer, caplog: pytest.LogCaptureFixture,
) -> None:
    token = "TOKEN-8d1e0c55aa"
    register_secret(token)
    caplog.set_level(logging.DEBUG, logger="websockets")
    with anyio.fail_after(10):
        async with await _open(peer.url(), headers={"Cookie": f"TOKEN={token}"}) as ws:
            await ws.send("ping")
            await ws.recv()
    client_lines = [r.getMessage() for r in caplog.records if r.name == "websockets.client"]
    assert any("Cookie" in line for line in client_lines)
    assert not [r for r in caplog.records if token in r.getMessage()]
