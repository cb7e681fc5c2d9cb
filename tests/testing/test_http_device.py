"""Specification of `HttpDevice`: the loopback HTTP/1.1 server of the vendor simulators.

Routing, keep-alive and HEAD are checked with httpx; authentication with
httpx's own Basic and Digest clients and with hand-written headers; every
fault with a raw asyncio client that records each piece of data as it
arrives, so what the device puts on the wire is observed, not inferred.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from camsdk.testing import self_signed_tls
from camsdk.testing._http_device import (
    HttpDevice,
    Request,
    Response,
    StreamingResponse,
)

pytestmark = pytest.mark.anyio

WAIT = 5.0


class RawClient(asyncio.Protocol):
    """A TCP client that records every piece of data as it arrives."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def open(cls, device: HttpDevice) -> RawClient:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(cls, "127.0.0.1", device.port)
        return client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pieces.append(data)
        self._arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self._arrived.set()

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    async def until(self, size: int, timeout: float = WAIT) -> bytes:
        """Wait until ``size`` bytes arrived (or the connection closed); return them all."""
        async with asyncio.timeout(timeout):
            while len(self.data) < size and not self.closed.is_set():
                self._arrived.clear()
                await self._arrived.wait()
        return self.data

    async def until_contains(self, marker: bytes, timeout: float = WAIT) -> bytes:
        async with asyncio.timeout(timeout):
            while marker not in self.data and not self.closed.is_set():
                self._arrived.clear()
                await self._arrived.wait()
        return self.data

    async def until_closed(self, timeout: float = WAIT) -> bytes:
        async with asyncio.timeout(timeout):
            await self.closed.wait()
        return self.data

    async def quiet_for(self, seconds: float) -> bool:
        """True when nothing arrived and the connection stayed open for ``seconds``."""
        before = len(self.data)
        self._arrived.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._arrived.wait()
        except TimeoutError:
            pass
        return len(self.data) == before and not self.closed.is_set()

    async def aclose(self) -> None:
        if self.transport is not None:
            self.transport.close()
        await self.until_closed()


def get(path: str = "/", *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra, "", ""]
    return "\r\n".join(lines).encode()


@pytest.fixture
async def device(camsdk_no_task_leaks: None) -> AsyncIterator[HttpDevice]:
    """A device without authentication (closed after the client, before the leak check)."""
    async with HttpDevice() as dev:
        yield dev


@pytest.fixture
async def client(device: HttpDevice) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=device.url, timeout=WAIT) as c:
        yield c


JPEG = b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"


# -- routing ------------------------------------------------------------------------------


