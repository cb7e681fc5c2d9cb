"""`DeviceHttpClient` streams request bodies (two-way audio) with its errors and deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from camsdk.driver import (
    CameraConfig,
    CameraConnectionError,
    CameraProtocolError,
    CameraTimeoutError,
    Credentials,
    DeviceHttpClient,
)
from camsdk.testing import HttpDevice, Request, Response

from ._helpers import client_for

pytestmark = pytest.mark.anyio

AUDIO = [bytes([n]) * 160 for n in range(50)]  # one second of 20 ms G.711 packets


class Microphone:
    """An async iterable of audio packets that counts how often it is read."""

    def __init__(self, packets: list[bytes], *, fail: Exception | None = None) -> None:
        self.packets = packets
        self.fail = fail
        self.reads = 0

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._play()

    async def _play(self) -> AsyncIterator[bytes]:
        self.reads += 1
        for packet in self.packets:
            await asyncio.sleep(0)
            yield packet
        if self.fail is not None:
            raise self.fail


def _recorder(received: list[Request]) -> object:
    async def handle(request: Request) -> Response:
        received.append(request)
        return Response(200, b"OK")

    return handle


async def test_a_streamed_body_arrives_whole_and_chunked() -> None:
    received: list[Request] = []
    async with HttpDevice() as device, client_for(device) as client:
        device.route("POST", "/cgi-bin/audio.cgi", _recorder(received))  # type: ignore[arg-type]
        with anyio.fail_after(10):
            answer = await client.post("/cgi-bin/audio.cgi", content=Microphone(AUDIO),
                                       headers={"Content-Type": "Audio/G.711A"})
    assert answer.status == 200
    [request] = received
    assert request.body == b"".join(AUDIO)
    assert request.headers["transfer-encoding"] == "chunked"


async def test_a_streamed_body_with_a_declared_length_is_not_chunked() -> None:
    received: list[Request] = []
    body = b"".join(AUDIO)
    async with HttpDevice() as device, client_for(device) as client:
        device.route("PUT", "/upload", _recorder(received))  # type: ignore[arg-type]
        with anyio.fail_after(10):
            await client.request("PUT", "/upload", content=Microphone(AUDIO),
                                 headers={"Content-Length": str(len(body))})
    assert received[0].body == body and "transfer-encoding" not in received[0].headers


async def test_the_challenge_is_learnt_first_so_the_stream_is_sent_once_signed() -> None:
    received: list[Request] = []
    mic = Microphone(AUDIO)
    async with (
        HttpDevice(auth="digest", username="admin", password="pw-talk-1") as device,
        client_for(device, credentials=Credentials("admin", "pw-talk-1")) as client,
    ):
        device.route("*", "/cgi-bin/audio.cgi", _recorder(received))  # type: ignore[arg-type]
        with anyio.fail_after(10):
            await client.post("/cgi-bin/audio.cgi", content=mic)
    assert [r.method for r in device.requests] == ["HEAD", "HEAD", "POST"]
    assert [r.method for r in received] == ["HEAD", "POST"]
    assert received[-1].body == b"".join(AUDIO)
    assert mic.reads == 1 and device.failed_logins == 0


async def _expire_our_nonce(device: HttpDevice) -> None:
    """Others' unauthenticated requests push the client's nonce out of the device's memory."""
    async with httpx.AsyncClient(base_url=device.url) as stranger:
        for _ in range(300):
            await stranger.get("/other")


async def _stale_upload(packets: list[bytes]) -> tuple[list[Request], Microphone]:
    received: list[Request] = []
    mic = Microphone(packets)
    async with (
        HttpDevice(auth="digest", username="admin", password="pw-talk-1",
                   max_request_body=4 * 1024 * 1024) as device,
        client_for(device, credentials=Credentials("admin", "pw-talk-1")) as client,
    ):
        device.route("*", "/talk", _recorder(received))  # type: ignore[arg-type]
        device.route("GET", "/other", Response(200))
        with anyio.fail_after(20):
            await client.get("/talk")
            await _expire_our_nonce(device)
            try:
                await client.post("/talk", content=mic)
            finally:
                assert device.failed_logins == 0
    return received, mic


async def test_a_stream_refused_as_stale_is_sent_again_whole() -> None:
    received, mic = await _stale_upload(AUDIO)
    assert received[-1].method == "POST" and received[-1].body == b"".join(AUDIO)
    assert mic.reads == 1  # the second send came from the replay buffer


async def test_a_stream_refused_after_its_replay_buffer_is_a_protocol_error() -> None:
    big = [b"\x55" * 65536] * 5  # more than the 256 KiB kept for a second send
    with pytest.raises(CameraProtocolError, match="cannot be sent again"):
        await _stale_upload(big)


async def _raw_device(on_connect: object) -> asyncio.Server:
    return await asyncio.start_server(on_connect, "127.0.0.1", 0)  # type: ignore[arg-type]


async def test_a_device_that_stops_reading_is_a_timeout_within_the_deadline() -> None:
    connected: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.append(writer)

    server = await _raw_device(never_read)
    port = server.sockets[0].getsockname()[1]
    endless = Microphone([b"\x00" * 65536] * 2000)  # 128 MB: far beyond any socket buffer
    try:
        async with DeviceHttpClient(
            base_url=f"http://127.0.0.1:{port}", scheme="acme", shown_url="acme://127.0.0.1",
            config=CameraConfig(connect_timeout=1.0, request_timeout=1.0),
        ) as client:
            started = time.monotonic()
            with anyio.fail_after(20), pytest.raises(CameraTimeoutError):
                await client.post("/talk", content=endless)
            assert time.monotonic() - started < 10
    finally:
        for writer in connected:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


async def test_a_device_that_hangs_up_mid_upload_is_a_connection_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.transport.abort()

    server = await _raw_device(hang_up)
    port = server.sockets[0].getsockname()[1]
    try:
        async with DeviceHttpClient(
            base_url=f"http://127.0.0.1:{port}", scheme="acme", shown_url="acme://127.0.0.1",
            config=CameraConfig(connect_timeout=2.0, request_timeout=2.0),
        ) as client:
            with anyio.fail_after(20), pytest.raises(CameraConnectionError):
                await client.post("/talk", content=Microphone([b"\x00" * 65536] * 200))
    finally:
        server.close()
        await server.wait_closed()


async def test_a_failure_of_the_callers_own_stream_reaches_the_caller() -> None:
    async with HttpDevice() as device, client_for(device) as client:
        device.route("POST", "/talk", Response(200))
        with anyio.fail_after(10), pytest.raises(RuntimeError, match="microphone unplugged"):
            await client.post("/talk", content=Microphone(
                AUDIO[:3], fail=RuntimeError("microphone unplugged")))
