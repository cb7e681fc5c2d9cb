"""Helpers of the Dahua tests: firmware fixtures replayed over respx.

`CgiReplay` answers a device's CGI from ``fixtures/<model>/``: a file per
answer, named ``<cgi>.<action or name>.txt`` (``magicBox.getDeviceType.txt``,
``configManager.Encode.txt``); a question with no file gets Dahua's
``Error`` body with HTTP 200, as firmware does. It asks for Digest first
(``WWW-Authenticate``) and records every request.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import respx

from camsdk import Credentials
from camsdk.testing._dahua_device._model import make_jpeg

FIXTURES = Path(__file__).parent / "fixtures"
HOST = "cam.example.invalid"
BASE = f"http://{HOST}"
URL = f"dahua://{HOST}"
USER, PASSWORD = "admin", "fixture-Pw9!"
CREDS = Credentials(USER, PASSWORD)
ERROR_BODY = b"Error\r\nBad Request!\r\n"
MODELS = (
    "amcrest_ip2m841_v2420",
    "dahua_ipc_hdw5231r_v2800",
    "dahua_nvr5216_v4001",
    "dahua_vto2202_v4300",
    "lorex_n841_v4000",
)
JPEG = make_jpeg(64, 48)

# Which query parameter names the answer file of each CGI.
_KEYS = {
    "magicBox": "action",
    "configManager": "name",
    "LogicDeviceManager": "action",
    "ptz": "action",
    "devAudioOutput": "action",
    "eventManager": "action",
}


def fixture_bytes(model: str, name: str) -> bytes:
    """A fixture file's bytes."""
    return (FIXTURES / model / name).read_bytes()


class CgiReplay:
    """Answers a respx-mocked device from a fixture folder (see the module docstring)."""

    def __init__(self, router: respx.Router, model: str, *, auth: str = "digest") -> None:
        self.model = model
        self.auth = auth
        self.requests: list[httpx.Request] = []
        #: Extra answers by path, tried before the fixture folder.
        self.overrides: dict[str, httpx.Response] = {}
        router.route(host=HOST).mock(side_effect=self._answer)

    def _challenge(self) -> httpx.Response:
        headers = [("WWW-Authenticate",
                    'Digest realm="Login to REDACTED", qop="auth", nonce="abc123", '
                    'opaque="x", algorithm=MD5')]
        if self.auth == "basic":
            headers = [("WWW-Authenticate", 'Basic realm="Login to REDACTED"')]
        return httpx.Response(401, headers=headers, content=b"401 Unauthorized")

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.auth != "none" and "authorization" not in request.headers:
            return self._challenge()
        path = request.url.path
        if path in self.overrides:
            return self.overrides[path]
        if path in ("/cgi-bin/snapshot.cgi", "/onvifsnapshot/media_service/snapshot"):
            return httpx.Response(200, content=JPEG, headers={"Content-Type": "image/jpeg"})
        cgi = path.rsplit("/", 1)[-1].removesuffix(".cgi")
        key = _KEYS.get(cgi)
        if key is None:
            return httpx.Response(404, content=b"404 Not Found")
        name = request.url.params.get(key, "")
        for suffix in (".txt", ".bin"):
            found = FIXTURES / self.model / f"{cgi}.{name}{suffix}"
            if found.exists():
                content_type = ("multipart/x-mixed-replace; boundary=myboundary"
                                if suffix == ".bin" else "text/plain;charset=utf-8")
                return httpx.Response(200, content=found.read_bytes(),
                                      headers={"Content-Type": content_type})
        return httpx.Response(200, content=ERROR_BODY, headers={"Content-Type": "text/plain"})

    def paths(self) -> list[str]:
        """``path?key`` of every authenticated request, in order."""
        out = []
        for request in self.requests:
            if "authorization" not in request.headers and self.auth != "none":
                continue
            cgi = request.url.path.rsplit("/", 1)[-1].removesuffix(".cgi")
            key = _KEYS.get(cgi)
            out.append(f"{cgi}.{request.url.params.get(key, '')}" if key else request.url.path)
        return out
