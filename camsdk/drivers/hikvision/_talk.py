"""Two-way audio over ISAPI: ``/ISAPI/System/TwoWayAudio/channels/<n>``.

The device lists its talk channels with their ``audioCompressionType``;
camsdk speaks G.711 µ-law and A-law (the facade encodes PCM with PyAV).
A session is ``PUT .../open``, then ``PUT .../audioData``, then ``PUT .../close``.

The ``audioData`` exchange is not plain HTTP: the request declares
``Content-Length: 0``, the device answers ``200`` and then reads raw G.711
from the same connection for as long as it stays open. No HTTP client
library sends a body after its request has ended, so `IsapiTalk` writes
that exchange itself on its own connection to the camera URL's host (the
only host it ever contacts), answering the device's Digest or Basic
challenge with httpx's own auth flows.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import httpx

from camsdk.driver import (
    AudioFormat,
    AuthenticationError,
    CameraConnectionError,
    CameraProtocolError,
    CameraUnreachableError,
    CamError,
    DeviceError,
    get_logger,
)
from camsdk.driver import xml as x

from ._api import SCHEME, HikSession, is_unsupported
from ._documents import AUDIO_CODECS

__all__ = ["IsapiTalk", "talk_codec"]

log = get_logger("camsdk.hikvision.talk")

_TALK = "/ISAPI/System/TwoWayAudio/channels"
_SUPPORTED = frozenset({"pcm_mulaw", "pcm_alaw"})
_HEAD_LIMIT = 16 * 1024
_CLOSE_TIMEOUT = 2.0


async def talk_codec(session: HikSession, channel: int) -> str | None:
    """The G.711 codec of ``channel``'s talk path (None: the device has none for it)."""
    if session.talk_channels is None:
        found: dict[int, str] = {}
        try:
            root = await session.client.get_xml(_TALK)
        except DeviceError as exc:
            if not is_unsupported(exc):
                raise
            root = None
        except CameraProtocolError:
            root = None
        for node in x.iter_named(root, "TwoWayAudioChannel") if root is not None else ():
            ident = x.text(node, "id")
            codec = AUDIO_CODECS.get(x.text(node, "audioCompressionType").lower(), "")
            if ident.isdigit() and codec in _SUPPORTED:
                found[int(ident)] = codec
        session.talk_channels = found
    codecs = session.talk_channels
    if channel in codecs:
        return codecs[channel]
    # Single-channel cameras number their one talk channel 1 whatever the video channel.
    return next(iter(codecs.values())) if len(codecs) == 1 and channel == 1 else None


def _head(raw: bytes) -> tuple[int, httpx.Headers]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError("not an HTTP status line")
    headers = httpx.Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip()] = value.strip()
    return int(parts[1]), headers


