"""A small asyncio HTTP server that publishes HLS segments live, for the HLS tests.

Segments are made once with the ffmpeg CLI (see ``make_segments``): MPEG-TS,
or fMP4 (an ``init.mp4`` plus ``.m4s`` fragments). The server reveals them
on the clock: at start ``window`` segments are listed, one more every
segment duration, and ``#EXT-X-ENDLIST`` appears once all are out (or at
once with ``vod=True``). With ``loop=True`` it never ends: segment ``i``
serves file ``i % n`` and an ``#EXT-X-DISCONTINUITY`` precedes every lap
(the timestamps jump back, as after a camera restart). With ``key=`` every
segment is AES-128 encrypted (the media sequence number is the IV) and the
key is served at ``/key.bin``.

Paths: ``/live.m3u8`` (media playlist), ``/master.m3u8`` (two variants,
``/hi/live.m3u8`` and ``/lo/live.m3u8``, serving the same segments),
``/segNNN.ts`` or ``/segNNN.m4s`` (``NNN``: media sequence number),
``/init.mp4``, ``/key.bin``. Optional Basic auth.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self


def make_segments(
    directory: Path,
    *,
    seconds: float = 8.0,
    audio: bool = False,
    fmp4: bool = False,
    codec: str = "h264",
    size: str = "320x240",
    segment_seconds: float = 0.5,
) -> Path:
    """Encode a 30 fps clip into short HLS segments (GOP 0.5 s); return the playlist."""
    directory.mkdir(parents=True, exist_ok=True)
    playlist = directory / "index.m3u8"
    if playlist.exists():
        return playlist
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
           "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    cmd += ["-t", str(seconds)]
    if codec == "hevc":
        cmd += ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-x265-params",
                "log-level=error:keyint=15:min-keyint=15:scenecut=0:bframes=0"]
    else:
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-keyint_min", "15",
                "-sc_threshold", "0", "-bf", "0"]
    cmd += ["-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac", "-ac", "1"]
    cmd += ["-f", "hls", "-hls_time", str(segment_seconds), "-hls_list_size", "0"]
    if fmp4:
        cmd += ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
                "-hls_segment_filename", str(directory / "seg%03d.m4s")]
    else:
        cmd += ["-hls_segment_filename", str(directory / "seg%03d.ts")]
    subprocess.run([*cmd, str(playlist)], check=True, timeout=120)
    return playlist


def encrypt_aes128(data: bytes, key: bytes, sequence: int) -> bytes:
    """AES-128-CBC with PKCS#7 padding, the media sequence number as IV (RFC 8216 5.2)."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(sequence.to_bytes(16, "big"))).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


class HlsServer:
    """Serves one segment set as a live or VOD playlist on 127.0.0.1."""

    def __init__(
        self,
        playlist: Path,
        *,
        vod: bool = False,
        window: int = 3,
        username: str | None = None,
        password: str | None = None,
        loop: bool = False,
        key: bytes | None = None,
    ) -> None:
        text = playlist.read_text()
        self._segments: list[tuple[float, bytes]] = []
        durations = [float(m) for m in re.findall(r"#EXTINF:([0-9.]+)", text)]
        names = [line for line in text.splitlines() if line and not line.startswith("#")]
        for duration, name in zip(durations, names, strict=True):
            self._segments.append((duration, (playlist.parent / name).read_bytes()))
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text)
        self._init = (playlist.parent / init.group(1)).read_bytes() if init else None
        self._extension = ".m4s" if self._init is not None else ".ts"
        self._vod = vod
        self._window = window
        self._loop = loop
        self._key = key
        self._auth = (
            "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
            if username is not None else None
        )
        self._server: asyncio.Server | None = None
        self._started = 0.0
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        #: Paths requested, in order.
        self.requests: list[str] = []

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/live.m3u8", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._started = time.monotonic()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def _published(self) -> int:
        if self._vod:
            return len(self._segments)
        step = self._segments[0][0]
        due = self._window + int((time.monotonic() - self._started) / step)
        return due if self._loop else min(len(self._segments), due)

    def _media_playlist(self) -> bytes:
        count = self._published()
        first = 0 if self._vod else max(0, count - self._window)
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:1",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}",
                 f"#EXT-X-DISCONTINUITY-SEQUENCE:{first // len(self._segments)}"]
        if self._vod:
            lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
        if self._init is not None:
            lines.append('#EXT-X-MAP:URI="/init.mp4"')
        if self._key is not None:
            lines.append('#EXT-X-KEY:METHOD=AES-128,URI="/key.bin"')
        n = len(self._segments)
        for index in range(first, count):
            if index % n == 0 and index > first:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{self._segments[index % n][0]:.3f},",
                      f"/seg{index:03d}{self._extension}"]
        if self._vod or (not self._loop and count == n):
            lines.append("#EXT-X-ENDLIST")
        return ("\n".join(lines) + "\n").encode()

    def _respond(self, path: str) -> tuple[int, str, bytes]:
        if path in ("/live.m3u8", "/hi/live.m3u8", "/lo/live.m3u8"):
            return 200, "application/vnd.apple.mpegurl", self._media_playlist()
        if path == "/master.m3u8":
            body = ("#EXTM3U\n"
                    '#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=320x240\nhi/live.m3u8\n'
                    '#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=160x120\nlo/live.m3u8\n')
            return 200, "application/vnd.apple.mpegurl", body.encode()
        if path == "/init.mp4" and self._init is not None:
            return 200, "video/mp4", self._init
        if path == "/key.bin" and self._key is not None:
            return 200, "application/octet-stream", self._key
        match = re.fullmatch(r"/seg(\d{3,})(\.ts|\.m4s)", path)
        if match and match.group(2) == self._extension and int(match.group(1)) < self._published():
            index = int(match.group(1))
            body = self._segments[index % len(self._segments)][1]
            if self._key is not None:
                body = encrypt_aes128(body, self._key, index)
            return 200, "video/mp2t" if self._init is None else "video/iso.segment", body
        return 404, "text/plain", b"not found"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if ":" in line)}
                self.requests.append(path)
                if self._auth is not None and headers.get("authorization") != self._auth:
                    status, kind, body = 401, "text/plain", b"unauthorized"
                    extra = 'WWW-Authenticate: Basic realm="camsdk"\r\n'
                else:
                    status, kind, body = self._respond(path)
                    extra = ""
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\n{extra}"
                    f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._handlers.discard(task)
