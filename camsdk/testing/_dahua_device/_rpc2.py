"""RPC2 of the simulated device: the two-step login, sessions, and the calls camsdk uses.

``/RPC2_Login`` answers ``global.login`` (first a challenge, then the hashed
password is checked); ``/RPC2`` answers ``eventManager.attach``,
``global.keepAlive`` and ``global.logout`` for a live session. Wrong
passwords are counted: after ``lockout_after`` in a row the account is
locked (error code 268632081) whatever the password. ``session_cap`` limits
concurrent sessions (real firmware allows a handful).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
from dataclasses import dataclass
from typing import Any

from camsdk.testing._http_device import Request, Response

__all__ = ["Rpc2Service"]

_CHALLENGE = 268632079
_BAD_PASSWORD = 268632085
_LOCKED = 268632081
_TOO_MANY = 268632083
_INVALID_SESSION = 287637505


@dataclass(slots=True)
class _Session:
    id: str
    random: str
    logged_in: bool = False
    attached: bool = False
    sid: int = 0


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest().upper()


class Rpc2Service:
    """The RPC2 side of a `DahuaDevice` (see the module docstring)."""

    def __init__(
        self, *, username: str, password: str, realm: str, lockout_after: int | None,
        session_cap: int | None,
    ) -> None:
        self.username = username
        self._password = password
        self.realm = realm
        self.lockout_after = lockout_after
        self.session_cap = session_cap
        self.sessions: dict[str, _Session] = {}
        self._sids = itertools.count(100)
        self.failed_logins = 0
        self._failures = 0
        self.locked = False
        #: Successful logins, keep-alives received.
        self.logins = 0
        self.keepalives = 0

    def live(self) -> int:
        """Logged-in sessions."""
        return sum(1 for s in self.sessions.values() if s.logged_in)

    def set_password(self, password: str) -> None:
        """Change the account's password as RPC2 checks it (a password changed elsewhere)."""
        self._password = password

    def drop_sessions(self) -> None:
        """Forget every session (a device restart): the next call answers invalid session."""
        self.sessions.clear()

    @staticmethod
    def _answer(body: dict[str, Any]) -> Response:
        return Response.json(body)

    @staticmethod
    def _read(request: Request) -> dict[str, Any] | None:
        try:
            message = json.loads(request.body or b"{}")
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    async def login(self, request: Request) -> Response:
        """``POST /RPC2_Login``."""
        message = self._read(request)
        if message is None or message.get("method") != "global.login":
            return Response(400, "Bad Request")
        ident = message.get("id", 0)
        params = message.get("params") or {}
        session_id = str(message.get("session") or "")
        session = self.sessions.get(session_id)
        if session is None or not params.get("password"):
            if self.session_cap is not None and self.live() >= self.session_cap:
                return self._answer({"id": ident, "result": False, "session": 0, "error": {
                    "code": _TOO_MANY, "message": "Too many sessions"}})
            session = _Session(secrets.token_hex(16), str(secrets.randbelow(10**9)))
            self.sessions[session.id] = session
            return self._answer({
                "id": ident, "result": False, "session": session.id,
                "error": {"code": _CHALLENGE, "message": "Component error: login challenge!"},
                "params": {"realm": self.realm, "random": session.random,
                           "encryption": "Default", "authorization": "x"},
            })
        if self.locked:
            return self._answer({"id": ident, "result": False, "session": session.id, "error": {
                "code": _LOCKED, "message": "Login failed: user locked"}})
        inner = _md5_upper(f"{self.username}:{self.realm}:{self._password}")
        expected = _md5_upper(f"{self.username}:{session.random}:{inner}")
        if params.get("userName") != self.username or params.get("password") != expected:
            self.failed_logins += 1
            self._failures += 1
            if self.lockout_after is not None and self._failures >= self.lockout_after:
                self.locked = True
            self.sessions.pop(session.id, None)
            return self._answer({"id": ident, "result": False, "session": session.id, "error": {
                "code": _BAD_PASSWORD, "message": "Login failed: invalid password"}})
        self._failures = 0
        session.logged_in = True
        self.logins += 1
        return self._answer({"id": ident, "result": True, "session": session.id,
                             "params": {"keepAliveInterval": 60}})

    def session_of(self, session_id: str) -> _Session | None:
        """A logged-in session."""
        session = self.sessions.get(session_id)
        return session if session is not None and session.logged_in else None

    async def call(self, request: Request) -> Response:
        """``POST /RPC2``."""
        message = self._read(request)
        if message is None:
            return Response(400, "Bad Request")
        ident = message.get("id", 0)
        session = self.session_of(str(message.get("session") or ""))
        if session is None:
            return self._answer({"id": ident, "result": False, "error": {
                "code": _INVALID_SESSION, "message": "Invalid session in request data!"}})
        method = message.get("method")
        if method == "eventManager.attach":
            session.attached = True
            session.sid = next(self._sids)
            return self._answer({"id": ident, "result": True, "session": session.id,
                                 "params": {"SID": session.sid}})
        if method == "global.keepAlive":
            self.keepalives += 1
            return self._answer({"id": ident, "result": True, "session": session.id,
                                 "params": {"timeout": 60}})
        if method == "global.logout":
            self.sessions.pop(session.id, None)
            return self._answer({"id": ident, "result": True, "session": session.id})
        return self._answer({"id": ident, "result": False, "session": session.id, "error": {
            "code": 268959743, "message": "Unknown error! error code was not set in service!"}})
