"""Specification of `camsdk.testing`'s RTSP server.

Independent clients (PyAV/FFmpeg in a worker thread, the ffmpeg CLI) prove
the stream is real; a minimal RTSP client over asyncio streams, written here,
makes the protocol and fault tests deterministic. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import re
import shutil
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from types import TracebackType
from typing import Any, Self

import av
import av.error
import pytest

from camsdk._media import MediaPacket, StreamInfo
from camsdk._rtsp._packetize import (
    aac_payload,
    fragment_h264,
    fragment_h265,
    split_annexb,
    split_length_prefixed,
)
from camsdk.testing._rtsp_server import EncodedLoop, RtspFault, RtspServer, generate_source

pytestmark = pytest.mark.anyio

TIMEOUT = 5.0
# 30 fps halves how long FFmpeg probes the stream on open compared with 15.
FPS = 30


@pytest.fixture(scope="module")
def h264() -> EncodedLoop:
    return generate_source(fps=FPS, gop=FPS, seconds=1.0)


@pytest.fixture(scope="module")
def h264_short() -> EncodedLoop:
    """Half a second, two keyframes: loop seams come quickly."""
    return generate_source(fps=FPS, gop=FPS // 2, seconds=0.5)


@pytest.fixture(scope="module")
def h265() -> EncodedLoop:
    return generate_source(fps=FPS, gop=FPS, seconds=1.0, codec="h265")


@pytest.fixture(scope="module")
def h264_aac() -> EncodedLoop:
    return generate_source(fps=FPS, gop=FPS, seconds=1.0, audio=True)


# -- a minimal RTSP client ---------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers[name.lower()][0]


@dataclass
class Rtp:
    channel: int
    marker: bool
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes
    raw: bytes


@dataclass
class RawRtsp:
    """Speaks just enough RTSP over asyncio streams; RTP frames are queued."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    url: str
    cseq: int = 0
    frames: deque[Rtp] = field(default_factory=deque)
    session: str | None = None

    @classmethod
    async def connect(cls, srv: RtspServer) -> RawRtsp:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", srv.port), TIMEOUT
        )
        return cls(reader, writer, srv.url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.writer.transport.abort()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(
        self, method: str, url: str | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        self.cseq += 1
        lines = [f"{method} {url or self.url} RTSP/1.0", f"CSeq: {self.cseq}"]
        if self.session and method not in ("OPTIONS", "DESCRIBE"):
            lines.append(f"Session: {self.session}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        await self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = await self.reply()
        assert reply.header("CSeq") == str(self.cseq)
        return reply

    async def reply(self) -> Reply:
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = await self._message()
                if isinstance(message, Reply):
                    return message
                self.frames.append(message)

    async def rtp(self, channel: int = 0) -> Rtp:
        """The next RTP packet on ``channel`` (RTCP and other channels skipped)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                message = self.frames.popleft() if self.frames else await self._message()
                if isinstance(message, Rtp) and message.channel == channel:
                    return message

    async def access_unit(self) -> list[Rtp]:
        """RTP packets up to and including the next marker bit on channel 0."""
        packets = [await self.rtp()]
        while not packets[-1].marker:
            packets.append(await self.rtp())
        return packets

    async def eof(self) -> int:
        """Read until the server closes; returns how many video access units came."""
        units = 0
        async with asyncio.timeout(TIMEOUT):
            try:
                while True:
                    message = self.frames.popleft() if self.frames else await self._message()
                    if isinstance(message, Rtp) and message.channel == 0 and message.marker:
                        units += 1
            except (asyncio.IncompleteReadError, ConnectionError):
                return units

    async def _message(self) -> Reply | Rtp:
        first = await self.reader.readexactly(1)
        if first == b"$":
            channel, length = struct.unpack("!BH", await self.reader.readexactly(3))
            data = await self.reader.readexactly(length)
            _, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
            return Rtp(channel, bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, data[12:], data)
        head = (first + await self.reader.readuntil(b"\r\n\r\n")).decode()
        status_line, *lines = head.split("\r\n")
        headers: dict[str, list[str]] = {}
        for line in filter(None, lines):
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(headers.get("content-length", ["0"])[0])
        body = await self.reader.readexactly(length) if length else b""
        return Reply(int(status_line.split(" ")[1]), headers, body)

    async def setup(self) -> None:
        """DESCRIBE, then SETUP the video track over TCP channels 0-1."""
        assert (await self.request("DESCRIBE")).status == 200
        reply = await self.request(
            "SETUP", f"{self.url}/trackID=0", {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}
        )
        assert reply.status == 200, reply
        self.session = reply.header("Session").split(";")[0]

    async def play(self) -> Reply:
        """DESCRIBE, SETUP, PLAY; returns the PLAY reply."""
        await self.setup()
        reply = await self.request("PLAY", headers={"Range": "npt=0.000-"})
        assert reply.status == 200, reply
        return reply


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_header(
    challenge: str, user: str, password: str, method: str, uri: str, qop: bool
) -> str:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm, nonce = params["realm"], params["nonce"]
    ha1 = md5(f"{user}:{realm}:{password}")
    ha2 = md5(f"{method}:{uri}")
    fields = f'username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    if qop:
        response = md5(f"{ha1}:{nonce}:00000001:abcdef:auth:{ha2}")
        return f'Digest {fields}, qop=auth, nc=00000001, cnonce="abcdef", response="{response}"'
    return f'Digest {fields}, response="{md5(f"{ha1}:{nonce}:{ha2}")}"'


def nal_types(unit: list[Rtp]) -> set[int]:
    """H.264 NAL unit types in one access unit (FU-A resolved to the inner type)."""
    types = set()
    for packet in unit:
        kind = packet.payload[0] & 0x1F
        types.add(packet.payload[1] & 0x1F if kind == 28 else kind)
    return types


def ts_after(later: int, earlier: int) -> bool:
    """RTP timestamp comparison modulo 2**32 (RFC 3550 serial arithmetic)."""
    return 0 < (later - earlier) % 2**32 < 2**31


# -- PyAV / FFmpeg as independent clients --------------------------------------


def pyav_read(url: str, packets: int = 20, transport: str = "tcp") -> dict[str, Any]:
    """Open ``url`` with PyAV, demux and decode until ``packets`` video packets."""
    result: dict[str, Any] = {"frames": [], "audio_frames": 0, "codecs": []}
    with av.open(url, options={"rtsp_transport": transport}, timeout=TIMEOUT) as container:
        result["codecs"] = [s.codec_context.name for s in container.streams]
        video_packets = 0
        for packet in container.demux():
            if packet.size == 0:
                continue
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    result["frames"].append((frame.width, frame.height, frame.is_corrupt))
                else:
                    result["audio_frames"] += 1
            if packet.stream.type == "video":
                video_packets += 1
                if video_packets >= packets:
                    break
    return result


def pyav_open_error(url: str) -> BaseException | None:
    try:
        with av.open(url, options={"rtsp_transport": "tcp"}, timeout=TIMEOUT):
            return None
    except av.error.FFmpegError as exc:
        return exc


def with_credentials(url: str, user: str, password: str) -> str:
    return url.replace("rtsp://", f"rtsp://{user}:{password}@", 1)


async def test_pyav_demuxes_and_decodes_h264(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        result = await asyncio.to_thread(pyav_read, srv.url, 20)
    assert result["codecs"] == ["h264"]
    assert len(result["frames"]) >= 15
    assert set(result["frames"]) == {(320, 240, False)}
    assert srv.requests[:2] == [("OPTIONS", "/stream"), ("DESCRIBE", "/stream")]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI not installed")
async def test_ffmpeg_cli_reads_a_frame(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", srv.url,
            "-frames:v", "1", "-f", "null", "-",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, stderr.decode()


async def test_h265_is_served_and_decoded(h265: EncodedLoop) -> None:
    async with RtspServer(h265) as srv:
        result = await asyncio.to_thread(pyav_read, srv.url, 10)
    assert result["codecs"] == ["hevc"]
    assert result["frames"] and set(result["frames"]) == {(320, 240, False)}


async def test_aac_audio_is_served_and_decoded(h264_aac: EncodedLoop) -> None:
    async with RtspServer(h264_aac) as srv:
        result = await asyncio.to_thread(pyav_read, srv.url, 20)
    assert result["codecs"] == ["h264", "aac"]
    assert result["audio_frames"] > 0
    assert set(result["frames"]) == {(320, 240, False)}


async def test_udp_transport_when_enabled(h264: EncodedLoop) -> None:
    async with RtspServer(h264, udp=True) as srv:
        result = await asyncio.to_thread(pyav_read, srv.url, 15, "udp")
    assert set(result["frames"]) == {(320, 240, False)}


async def test_udp_setup_gets_461_when_disabled(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        reply = await client.request(
            "SETUP", f"{srv.url}/trackID=0", {"Transport": "RTP/AVP;unicast;client_port=5000-5001"}
        )
    assert reply.status == 461


# -- authentication ------------------------------------------------------------


async def test_pyav_with_correct_credentials_plays(h264: EncodedLoop) -> None:
    async with RtspServer(h264, username="admin", password="s3cr:t") as srv:
        url = with_credentials(srv.url, "admin", "s3cr%3At")
        result = await asyncio.to_thread(pyav_read, url, 5)
    assert result["frames"]
    assert ("DESCRIBE", "/stream") in srv.requests


async def test_pyav_with_wrong_password_fails_401(h264: EncodedLoop) -> None:
    async with RtspServer(h264, username="admin", password="secret") as srv:
        error = await asyncio.to_thread(pyav_open_error, with_credentials(srv.url, "admin", "nope"))
    assert isinstance(error, av.error.HTTPUnauthorizedError)


async def test_url_and_repr_never_contain_the_password(h264: EncodedLoop) -> None:
    async with RtspServer(h264, username="admin", password="hunter2") as srv:
        assert srv.url == f"rtsp://127.0.0.1:{srv.port}/stream"
        assert "hunter2" not in repr(srv) and "hunter2" not in srv.url


@pytest.mark.parametrize("qop", [True, False], ids=["qop-auth", "no-qop"])
async def test_digest_handshake(h264: EncodedLoop, qop: bool) -> None:
    async with (
        RtspServer(h264, username="admin", password="secret") as srv,
        await RawRtsp.connect(srv) as client,
    ):
        challenge = await client.request("DESCRIBE")
        assert challenge.status == 401
        digest = next(v for v in challenge.headers["www-authenticate"] if v.startswith("Digest"))
        assert 'qop="auth"' in digest
        auth = digest_header(digest, "admin", "secret", "DESCRIBE", srv.url, qop)
        reply = await client.request("DESCRIBE", headers={"Authorization": auth})
    assert reply.status == 200
    assert reply.header("Content-Type") == "application/sdp"
    assert b"m=video 0 RTP/AVP 96" in reply.body


async def test_basic_auth_is_accepted(h264: EncodedLoop) -> None:
    async with (
        RtspServer(h264, username="admin", password="secret") as srv,
        await RawRtsp.connect(srv) as client,
    ):
        token = base64.b64encode(b"admin:secret").decode()
        reply = await client.request("DESCRIBE", headers={"Authorization": f"Basic {token}"})
    assert reply.status == 200


async def test_wrong_credentials_get_401_every_time(h264: EncodedLoop) -> None:
    async with (
        RtspServer(h264, username="admin", password="secret") as srv,
        await RawRtsp.connect(srv) as client,
    ):
        challenge = (await client.request("DESCRIBE")).header("WWW-Authenticate")
        wrong = base64.b64encode(b"admin:wrong").decode()
        for header in (
            digest_header(challenge, "admin", "wrong", "DESCRIBE", srv.url, qop=True),
            digest_header(challenge, "admin", "wrong", "DESCRIBE", srv.url, qop=False),
            digest_header(challenge, "other", "secret", "DESCRIBE", srv.url, qop=True),
            digest_header(challenge.replace('nonce="', 'nonce="00'), "admin", "secret",
                          "DESCRIBE", srv.url, qop=True),
            f"Basic {wrong}",
            "Basic !!!not-base64",
            "Bearer token",
        ):  # fmt: skip
            reply = await client.request("DESCRIBE", headers={"Authorization": header})
            assert reply.status == 401, header
        # OPTIONS stays open so clients can discover methods before authenticating.
        assert (await client.request("OPTIONS")).status == 200


# -- RTP on the wire -----------------------------------------------------------


async def test_rtp_timestamps_and_sequence_run_on_across_the_loop_seam(
    h264_short: EncodedLoop,
) -> None:
    per_loop = len(h264_short.video)
    async with RtspServer(h264_short) as srv, await RawRtsp.connect(srv) as client:
        play = await client.play()
        started = time.monotonic()
        units = [await client.access_unit() for _ in range(per_loop + 5)]
        elapsed = time.monotonic() - started
    packets = [p for unit in units for p in unit]
    assert [p.seq for p in packets] == [(packets[0].seq + i) % 65536 for i in range(len(packets))]
    stamps = [unit[0].timestamp for unit in units]
    assert all(len({p.timestamp for p in unit}) == 1 for unit in units)
    assert [(b - a) % 2**32 for a, b in itertools.pairwise(stamps)] == [90000 // FPS] * (
        len(units) - 1
    )
    # Real-time pacing: the server cannot send ahead of the clock.
    assert elapsed >= (len(units) - 1) / FPS * 0.95
    info = play.header("RTP-Info")
    assert f"seq={packets[0].seq};rtptime={stamps[0]}" in info
    assert 5 in nal_types(units[per_loop])  # the loop restarts on a keyframe


async def test_access_unit_depacketises_to_the_source_nal_units(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        await client.play()
        keyframe = await client.access_unit()
    assert all(len(p.payload) <= 1400 for p in keyframe)
    nals: list[bytes] = []
    fragmented = 0
    for packet in keyframe:
        payload = packet.payload
        if payload[0] & 0x1F != 28:
            nals.append(payload)
            continue
        fragmented += 1
        if payload[1] & 0x80:  # FU-A start: rebuild the NAL header
            nals.append(bytes([payload[0] & 0xE0 | payload[1] & 0x1F]))
        nals[-1] += payload[2:]
    assert fragmented, "an IDR frame at 320x240 exceeds one packet"
    assert nals == split_annexb(h264.video[0].data)


async def test_rtcp_sender_report_maps_the_first_rtp_timestamp(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        await client.play()
        report = await client.rtp(channel=1)  # sent just before the first RTP packet
        first = await client.rtp(channel=0)
    version, packet_type, length, ssrc, ntp_seconds, _, rtptime, _, _ = struct.unpack(
        "!BBHIIIIII", report.raw
    )
    assert (version, packet_type, length) == (0x80, 200, 6)
    assert ssrc == first.ssrc and rtptime == first.timestamp
    assert abs(ntp_seconds - 2_208_988_800 - time.time()) < 60


def slow_source() -> EncodedLoop:
    """Fake 300 kB keyframes at 30 fps: fills socket buffers in a blink."""
    start = b"\x00\x00\x00\x01"
    extradata = start + b"\x67\x42\xc0\x1e\xda" + start + b"\x68\xce"
    info = StreamInfo("h264", 320, 240, 30.0, Fraction(1, 90000), extradata=extradata)
    video = tuple(
        MediaPacket(
            start + b"\x65" + os.urandom(300_000), i * 3000, i * 3000, Fraction(1, 90000), True
        )
        for i in range(30)
    )
    return EncodedLoop(info, video)


async def test_client_that_stops_reading_is_dropped_not_buffered() -> None:
    async with RtspServer(slow_source(), max_write_buffer=64 * 1024, write_timeout=0.5) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", srv.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        async with RawRtsp(reader, writer, srv.url) as client:
            await client.setup()
            await client.send_raw(
                f"PLAY {srv.url} RTSP/1.0\r\nCSeq: 9\r\nSession: {client.session}\r\n\r\n".encode()
            )
            await asyncio.wait_for(srv.wait_sessions(1), TIMEOUT)
            await asyncio.wait_for(srv.wait_sessions(0), TIMEOUT)  # never reads a byte


def test_fragment_h264_round_trips() -> None:
    nal = bytes([0x65]) + bytes(range(256)) * 20
    parts = fragment_h264(nal, 1000)
    assert len(parts) == 6 and all(len(p) <= 1000 for p in parts)
    assert [p[1] & 0xC0 for p in parts] == [0x80, 0, 0, 0, 0, 0x40]
    assert bytes([parts[0][0] & 0xE0 | parts[0][1] & 0x1F]) + b"".join(p[2:] for p in parts) == nal
    assert fragment_h264(b"\x41small") == [b"\x41small"]


def test_fragment_h265_round_trips() -> None:
    nal = bytes([0x26, 0x01]) + bytes(range(256)) * 10  # IDR_W_RADL
    parts = fragment_h265(nal, 600)
    assert all(len(p) <= 600 for p in parts)
    assert all((p[0] >> 1) & 0x3F == 49 and p[1] == 0x01 for p in parts)
    assert parts[0][2] == 0x80 | 19 and parts[-1][2] == 0x40 | 19
    assert nal[:2] + b"".join(p[3:] for p in parts) == nal


def test_aac_payload_has_one_au_header_and_strips_adts() -> None:
    frame = bytes(range(100))
    adts = bytes([0xFF, 0xF1, 0x50, 0x80, 0x0E, 0x7F, 0xFC])
    for data in (frame, adts + frame):
        assert aac_payload(data) == struct.pack("!HH", 16, 100 << 3) + frame


def test_nal_splitting() -> None:
    stream = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x01\x65\xcc\xdd"
    assert split_annexb(stream) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc\xdd"]
    prefixed = b"\x00\x00\x00\x02\x67\xaa\x00\x00\x00\x01\x68"
    assert split_length_prefixed(prefixed) == [b"\x67\xaa", b"\x68"]
    with pytest.raises(ValueError):
        split_length_prefixed(b"\x00\x00\x00\x09\x67")


def test_generated_source_is_a_keyframe_first_loop_in_90khz(h264_short: EncodedLoop) -> None:
    video = h264_short.video
    assert len(video) == FPS // 2
    assert [p.keyframe for p in video] == [i % (FPS // 2) == 0 for i in range(FPS // 2)]
    assert [p.pts for p in video] == [i * 90000 // FPS for i in range(FPS // 2)]
    assert all(p.dts == p.pts for p in video)  # no B-frames
    extradata = h264_short.info.extradata or b""
    assert {n[0] & 0x1F for n in split_annexb(extradata)} >= {7, 8}
    assert {n[0] & 0x1F for n in split_annexb(video[0].data)} >= {7, 8, 5}  # in-band too


async def test_sdp_describes_h265_and_aac(h265: EncodedLoop, h264_aac: EncodedLoop) -> None:
    async with RtspServer(h265) as srv, await RawRtsp.connect(srv) as client:
        hevc_sdp = (await client.request("DESCRIBE")).body.decode()
    async with RtspServer(h264_aac) as srv, await RawRtsp.connect(srv) as client:
        reply = await client.request("DESCRIBE")
        aac_sdp = reply.body.decode()
        assert reply.header("Content-Base") == srv.url + "/"
    assert "a=rtpmap:96 H265/90000" in hevc_sdp
    assert all(f"sprop-{name}=" in hevc_sdp for name in ("vps", "sps", "pps"))
    assert "packetization-mode=1;profile-level-id=" in aac_sdp
    assert "sprop-parameter-sets=" in aac_sdp
    assert "a=rtpmap:97 MPEG4-GENERIC/48000/1" in aac_sdp
    assert "mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=" in aac_sdp


# -- sessions and lifecycle ------------------------------------------------------


async def test_sessions_count_playing_clients_and_teardown_ends_them(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        assert srv.sessions == 0
        play = await client.play()
        assert re.fullmatch(r"[0-9a-f]+;timeout=60", play.header("Session"))
        await asyncio.wait_for(srv.wait_sessions(1), TIMEOUT)
        assert (await client.request("TEARDOWN")).status == 200
        assert srv.sessions == 0
        assert (await client.request("PLAY")).status == 454


async def test_pause_stops_media_and_play_resumes_later(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        await client.play()
        before = await client.access_unit()
        assert (await client.request("PAUSE")).status == 200
        client.frames.clear()  # all media sent before the PAUSE reply
        assert srv.sessions == 0
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await client.rtp()
        assert (await client.request("PLAY")).status == 200
        after = await client.access_unit()
    assert ts_after(after[0].timestamp, before[0].timestamp)
    assert 5 in nal_types(after)


async def test_cseq_is_echoed_and_keepalive_answered(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        client.cseq = 41
        reply = await client.request("OPTIONS")
        assert "GET_PARAMETER" in reply.header("Public")
        assert (await client.request("GET_PARAMETER")).status == 200


async def test_lifecycle_errors(h264: EncodedLoop) -> None:
    srv = RtspServer(h264)
    with pytest.raises(RuntimeError):
        _ = srv.url
    await srv.start()
    with pytest.raises(RuntimeError):
        await srv.start()
    await srv.aclose()
    await srv.aclose()
    with pytest.raises(RuntimeError):
        await srv.start()
    with pytest.raises(RuntimeError):
        await srv.wait_ready()


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        (RtspFault.STALL, {"drop_after": 3}),
        (RtspFault.DROP, {"fraction": 0.5}),
        (RtspFault.DROP, {"drop_after": -1}),
        (RtspFault.CORRUPT, {"fraction": 1.5}),
        (RtspFault.RESTART, {"delay": -1.0}),
    ],
)
def test_inject_rejects_options_that_do_not_fit(
    h264: EncodedLoop, fault: RtspFault, options: dict[str, Any]
) -> None:
    srv = RtspServer(h264)
    with pytest.raises(ValueError):
        srv.inject(fault, **options)
    assert srv.faults == frozenset()


async def test_aclose_leaves_no_tasks_and_no_sockets(h264: EncodedLoop) -> None:
    import psutil

    before = asyncio.all_tasks()
    srv = RtspServer(h264)
    await srv.start()
    port = srv.port
    playing = await RawRtsp.connect(srv)
    idle = await RawRtsp.connect(srv)
    await playing.play()
    await playing.rtp()
    await idle.request("OPTIONS")
    await srv.aclose()
    assert asyncio.all_tasks() - before == set()
    server_side = [
        c for c in psutil.Process().net_connections("tcp") if c.laddr and c.laddr.port == port
    ]
    assert server_side == []
    await playing.eof()
    assert await idle.eof() == 0
    for client in (playing, idle):
        await client.__aexit__(None, None, None)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_vanished_client_leaves_no_tasks(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        baseline = asyncio.all_tasks()
        client = await RawRtsp.connect(srv)
        await client.play()
        await client.rtp()
        client.writer.transport.abort()  # no TEARDOWN, no FIN handshake courtesy
        await asyncio.wait_for(srv.wait_sessions(0), TIMEOUT)
        leftover = asyncio.all_tasks() - baseline
        if leftover:
            await asyncio.wait(leftover, timeout=TIMEOUT)
        assert all(t.done() for t in leftover)
        await client.__aexit__(None, None, None)


# -- malformed input ---------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"OPTIONS rtsp://x/stream HTTP/1.1\r\nCSeq: 1\r\n\r\n",
        b"OPTIONS rtsp://x/stream RTSP/1.0\r\n\r\n",
        b"OPTIONS rtsp://x/stream RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n",
        b"\xff\xfe\x00\x01 \xc3\x28 RTSP/1.0\r\nCSeq: 1\r\n\r\n",
    ],
    ids=["no-request-line", "http-version", "no-cseq", "bad-header", "binary"],
)
async def test_malformed_request_gets_400_and_connection_keeps_working(
    h264: EncodedLoop, garbage: bytes
) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        await client.send_raw(garbage)
        assert (await client.reply()).status == 400
        await client.play()
        assert (await client.rtp()).payload


async def test_oversized_or_unframeable_requests_get_400_and_close(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        for junk in (
            b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: " + b"a" * 40000 + b"\r\n\r\n",
            b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -5\r\n\r\n",
        ):
            async with await RawRtsp.connect(srv) as client:
                await client.send_raw(junk)
                assert (await client.reply()).status == 400
                assert await client.eof() == 0
        async with await RawRtsp.connect(srv) as client:
            assert (await client.request("OPTIONS")).status == 200


async def test_unknown_method_and_path(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        assert (await client.request("RECORD")).status == 501
        assert (
            await client.request("DESCRIBE", srv.url.replace("/stream", "/other"))
        ).status == 404
        setup = await client.request(
            "SETUP", f"{srv.url}/trackID=7", {"Transport": "RTP/AVP/TCP;interleaved=0-1"}
        )
        assert setup.status == 404


# -- faults ------------------------------------------------------------------


async def test_refuse_closes_connections_on_accept(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        srv.inject(RtspFault.REFUSE)
        async with await RawRtsp.connect(srv) as client:
            assert await client.eof() == 0
        assert await asyncio.to_thread(pyav_open_error, srv.url) is not None
        srv.clear_faults()
        async with await RawRtsp.connect(srv) as client:
            assert (await client.request("OPTIONS")).status == 200


async def test_black_hole_accepts_but_never_answers(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        srv.inject(RtspFault.BLACK_HOLE)
        async with await RawRtsp.connect(srv) as client:
            await client.send_raw(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.reader.read(1), 0.3)
        srv.clear_faults(RtspFault.BLACK_HOLE)
        async with await RawRtsp.connect(srv) as client:
            assert (await client.request("OPTIONS")).status == 200


async def test_stall_stops_media_but_keeps_the_connection(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        await client.play()
        before = await client.access_unit()
        srv.inject(RtspFault.STALL)
        # TCP keeps order: whatever precedes this reply was sent before the stall.
        assert (await client.request("GET_PARAMETER")).status == 200
        client.frames.clear()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await client.rtp()
        assert (await client.request("GET_PARAMETER")).status == 200
        srv.clear_faults()
        after = await client.access_unit()
    assert ts_after(after[0].timestamp, before[0].timestamp)
    assert 5 in nal_types(after)  # resumes on a keyframe


async def test_stall_injected_before_play(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        srv.inject(RtspFault.STALL)
        await client.play()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await client.rtp()
        assert srv.faults == {RtspFault.STALL}


async def test_drop_now_closes_live_connections(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        await client.play()
        await client.rtp()
        srv.inject(RtspFault.DROP)
        await client.eof()
        await asyncio.wait_for(srv.wait_sessions(0), TIMEOUT)


async def test_drop_after_n_packets(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        srv.inject(RtspFault.DROP, drop_after=4)
        async with await RawRtsp.connect(srv) as client:
            await client.play()
            assert await client.eof() == 4


async def test_restart_closes_everything_and_listens_again(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        port = srv.port
        async with await RawRtsp.connect(srv) as client:
            await client.play()
            await client.rtp()
            srv.inject(RtspFault.RESTART, delay=0.5)
            await client.eof()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        await asyncio.wait_for(srv.wait_ready(), TIMEOUT)
        assert srv.port == port
        async with await RawRtsp.connect(srv) as client:
            await client.play()
            assert (await client.rtp()).payload


async def test_corrupt_changes_payloads_but_not_their_headers(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        async with await RawRtsp.connect(srv) as client:
            await client.play()
            clean = await client.access_unit()
        srv.inject(RtspFault.CORRUPT, fraction=1.0)
        async with await RawRtsp.connect(srv) as client:
            await client.play()
            corrupt = await client.access_unit()
    assert len(clean) == len(corrupt)
    for good, bad in zip(clean, corrupt, strict=True):
        header = 2 if good.payload[0] & 0x1F == 28 else 1
        assert good.payload[:header] == bad.payload[:header]
        assert good.payload != bad.payload


async def test_bad_sdp_makes_pyav_fail(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        srv.inject(RtspFault.BAD_SDP)
        async with await RawRtsp.connect(srv) as client:
            reply = await client.request("DESCRIBE")
        assert reply.status == 200 and b"m=" not in reply.body
        assert await asyncio.to_thread(pyav_open_error, srv.url) is not None


async def test_unauthorized_fault_rejects_good_credentials(h264: EncodedLoop) -> None:
    async with RtspServer(h264, username="admin", password="secret") as srv:
        srv.inject(RtspFault.UNAUTHORIZED)
        url = with_credentials(srv.url, "admin", "secret")
        error = await asyncio.to_thread(pyav_open_error, url)
        assert isinstance(error, av.error.HTTPUnauthorizedError)
        srv.clear_faults()
        assert (await asyncio.to_thread(pyav_read, url, 1))["frames"]


async def test_service_unavailable_fault_answers_describe_503(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv:
        srv.inject(RtspFault.SERVICE_UNAVAILABLE)
        async with await RawRtsp.connect(srv) as client:
            assert (await client.request("DESCRIBE")).status == 503
        error = await asyncio.to_thread(pyav_open_error, srv.url)
        assert isinstance(error, av.error.HTTPServerError)


async def test_session_not_found_fault_answers_play_454(h264: EncodedLoop) -> None:
    async with RtspServer(h264) as srv, await RawRtsp.connect(srv) as client:
        srv.inject(RtspFault.SESSION_NOT_FOUND)
        await client.setup()
        assert (await client.request("PLAY")).status == 454
        assert srv.sessions == 0
