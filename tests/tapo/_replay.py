"""A respx replay of Tapo firmware: answers the local API from fixture files.

Each file of ``fixtures/`` is one camera: its login variant, its functions'
results (or ``{"_error": code}``) and its motor capability (``null``: no
motor). `TapoReplay` logs in like the camera (legacy, or the secure
exchange with the simulator's device-side arithmetic), answers
``multipleRequest`` function by function and the direct motor form, logs
every function, and lets a test replace the next login or API answer.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import respx

from camsdk.testing._tapo_device._crypto import (
    DeviceChannel,
    device_confirm,
    expected_digest,
    stored_hash,
)

FIXTURES = Path(__file__).parent / "fixtures"
HOST = "cam.example.invalid"
BASE = f"https://{HOST}"
URL = f"tapo://{HOST}?tls=system"
STOK = "0123456789abcdef0123456789abcdef"
NONCE = "00112233AABBCCDD"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> dict[str, Any]:
    """One camera's fixture file."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def json_reply(body: Any, status: int = 200) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})


class TapoReplay:
    """Answers the local API of one fixture camera (see the module docstring)."""

    def __init__(self, router: respx.Router, name: str, *, password: str) -> None:
        self.data = fixture(name)
        self.secure = self.data["login"] == "secure"
        self.stored = stored_hash(password, self.data.get("password_hash", "md5"))
        self.md5 = stored_hash(password, "md5")
        self.channel: DeviceChannel | None = None
        #: Functions in the order they arrived (``login`` and ``motor`` included).
        self.calls: list[str] = []
        self.login_replies: deque[Reply] = deque()
        self.api_replies: deque[Reply] = deque()
        self.overrides: dict[str, Any] = {}
        router.post(f"{BASE}/").mock(side_effect=self._login)
        router.post(url__regex=rf"^{re.escape(BASE)}/stok=[^/]+/ds$").mock(side_effect=self._api)

    def _login(self, request: httpx.Request) -> httpx.Response:
        self.calls.append("login")
        if self.login_replies:
            reply = self.login_replies.popleft()
            return reply(request) if callable(reply) else reply
        params = json.loads(request.content)["params"]
        if params.get("encrypt_type") == "3":
            if not self.secure:
                return json_reply({"error_code": -40210})
            cnonce = params["cnonce"]
            if "digest_passwd" not in params:
                return json_reply({"error_code": -40413, "result": {"data": {
                    "code": -40413, "encrypt_type": ["3"], "nonce": NONCE,
                    "device_confirm": device_confirm(self.stored, cnonce, NONCE)}}})
            if params["digest_passwd"] != expected_digest(self.stored, cnonce, NONCE):
                return json_reply({"error_code": -40411}, status=401)
            self.channel = DeviceChannel(self.stored, cnonce, NONCE, start_seq=100)
            return json_reply({"error_code": 0, "result": {
                "stok": STOK, "user_group": "root", "start_seq": 100}})
        if params.get("password") != self.md5:
            return json_reply({"error_code": -40411}, status=401)
        return json_reply({"error_code": 0, "result": {"stok": STOK}})

    def _api(self, request: httpx.Request) -> httpx.Response:
        if self.api_replies:
            self.calls.append("api")
            reply = self.api_replies.popleft()
            return reply(request) if callable(reply) else reply
        body = json.loads(request.content)
        if self.channel is not None:
            inner = json.loads(self.channel.open(body["params"]["request"]))
            answer = self._dispatch(inner)
            return json_reply({"error_code": 0, "result": {
                "response": self.channel.seal(json.dumps(answer).encode())}})
        return json_reply(self._dispatch(body))

    def _dispatch(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") in ("get", "do"):
            self.calls.append("motor")
            motor = self.data.get("motor")
            return motor if motor is not None else {"error_code": -40210}
        responses = []
        for call in request["params"]["requests"]:
            name = call["method"]
            self.calls.append(name)
            result = self.overrides.get(name, self.data["functions"].get(name))
            if result is None:
                responses.append({"method": name, "error_code": -40210})
            elif isinstance(result, dict) and "_error" in result:
                responses.append({"method": name, "error_code": result["_error"]})
            else:
                responses.append({"method": name, "result": result, "error_code": 0})
        return {"error_code": 0, "result": {"responses": responses}}
