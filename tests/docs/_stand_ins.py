"""What stands in for the devices, services and names the docs' snippets assume.

Placeholder hosts: a string in a snippet that is a URL whose host is a
placeholder (``192.168.x.y``, ``10.x.y.z``, ``192.0.2.x``, ``*.local``,
``console``, ``nvr``, ``*.example.com``) is pointed at a simulator on
127.0.0.1, started the first time a page needs it and shared by the page's
blocks (path and query are kept):

=================  =========================================================
``rtsp://``        `camsdk.testing.RtspServer`, any path
``onvif://``       `camsdk.testing.OnvifDevice`
``hikvision://``   `camsdk.testing.HikvisionDevice` (an NVR, 2 channels)
``dahua://``       `camsdk.testing.DahuaDevice` (an NVR, 2 channels, PTZ, talk)
``reolink://``     `camsdk.testing.ReolinkDevice`
``unifi://``       `camsdk.testing.UnifiConsole` (cameras "Front Door", MAC
                   F4E2C6000000, and two more; API key `UNIFI_API_KEY`)
``tapo://``        `camsdk.testing.TapoDevice` (camera account ``viewer``)
``http(s)://``     `camsdk.testing.HttpDevice`: JPEG stills on paths naming a
                   capture/snapshot/``.jpg``, MJPEG on others, any POST accepted
                   (a webhook receiver); ``https`` becomes ``http``
``file://``        a generated clip, when the path does not exist
=================  =========================================================

Every simulator's account is ``admin`` / ``secret`` (what the docs write).
Environment variables a snippet names for a password (``*PASSWORD*``,
``*_PW``) are set to ``secret`` while its page runs (`password_variables`).
A bare placeholder host (``"mqtt.local"``) is the MQTT broker: a mosquitto
started for the page; the call naming it also gets ``port=``.

`GIVEN` holds the names a page may use without defining them.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import functools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import av
import numpy as np
import pytest

import camsdk
from camsdk.sinks.webhook import WebhookSink
from camsdk.testing import (
    DahuaDevice,
    EncodedLoop,
    HikvisionDevice,
    HttpDevice,
    OnvifDevice,
    ReolinkDevice,
    Request,
    Response,
    RtspServer,
    StreamingResponse,
    TapoDevice,
    UnifiConsole,
    generate_source,
)
from camsdk.testing._rtsp_server import RtspQuirks

USER, PASSWORD = "admin", "secret"
UNIFI_API_KEY = "unifi-api-key"

PLACEHOLDER_HOST = re.compile(
    r"(192\.168\.\d{1,3}\.\d{1,3}|10\.\d{1,3}\.\d{1,3}\.\d{1,3}|192\.0\.2\.\d{1,3}"
    r"|[\w-]+\.local|console|nvr|camera|([\w-]+\.)*example\.(com|org|net))",
    re.IGNORECASE,
)
#: A bare host name in a string (not a URL) can only be the MQTT broker.
BROKER_HOST = re.compile(r"[\w-]+\.local|192\.168\.\d{1,3}\.\d{1,3}", re.IGNORECASE)
_URL = re.compile(
    r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<userinfo>[^@/?#]*@)?(?P<host>[^:/?#]+)"
    r"(?::(?P<port>\d+))?(?P<rest>[/?#].*)?$",
    re.IGNORECASE | re.DOTALL,
)


@functools.cache
def media_loop() -> EncodedLoop:
    """A short H.264 loop for the RTSP stand-in (encoded once per test session)."""
    return generate_source(320, 240, fps=15, gop=15, seconds=1.0)


@functools.cache
def jpeg() -> bytes:
    """A small real JPEG."""
    frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 96, np.uint8), format="rgb24")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = 160, 120, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    packets = codec.encode(frame.reformat(format="yuvj420p")) + codec.encode(None)
    return b"".join(bytes(p) for p in packets)


def clip(path: Path) -> Path:
    """Write a 2-second H.264 MP4 to ``path`` (for ``file://`` snippets)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(20):
            pixels = np.full((120, 160, 3), (i * 10) % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


async def _mjpeg(request: Request) -> Response | StreamingResponse:
    path = request.path.lower()
    if path.endswith((".jpg", ".jpeg", ".cgi")) or any(
        word in path for word in ("capture", "snapshot", "picture")
    ):
        return Response(200, jpeg(), content_type="image/jpeg")

    async def parts() -> AsyncIterator[bytes]:
        for _ in range(600):  # two minutes at most: every loop ends by itself
            yield b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg() + b"\r\n"
            await asyncio.sleep(0.2)  # pacing a 5 fps camera, not synchronisation

    return StreamingResponse(
        200, parts(), content_type="multipart/x-mixed-replace; boundary=frame", chunked=False
    )


class NoStandIn(LookupError):
    """A placeholder URL of a scheme no simulator stands in for."""


class StandIns:
    """The simulators of one page: started on first use, closed with the page."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.stack = contextlib.AsyncExitStack()
        self._started: dict[str, str] = {}  # scheme -> "127.0.0.1:port"
        self._query: dict[str, str] = {}  # scheme -> query the simulator's URL needs
        self.received: list[Request] = []  # POSTs to the http stand-in
        self.broker: Any = None

    async def aclose(self) -> None:
        """Close every simulator of the page."""
        await self.stack.aclose()

    async def _enter(self, device: Any) -> Any:
        return await self.stack.enter_async_context(device)

    async def _address(self, scheme: str) -> str | None:
        if scheme in self._started:
            return self._started[scheme]
        port: int | None = None
        if scheme == "rtsp":
            server = RtspServer(media_loop(), path="/", quirks=RtspQuirks(control="path"))
            port = (await self._enter(server)).port
        elif scheme == "onvif":
            onvif = await self._enter(OnvifDevice(username=USER, password=PASSWORD))
            port = onvif.port
        elif scheme == "hikvision":
            hik = HikvisionDevice(username=USER, password=PASSWORD, kind="nvr", channels=2)
            port = (await self._enter(hik)).http.port
        elif scheme == "dahua":
            dahua = DahuaDevice(
                kind="nvr", channels=2, username=USER, password=PASSWORD, ptz=True, talk=True
            )
            port = (await self._enter(dahua)).http.port
        elif scheme == "reolink":
            port = (await self._enter(ReolinkDevice(username=USER, password=PASSWORD))).port
        elif scheme == "unifi":
            console = UnifiConsole(username=USER, password=PASSWORD, api_key=UNIFI_API_KEY)
            port = (await self._enter(console)).port
        elif scheme == "tapo":
            tapo = TapoDevice(
                username=USER, password=PASSWORD, stream_user="viewer", stream_password=PASSWORD
            )
            await self._enter(tapo)
            port = tapo.port
            self._query[scheme] = urlsplit(tapo.url).query  # its RTSP and ONVIF ports
        elif scheme in ("http", "https"):
            http = HttpDevice()
            http.route("GET", "/", _mjpeg, prefix=True)

            async def receive(request: Request) -> Response:
                self.received.append(request)
                return Response(200, b"ok")

            http.route("POST", "/", receive, prefix=True)
            port = (await self._enter(http)).port
            self._started["http"] = self._started["https"] = f"127.0.0.1:{port}"
        if port is None:
            return None
        self._started.setdefault(scheme, f"127.0.0.1:{port}")
        return self._started[scheme]

    async def replacement(self, text: str) -> str | None:
        """What a placeholder URL string of a snippet becomes, or None to keep it."""
        if text.startswith("file://"):
            parts = urlsplit(text)
            if Path(parts.path).exists():
                return None
            made = clip(self.tmp / (Path(parts.path).name or "clip.mp4"))
            return f"file://{made}" + (f"?{parts.query}" if parts.query else "")
        match = _URL.match(text)
        if match is None:
            return None
        scheme = match.group("scheme").lower()
        if not PLACEHOLDER_HOST.fullmatch(match.group("host")):
            return None
        address = await self._address(scheme)
        if address is None:
            raise NoStandIn(
                f"no simulator stands in for {scheme}:// (in {text!r}): mark the block "
                "needs-device (why), or add one to tests/docs/_stand_ins.py"
            )
        if scheme == "https":
            scheme = "http"
        new = f"{scheme}://{match.group('userinfo') or ''}{address}{match.group('rest') or ''}"
        extra = self._query.get(match.group("scheme").lower())
        if extra:
            new += ("&" if "?" in new else "?") + extra
        return new

    async def broker_port(self) -> int:
        """The page's mosquitto (for bare placeholder hosts such as "mqtt.local")."""
        if self.broker is None:
            from tests.events.conftest import MOSQUITTO_MISSING, launcher

            if MOSQUITTO_MISSING:
                pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
            broker = launcher.Mosquitto()
            await asyncio.to_thread(broker.start)
            self.stack.callback(broker.close)
            self.broker = broker
        port: int = self.broker.port
        return port


class _Substitute(ast.NodeTransformer):
    """Replace string constants by their stand-ins; calls naming the broker get ``port=``."""

    def __init__(self, urls: dict[str, str], broker_port: int | None) -> None:
        self.urls = urls
        self.broker_port = broker_port

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) and node.value in self.urls:
            return ast.copy_location(ast.Constant(self.urls[node.value]), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        names_broker = any(
            isinstance(a, ast.Constant) and isinstance(a.value, str)
            and BROKER_HOST.fullmatch(a.value)
            for a in [*node.args, *(k.value for k in node.keywords)]
        )  # fmt: skip
        self.generic_visit(node)
        if names_broker and self.broker_port is not None:
            node.keywords = [k for k in node.keywords if k.arg != "port"]
            node.keywords.append(ast.keyword("port", ast.Constant(self.broker_port)))
        return node


async def substitute(tree: ast.Module, stand_ins: StandIns) -> ast.Module:
    """Point ``tree``'s placeholder URLs and broker host at the page's stand-ins."""
    urls: dict[str, str] = {}
    bare_host = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if BROKER_HOST.fullmatch(node.value):
                bare_host = True
                urls[node.value] = "127.0.0.1"
            elif "://" in node.value:
                new = await stand_ins.replacement(node.value)
                if new is not None:
                    urls[node.value] = new
    port = await stand_ins.broker_port() if bare_host else None
    return ast.fix_missing_locations(_Substitute(urls, port).visit(tree))


async def _camera(stand_ins: StandIns) -> camsdk.Camera:
    cam = camsdk.open("virtual://porch?size=320x240&fps=10")
    return await stand_ins.stack.enter_async_context(cam)


def _webhook_body() -> bytes:
    event = camsdk.CameraEvent(kind=camsdk.EventKind.DOORBELL, camera_id="virtual:porch")
    body = json.loads(event.model_dump_json())
    body["snapshot"] = {
        "content_type": "image/jpeg", "width": 160, "height": 120,
        "jpeg_base64": base64.b64encode(jpeg()).decode(),
    }  # fmt: skip
    return json.dumps(body).encode()


async def _value(value: Any) -> Any:
    return value


def _given() -> dict[str, Callable[[StandIns], Awaitable[Any]]]:
    secret = "webhook-secret"
    body = _webhook_body()
    request = SimpleNamespace(
        body=body, headers={"X-Camsdk-Signature": WebhookSink.sign(secret, body)}
    )
    plain: dict[str, Any] = {
        "creds": camsdk.Credentials(USER, PASSWORD),
        "secret": secret,
        "request_body": body,
        "request": request,
        "pcm": bytes(3200),  # 0.1 s of silence, 16-bit mono at 16 kHz
        "handle": lambda payload: None,
        "broker_password": "broker-secret",
        "KEY": UNIFI_API_KEY,
    }
    given: dict[str, Callable[[StandIns], Awaitable[Any]]] = {
        name: functools.partial(lambda v, _s: _value(v), value) for name, value in plain.items()
    }
    given["cam"] = _camera
    return given


#: Names a page may use without defining them, and what they are:
#: ``cam`` an open ``virtual://porch`` camera; ``creds`` the simulators'
#: `camsdk.Credentials`; ``secret``, ``request_body``, ``request`` a webhook
#: secret and a signed request (``.headers``, ``.body``); ``pcm`` 0.1 s of
#: 16 kHz PCM; ``handle`` a function that takes a message payload;
#: ``broker_password``; ``KEY`` a UniFi API key.
GIVEN = _given()


_PASSWORD_VARIABLE = re.compile(r"\b[A-Z][A-Z0-9_]*(?:PASSWORD[A-Z0-9_]*|_PW)\b")


def password_variables(code: str) -> set[str]:
    """Names of the environment variables ``code`` mentions for passwords."""
    return set(_PASSWORD_VARIABLE.findall(code))