async def test_an_exact_route_answers_with_its_response(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    device.route("GET", "/snapshot.jpg", Response(200, JPEG, content_type="image/jpeg"))
    answer = await client.get("/snapshot.jpg")
    assert answer.status_code == 200
    assert answer.content == JPEG
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["content-length"] == str(len(JPEG))


async def test_an_unknown_path_is_a_404(device: HttpDevice, client: httpx.AsyncClient) -> None:
    device.route("GET", "/a", Response(200))
    assert (await client.get("/b")).status_code == 404


async def test_a_path_served_for_other_methods_only_is_a_405_naming_them(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    device.route("GET", "/ISAPI/System/deviceInfo", Response(200))
    device.route("PUT", "/ISAPI/System/deviceInfo", Response(200))
    answer = await client.post("/ISAPI/System/deviceInfo")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, PUT"


async def test_a_regex_route_gives_the_handler_its_match(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    async def picture(request: Request) -> Response:
        assert request.match is not None
        return Response(200, f"channel {request.match['channel']}")

    device.route("GET", re.compile(r"/ISAPI/Streaming/channels/(?P<channel>\d+)/picture"), picture)
    assert (await client.get("/ISAPI/Streaming/channels/101/picture")).text == "channel 101"
    assert (await client.get("/ISAPI/Streaming/channels/x/picture")).status_code == 404


async def test_a_prefix_route_serves_every_path_below_it(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    device.route("*", "/cgi-bin/", Response(200, "cgi"), prefix=True)
    assert (await client.get("/cgi-bin/magicBox.cgi?action=getSystemInfo")).text == "cgi"
    assert (await client.post("/cgi-bin/configManager.cgi")).text == "cgi"
    assert (await client.get("/other")).status_code == 404


async def test_an_exact_route_wins_over_a_pattern_registered_before_it(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    device.route("GET", "/api/", Response(200, "prefix"), prefix=True)
    device.route("GET", "/api/login", Response(200, "exact"))
    assert (await client.get("/api/login")).text == "exact"
    assert (await client.get("/api/other")).text == "prefix"


async def test_the_handler_sees_method_path_query_headers_and_body(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    seen: list[Request] = []

    async def handler(request: Request) -> Response:
        seen.append(request)
        return Response.json({"ok": True})

    device.route("POST", "/api.cgi", handler)
    answer = await client.post(
        "/api.cgi?cmd=Login&id=1&id=2", content=b'[{"cmd":"Login"}]', headers={"X-Token": "t"}
    )
    assert answer.json() == {"ok": True}
    request = seen[0]
    assert (request.method, request.path) == ("POST", "/api.cgi")
    assert request.target == "/api.cgi?cmd=Login&id=1&id=2"
    assert request.query["cmd"] == "Login"
    assert request.query.get_list("id") == ["1", "2"]
    assert request.headers["x-token"] == request.headers["X-TOKEN"] == "t"
    assert request.body == b'[{"cmd":"Login"}]'


async def test_a_chunked_request_body_is_decoded(device: HttpDevice) -> None:
    bodies: list[bytes] = []

    async def handler(request: Request) -> Response:
        bodies.append(request.body)
        return Response(204)

    device.route("POST", "/audio", handler)
    raw = await RawClient.open(device)
    raw.send(
        b"POST /audio HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    )
    assert (await raw.until_contains(b"\r\n\r\n")).startswith(b"HTTP/1.1 204 ")
    assert bodies == [b"hello world"]
    await raw.aclose()


async def test_a_request_body_over_the_limit_is_a_413_and_the_connection_closes() -> None:
    async with HttpDevice(max_request_body=1000) as device:
        device.route("POST", "/upload", Response(200))
        raw = await RawClient.open(device)
        raw.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
        assert (await raw.until_closed()).startswith(b"HTTP/1.1 413 ")


async def test_an_oversized_request_head_is_a_431(device: HttpDevice) -> None:
    raw = await RawClient.open(device)
    raw.send(get("/", f"X-Big: {'a' * 40_000}"))
    assert (await raw.until_closed()).startswith(b"HTTP/1.1 431 ")


async def test_head_sends_the_headers_of_get_without_the_body(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    device.route("GET", "/snapshot.jpg", Response(200, JPEG, content_type="image/jpeg"))
    answer = await client.head("/snapshot.jpg")
    assert answer.status_code == 200
    assert answer.headers["content-length"] == str(len(JPEG))
    assert answer.content == b""


async def test_keep_alive_serves_several_requests_on_one_connection(device: HttpDevice) -> None:
    device.route("GET", "/a", Response(200, b"first"))
    device.route("GET", "/b", Response(200, b"second"))
    raw = await RawClient.open(device)
    raw.send(get("/a"))
    await raw.until_contains(b"first")
    raw.send(get("/b"))
    data = await raw.until_contains(b"second")
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert device.connections == 1
    await raw.aclose()


async def test_connection_close_from_the_client_ends_the_connection(device: HttpDevice) -> None:
    device.route("GET", "/a", Response(200, b"only"))
    raw = await RawClient.open(device)
    raw.send(get("/a", "Connection: close"))
    data = await raw.until_closed()
    assert b"Connection: close" in data
    assert data.endswith(b"only")


async def test_connection_close_from_a_handler_ends_the_connection(device: HttpDevice) -> None:
    device.route("GET", "/a", Response(200, b"bye", headers={"Connection": "close"}))
    raw = await RawClient.open(device)
    raw.send(get("/a"))
    data = await raw.until_closed()
    assert data.count(b"Connection: close") == 1
    assert data.endswith(b"bye")


async def test_a_failing_handler_is_a_500_and_the_error_is_kept(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("simulator bug")

    device.route("GET", "/broken", broken)
    assert (await client.get("/broken")).status_code == 500
    assert [str(e) for e in device.errors] == ["simulator bug"]


async def test_the_request_log_is_bounded_and_leaves_out_authorization() -> None:
    async with HttpDevice(log_size=3) as device:
        device.route("GET", "/x", Response(200))
        async with httpx.AsyncClient(base_url=device.url) as client:
            for number in range(5):
                await client.get(f"/x?n={number}", headers={"Authorization": "Basic c2VjcmV0"})
        assert [r.query["n"] for r in device.requests] == ["2", "3", "4"]
        assert all("authorization" not in r.headers for r in device.requests)
        assert device.requests[-1].method == "GET"
        assert device.requests[-1].path == "/x"


async def test_wait_until_returns_when_the_predicate_holds_and_times_out_otherwise(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    device.route("GET", "/x", Response(200))
    waiter = asyncio.create_task(device.wait_until(lambda d: len(d.requests) >= 2))
    await client.get("/x")
    await client.get("/x")
    await asyncio.wait_for(waiter, WAIT)
    with pytest.raises(TimeoutError):
        await device.wait_until(lambda d: len(d.requests) >= 3, timeout=0.1)


async def test_connections_counts_open_client_connections(device: HttpDevice) -> None:
    first, second = await RawClient.open(device), await RawClient.open(device)
    await device.wait_until(lambda d: d.connections == 2)
    await first.aclose()
    await device.wait_until(lambda d: d.connections == 1)
    await second.aclose()
    await device.wait_until(lambda d: d.connections == 0)


# -- authentication -----------------------------------------------------------------------


async def test_basic_auth_passes_the_right_password_and_challenges_anything_else() -> None:
    async with HttpDevice(auth="basic", username="admin", password="right") as device:
        device.route("GET", "/x", Response(200, "in"))
        async with httpx.AsyncClient(base_url=device.url) as client:
            challenge = await client.get("/x")
            wrong = await client.get("/x", auth=("admin", "wrong"))
            right = await client.get("/x", auth=("admin", "right"))
        assert challenge.status_code == 401
        assert challenge.headers["www-authenticate"] == 'Basic realm="camsdk"'
        assert wrong.status_code == 401
        assert right.text == "in"
        assert device.failed_logins == 1


async def test_digest_auth_is_md5_with_qop_auth_and_works_with_httpx() -> None:
    async with HttpDevice(auth="digest", username="admin", password="right") as device:
        seen: list[str | None] = []

        async def handler(request: Request) -> Response:
            seen.append(request.user)
            return Response(200, "in")

        device.route("GET", "/x", handler)
        async with httpx.AsyncClient(base_url=device.url) as client:
            challenge = await client.get("/x")
            right = await client.get("/x?a=1", auth=httpx.DigestAuth("admin", "right"))
            wrong = await client.get("/x", auth=httpx.DigestAuth("admin", "wrong"))
        offered = challenge.headers["www-authenticate"]
        assert offered.startswith('Digest realm="camsdk", qop="auth", nonce="')
        assert "algorithm=MD5" in offered
        assert right.text == "in"
        assert seen == ["admin"]
        assert wrong.status_code == 401
        assert device.failed_logins == 1


def digest_header(challenge: str, *, password: str, uri: str, nc: int) -> str:
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    assert nonce is not None

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"admin:camsdk:{password}")
    ha2 = md5(f"GET:{uri}")
    count = f"{nc:08x}"
    response = md5(f"{ha1}:{nonce[1]}:{count}:c0ffee:auth:{ha2}")
    return (
        f'Digest username="admin", realm="camsdk", nonce="{nonce[1]}", uri="{uri}", '
        f'qop=auth, nc={count}, cnonce="c0ffee", response="{response}", algorithm=MD5'
    )


async def test_a_replayed_digest_nonce_count_is_answered_stale_not_counted_wrong() -> None:
    async with HttpDevice(auth="digest", password="right", lockout_after=1) as device:
        device.route("GET", "/x", Response(200, "in"))
        async with httpx.AsyncClient(base_url=device.url) as client:
            challenge = (await client.get("/x")).headers["www-authenticate"]
            header = digest_header(challenge, password="right", uri="/x", nc=1)
            first = await client.get("/x", headers={"Authorization": header})
            replay = await client.get("/x", headers={"Authorization": header})
        assert first.text == "in"
        assert replay.status_code == 401
        assert "stale=true" in replay.headers["www-authenticate"]
        assert device.failed_logins == 0
        assert not device.locked


async def test_digest_or_basic_offers_both_challenges_and_takes_either() -> None:
    async with HttpDevice(auth="digest-or-basic", password="right") as device:
        device.route("GET", "/x", Response(200, "in"))
        async with httpx.AsyncClient(base_url=device.url) as client:
            challenge = await client.get("/x")
            basic = await client.get("/x", auth=("admin", "right"))
            digest = await client.get("/x", auth=httpx.DigestAuth("admin", "right"))
        schemes = [v.split(" ")[0] for v in challenge.headers.get_list("www-authenticate")]
        assert schemes == ["Digest", "Basic"]
        assert basic.text == digest.text == "in"


async def test_a_route_may_be_unauthenticated_on_an_authenticated_device() -> None:
    async with HttpDevice(auth="digest") as device:
        device.route("GET", "/public", Response(200, "open"), auth="none")
        device.route("GET", "/private", Response(200, "closed"))
        async with httpx.AsyncClient(base_url=device.url) as client:
            assert (await client.get("/public")).text == "open"
            assert (await client.get("/private")).status_code == 401


async def test_lockout_after_n_wrong_passwords_refuses_everything_until_it_expires() -> None:
    now = [1000.0]
    async with HttpDevice(
        auth="basic", password="right", lockout_after=3, lockout_seconds=60, clock=lambda: now[0]
    ) as device:
        device.route("GET", "/x", Response(200, "in"))
        async with httpx.AsyncClient(base_url=device.url) as client:
            for _ in range(3):
                assert (await client.get("/x", auth=("admin", "wrong"))).status_code == 401
            assert device.locked
            assert device.lockouts == 1
            assert (await client.get("/x", auth=("admin", "right"))).status_code == 401
            now[0] += 61
            assert not device.locked
            assert (await client.get("/x", auth=("admin", "right"))).text == "in"


async def test_a_right_password_resets_the_count_of_wrong_ones() -> None:
    async with HttpDevice(auth="basic", password="right", lockout_after=2) as device:
        device.route("GET", "/x", Response(200, "in"))
        async with httpx.AsyncClient(base_url=device.url) as client:
            await client.get("/x", auth=("admin", "wrong"))
            await client.get("/x", auth=("admin", "right"))
            await client.get("/x", auth=("admin", "wrong"))
        assert not device.locked
        assert device.failed_logins == 2


async def test_the_lockout_answer_is_the_vendors_choice() -> None:
    locked = Response(403, "<userCheck><statusValue>403</statusValue></userCheck>")
    async with HttpDevice(auth="digest", lockout_after=1, lockout_response=locked) as device:
        device.route("GET", "/x", Response(200))
        async with httpx.AsyncClient(base_url=device.url) as client:
            first = await client.get("/x", auth=httpx.DigestAuth("admin", "wrong"))
            later = await client.get("/x")
        assert first.status_code == later.status_code == 403
        assert "userCheck" in later.text


def test_the_password_is_not_in_the_repr() -> None:
    device = HttpDevice(auth="basic", password="hunter2-secret")
    assert "hunter2-secret" not in repr(device)


# -- streaming ----------------------------------------------------------------------------


async def numbered(count: int) -> AsyncIterator[bytes]:
    for number in range(count):
        yield f"part {number};".encode()


async def test_a_chunked_streaming_response_keeps_the_connection(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(200, numbered(3), content_type="text/plain")

    device.route("GET", "/events", events)
    answer = await client.get("/events")
    assert answer.headers["transfer-encoding"] == "chunked"
    assert answer.text == "part 0;part 1;part 2;"
    assert (await client.get("/events")).text == "part 0;part 1;part 2;"
    assert device.connections == 1


async def test_an_unchunked_streaming_response_ends_by_closing_the_connection(
    device: HttpDevice,
) -> None:
    async def mjpeg(request: Request) -> StreamingResponse:
        return StreamingResponse(200, numbered(2), chunked=False)

    device.route("GET", "/mjpeg", mjpeg)
    raw = await RawClient.open(device)
    raw.send(get("/mjpeg"))
    data = await raw.until_closed()
    assert b"Connection: close\r\n" in data
    assert b"Transfer-Encoding" not in data and b"Content-Length" not in data
    assert data.endswith(b"\r\n\r\npart 0;part 1;")


async def test_a_stream_waiting_for_its_next_chunk_ends_when_the_client_leaves(
    device: HttpDevice,
) -> None:
    closed = asyncio.Event()

    async def quiet() -> AsyncIterator[bytes]:
        try:
            yield b"hello"
            await asyncio.Event().wait()  # an event stream with nothing more to say
        finally:
            closed.set()

    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(200, quiet())

    device.route("GET", "/events", events)
    raw = await RawClient.open(device)
    raw.send(get("/events"))
    await raw.until_contains(b"hello")
    await raw.aclose()
    await asyncio.wait_for(closed.wait(), WAIT)
    await device.wait_until(lambda d: d.connections == 0)


async def test_a_failing_stream_cuts_the_body_short_and_the_error_is_kept(
    device: HttpDevice,
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"first;"
        raise RuntimeError("generator bug")

    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(200, broken())

    device.route("GET", "/events", events)
    raw = await RawClient.open(device)
    raw.send(get("/events"))
    data = await raw.until_closed()
    assert data.endswith(b"6\r\nfirst;\r\n")  # no last chunk: the body is incomplete
    assert [str(e) for e in device.errors] == ["generator bug"]


async def test_closing_the_device_ends_streams_and_connections() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
                await asyncio.sleep(0.01)  # the device's frame interval
        finally:
            closed.set()

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(200, endless(), chunked=False)

    device = HttpDevice()
    await device.start()
    device.route("GET", "/stream", stream)
    stalled = device.route("GET", "/stalled", Response(200, b"never")).stall_after(0)
    assert stalled.faults.stall_after == 0
    clients = [await RawClient.open(device), await RawClient.open(device)]
    clients[0].send(get("/stream"))
    clients[1].send(get("/stalled"))
    await clients[0].until(2048)
    await device.wait_until(lambda d: len(d.requests) == 2)
    await device.aclose()
    assert device.connections == 0
    assert closed.is_set()
    for raw in clients:
        await raw.until_closed()


async def test_with_a_tls_context_the_device_serves_https() -> None:
    certificate = self_signed_tls("camsdk test device", addresses=["127.0.0.1"])
    server_tls, client_tls = certificate.server, certificate.client_context()
    async with HttpDevice(tls=server_tls, auth="digest", password="pw") as device:
        device.route("GET", "/x", Response(200, "secure"))
        assert device.url.startswith("https://127.0.0.1:")
        async with httpx.AsyncClient(base_url=device.url, verify=client_tls) as client:
            answer = await client.get("/x", auth=httpx.DigestAuth("admin", "pw"))
        assert answer.text == "secure"


# -- faults -------------------------------------------------------------------------------


async def test_trickle_sends_the_response_one_byte_at_a_time_at_the_rate(
    device: HttpDevice,
) -> None:
    device.route("GET", "/x", Response(200, b"0123456789")).trickle(200)
    raw = await RawClient.open(device)
    loop = asyncio.get_running_loop()
    started = loop.time()
    raw.send(get("/x"))
    data = await raw.until_contains(b"\r\n\r\n0123456789")
    elapsed = loop.time() - started
    assert set(map(len, raw.pieces)) == {1}
    # Paced: every byte after the first waited 1/200 s (a lower bound, never a speed claim).
    assert elapsed >= (len(data) - 1) / 200
    await raw.aclose()


async def test_endless_headers_never_end_the_header_block(device: HttpDevice) -> None:
    device.route("GET", "/x", Response(200, b"body")).endless_headers()
    raw = await RawClient.open(device)
    raw.send(get("/x"))
    data = await raw.until(256 * 1024)
    assert data.startswith(b"HTTP/1.1 200 OK\r\nX-Padding-1: ")
    assert b"\r\n\r\n" not in data
    await raw.aclose()
    await device.wait_until(lambda d: d.connections == 0)


async def test_endless_headers_with_an_interval_come_one_line_at_a_time(
    device: HttpDevice,
) -> None:
    device.endless_headers(interval=0.01)
    raw = await RawClient.open(device)
    raw.send(get("/nowhere"))
    data = await raw.until_contains(b"X-Padding-3:")
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\nX-Padding-1: ")
    await raw.aclose()


async def test_content_length_declares_a_wrong_length(device: HttpDevice) -> None:
    device.route("GET", "/x", Response(200, JPEG)).content_length(10)
    raw = await RawClient.open(device)
    raw.send(get("/x"))
    data = await raw.until(len(JPEG))
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 10\r\n" in head + b"\r\n"
    assert body == JPEG
    await raw.aclose()


async def test_content_length_on_a_stream_replaces_the_chunked_framing(
    device: HttpDevice,
) -> None:
    async def events(request: Request) -> StreamingResponse:
        return StreamingResponse(200, numbered(2))

    device.route("GET", "/events", events).content_length(1 << 32)
    raw = await RawClient.open(device)
    raw.send(get("/events"))
    data = await raw.until_contains(b"part 1;")
    assert b"Content-Length: 4294967296\r\n" in data
    assert b"Transfer-Encoding" not in data
    assert data.endswith(b"\r\n\r\npart 0;part 1;")
    await raw.aclose()


async def test_stall_after_stops_sending_and_keeps_the_socket_open(device: HttpDevice) -> None:
    device.route("GET", "/x", Response(200, JPEG)).stall_after(100)
    raw = await RawClient.open(device)
    raw.send(get("/x"))
    assert len(await raw.until(100)) == 100
    assert await raw.quiet_for(0.3)
    assert len(raw.data) == 100
    assert device.connections == 1
    await raw.aclose()
    await device.wait_until(lambda d: d.connections == 0)


async def test_stall_after_zero_is_a_device_that_never_answers(device: HttpDevice) -> None:
    device.stall_after(0)
    raw = await RawClient.open(device)
    raw.send(get("/anything"))
    await device.wait_until(lambda d: len(d.requests) == 1)
    assert await raw.quiet_for(0.3)
    assert raw.data == b""
    await raw.aclose()


async def test_drop_after_closes_the_connection_after_exactly_n_bytes(
    device: HttpDevice,
) -> None:
    device.route("GET", "/x", Response(200, JPEG)).drop_after(150)
    raw = await RawClient.open(device)
    raw.send(get("/x"))
    assert len(await raw.until_closed()) == 150


async def test_split_chunks_cuts_every_write_into_pieces_of_the_given_sizes(
    device: HttpDevice,
) -> None:
    # Paced so that each piece is read before the next is written.
    device.route("GET", "/x", Response(200, JPEG[:40])).split_chunks([1, 2, 3]).trickle(5000)
    raw = await RawClient.open(device)
    raw.send(get("/x"))
    head = await raw.until_contains(JPEG[:40])
    sizes = [len(p) for p in raw.pieces]
    assert sum(sizes) == len(head)
    assert set(sizes) <= {1, 2, 3}
    assert sizes[:6] == [1, 2, 3, 1, 2, 3]
    await raw.aclose()


async def test_faults_of_a_route_win_over_the_devices_and_clear_faults_ends_them(
    device: HttpDevice, client: httpx.AsyncClient
) -> None:
    device.drop_after(0)
    route = device.route("GET", "/x", Response(200, b"whole")).drop_after(1000)
    assert (await client.get("/x")).text == "whole"
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get("/other")
    device.clear_faults()
    route.stall_after(0).clear_faults()
    assert (await client.get("/other")).status_code == 404


async def test_a_fault_on_a_streaming_response_cuts_the_stream(device: HttpDevice) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"y" * 100
            await asyncio.sleep(0)

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(200, endless(), chunked=False)

    device.route("GET", "/mjpeg", stream).drop_after(5000)
    raw = await RawClient.open(device)
    raw.send(get("/mjpeg"))
    assert len(await raw.until_closed()) == 5000


async def test_a_fault_switched_on_mid_stream_applies_from_the_next_write(
    device: HttpDevice,
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * 100
            await asyncio.sleep(0.005)  # the device's frame interval

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(200, endless(), chunked=False)

    route = device.route("GET", "/mjpeg", stream)
    raw = await RawClient.open(device)
    raw.send(get("/mjpeg"))
    await raw.until(1000)
    route.stall_after(0)  # already past: the device goes quiet at its next write
    # A piece already on its way may still land; after that, silence.
    quiet = [await raw.quiet_for(0.3) for _ in range(2)]
    assert quiet[-1]
    assert not raw.closed.is_set()
    await raw.aclose()
