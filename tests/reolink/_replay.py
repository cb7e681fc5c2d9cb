"""A respx replay of Reolink firmware: answers ``/cgi-bin/api.cgi`` from fixture files.

Each file of ``fixtures/`` is one device: a command's value, or a value per
channel (``{"0": {...}, "3": {...}}``), or ``{"_error": [rspCode, detail]}``.
`ReolinkReplay` answers batches command by command like firmware does
(HTTP 200, JSON labelled ``text/html``, errors in the body), logs every
command, and lets a test replace the answer to Login, Snap or any command.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import respx

FIXTURES = Path(__file__).parent / "fixtures"
HOST = "cam.example.invalid"
DEVICE = f"http://{HOST}"
URL = f"reolink://{HOST}"
TOKEN = "tok-0123456789abcdef"

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> dict[str, Any]:
    """One device's fixture file."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def error(cmd: str, rsp_code: int, detail: str) -> dict[str, Any]:
    """A failed command as firmware answers it."""
    return {"cmd": cmd, "code": 1, "error": {"detail": detail, "rspCode": rsp_code}}


def json_reply(items: Any, content_type: str = "text/html") -> httpx.Response:
    """A 200 with a JSON body, labelled as firmware labels it."""
    return httpx.Response(200, content=json.dumps(items).encode(),
                          headers={"Content-Type": content_type})


class ReolinkReplay:
    """Answers the JSON API of one fixture device (see the module docstring)."""

    def __init__(self, router: respx.Router, name: str, *, lease: int = 3600) -> None:
        self.data = fixture(name)
        self.lease = lease
        #: Command names in the order they arrived (Login and Snap included).
        self.calls: list[str] = []
        #: Tokens seen on requests, in order (None: no token).
        self.tokens: list[str | None] = []
        self.login_replies: deque[Reply] = deque()
        self.snap_replies: deque[Reply] = deque()
        self.replies: dict[str, deque[dict[str, Any]]] = {}
        self.issued = 0
        self.jpeg = b""
        router.route(url__startswith=f"{DEVICE}/cgi-bin/api.cgi").mock(side_effect=self._answer)

    def answer_next(self, cmd: str, item: dict[str, Any]) -> None:
        """Answer the next ``cmd`` with ``item`` instead of the fixture."""
        self.replies.setdefault(cmd, deque()).append(item)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        cmd = request.url.params.get("cmd", "")
        self.tokens.append(request.url.params.get("token"))
        if cmd == "Login":
            self.calls.append("Login")
            if self.login_replies:
                return _reply(self.login_replies.popleft(), request)
            self.issued += 1
            return json_reply([{"cmd": "Login", "code": 0, "value": {"Token": {
                "leaseTime": self.lease, "name": f"{TOKEN}{self.issued}"}}}])
        if cmd == "Snap":
            self.calls.append("Snap")
            if self.snap_replies:
                return _reply(self.snap_replies.popleft(), request)
            return httpx.Response(200, content=self.jpeg, headers={"Content-Type": "image/jpeg"})
        commands = json.loads(request.content or b"[]")
        items = []
        for command in commands:
            name = command.get("cmd", "")
            self.calls.append(name)
            queued = self.replies.get(name)
            items.append(queued.popleft() if queued else self._item(name, command))
        return json_reply(items)

    def _item(self, name: str, command: dict[str, Any]) -> dict[str, Any]:
        if name == "Logout":
            return {"cmd": name, "code": 0, "value": {"rspCode": 200}}
        entry = self.data.get(name)
        if entry is None:
            return error(name, -9, "not support")
        if "_error" in entry:
            code, detail = entry["_error"]
            return error(name, code, detail)
        param = command.get("param") or {}
        channel = param.get("channel")
        if isinstance(channel, int) and any(k.isdigit() for k in entry):
            value = entry.get(str(channel))
            if value is None:
                return error(name, -17, "rcv failed")
            if "_error" in value:
                code, detail = value["_error"]
                return error(name, code, detail)
            return {"cmd": name, "code": 0, "value": value}
        return {"cmd": name, "code": 0, "value": entry}


def _reply(reply: Reply, request: httpx.Request) -> httpx.Response:
    return reply(request) if callable(reply) else reply