class IsapiTalk:
    """An open talk session (the `camsdk.driver.TalkChannel` of a Hikvision channel)."""

    def __init__(self, session: HikSession, channel: int, codec: str) -> None:
        self._session = session
        self._channel = channel
        self._format = AudioFormat(codec=codec, sample_rate=8000, channels=1)
        self._writer: asyncio.StreamWriter | None = None
        self._closed = False
        #: Audio bytes written to the device.
        self.sent = 0

    @property
    def format(self) -> AudioFormat:
        """G.711 at 8 kHz, mono."""
        return self._format

    @classmethod
    async def open(cls, session: HikSession, driver: Any, codec: str) -> IsapiTalk:
        """``open`` the channel, then start the raw ``audioData`` upload."""
        talk = cls(session, driver.channel, codec)
        try:
            await talk._start(driver)
        except BaseException:
            await talk.aclose()
            raise
        return talk

    async def _start(self, driver: Any) -> None:
        client = self._session.client
        base = f"{_TALK}/{self._channel}"
        answer = await client.put_xml(base + "/open", "")
        session_id = x.text(answer, "sessionId") if answer is not None else ""
        target = base + "/audioData" + (f"?sessionId={session_id}" if session_id else "")
        url = httpx.URL(client.http.base_url)
        host, port = url.host, url.port or (443 if url.scheme == "https" else 80)
        context = None
        if url.scheme == "https":
            context = ssl.create_default_context()
            if not driver.config.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        creds = driver.login()
        errors = client.errors
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=context,
                                                           limit=_HEAD_LIMIT)
        except OSError as exc:
            raise CameraUnreachableError(f"talk: cannot connect ({type(exc).__name__})",
                                         scheme=SCHEME, url=errors.url) from exc
        self._writer = writer
        netloc = f"[{host}]" if ":" in host else host
        status, headers = await self._exchange(reader, writer, target, f"{netloc}:{port}", None)
        if status == 401 and creds is not None:
            request = httpx.Request("PUT", str(url.join(target)))
            challenges = [c.lower() for c in headers.get_list("www-authenticate")]
            password = creds.password.get_secret_value()
            auth: httpx.Auth = (
                httpx.DigestAuth(creds.username, password)
                if any(c.startswith("digest") for c in challenges)
                else httpx.BasicAuth(creds.username, password)
            )
            flow = auth.sync_auth_flow(request)
            first = next(flow)
            if "authorization" not in first.headers:
                first = flow.send(httpx.Response(401, headers=headers, request=request))
            authorization = first.headers["authorization"]
            if "close" in headers.get("connection", "").lower():
                await self._drop()
                reader, writer = await asyncio.open_connection(host, port, ssl=context,
                                                               limit=_HEAD_LIMIT)
                self._writer = writer
            status, headers = await self._exchange(reader, writer, target,
                                                   f"{netloc}:{port}", authorization)
        if status == 401:
            raise AuthenticationError("talk: the device refused the credentials (HTTP 401)",
                                      scheme=SCHEME, url=errors.url)
        if not 200 <= status < 300:
            raise DeviceError(f"talk: audioData answered HTTP {status}", scheme=SCHEME,
                              url=errors.url, code=str(status))

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        target: str, host: str, authorization: str | None,
                        ) -> tuple[int, httpx.Headers]:
        lines = [f"PUT {target} HTTP/1.1", f"Host: {host}", "User-Agent: camsdk",
                 "Content-Type: application/octet-stream", "Content-Length: 0"]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        url = self._session.client.errors.url
        try:
            await writer.drain()
            raw = await reader.readuntil(b"\r\n\r\n")
            status, headers = _head(raw)
            length = headers.get("content-length", "0").strip()
            if status == 401 and length.isdigit() and int(length) <= _HEAD_LIMIT:
                await reader.readexactly(int(length))
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, ValueError) as exc:
            raise CameraProtocolError(f"talk: malformed answer ({type(exc).__name__})",
                                      scheme=SCHEME, url=url) from exc
        except OSError as exc:
            raise CameraUnreachableError(f"talk: connection failed ({type(exc).__name__})",
                                         scheme=SCHEME, url=url) from exc
        return status, headers

    async def send(self, packet: bytes, samples: int) -> None:
        """Write one G.711 packet (the facade paces them in real time)."""
        writer = self._writer
        url = self._session.client.errors.url
        if writer is None or self._closed or writer.transport.is_closing():
            raise CameraConnectionError("talk: the device closed the audio connection",
                                        scheme=SCHEME, url=url)
        try:
            writer.write(packet)
            await writer.drain()
        except OSError as exc:
            raise CameraUnreachableError(f"talk: connection failed ({type(exc).__name__})",
                                         scheme=SCHEME, url=url) from exc
        self.sent += len(packet)

    async def _drop(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        writer.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await writer.wait_closed()
        except (TimeoutError, OSError, ssl.SSLError):
            writer.transport.abort()

    async def aclose(self) -> None:
        """Close the upload and ``close`` the channel (best effort, bounded). Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._drop()
        with contextlib.suppress(CamError, TimeoutError):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await self._session.client.put_xml(f"{_TALK}/{self._channel}/close", "")
