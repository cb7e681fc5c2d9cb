"""RPC2: the JSON-RPC API behind Dahua's web interface, for firmware whose CGI lacks events.

Login is two steps on ``/RPC2_Login`` (no HTTP authentication):

1. ``global.login`` with the user name and an empty password: the device
   answers with a session id and a challenge (``realm``, ``random``,
   ``encryption``);
2. ``global.login`` again with ``MD5(user:random:MD5(user:realm:password))``
   (hex, upper case) for the ``Default`` encryption: a good password keeps
   the session, a wrong one is an error whose code says so (and, after five,
   that the account is locked).

Then calls go to ``/RPC2`` with the session in the body. The session expires
unless used: `Rpc2Client.keep_alive` (``global.keepAlive``). Session ids and
password hashes are registered as secrets, so logs never show them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from typing import Any

from camsdk.driver import (
    CameraProtocolError,
    CamError,
    DeviceError,
    get_logger,
    redact_text,
    register_secret,
)

from ._api import DahuaApi

__all__ = ["LOGIN_FAILED_CODES", "Rpc2Client", "login_hash"]

log = get_logger("camsdk.dahua.rpc2")

#: Error codes of a refused login: bad user or password, account locked, no such user.
LOGIN_FAILED_CODES = frozenset({268632085, 268632081, 268632071, 268632073})
#: Codes that say the session is gone (expired, or the device restarted).
SESSION_GONE_CODES = frozenset({287637505, 287637504, 268894209})
_MAX_ANSWER = 1024 * 1024


def login_hash(username: str, password: str, realm: str, random: str) -> str:
    """The ``Default`` RPC2 login hash (see the module docstring)."""
    inner = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest().upper()
    return hashlib.md5(f"{username}:{random}:{inner}".encode()).hexdigest().upper()


class Rpc2Client:
    """An RPC2 session on one device (shares the device's `DahuaApi` and its refusal)."""

    def __init__(self, api: DahuaApi, username: str, password: str) -> None:
        self._api = api
        self._username = username
        self._password = password
        self._ids = itertools.count(1)
        #: The session id once logged in.
        self.session: str | None = None

    def __repr__(self) -> str:
        return f"Rpc2Client({self._api.shown!r}, {'logged in' if self.session else 'new'})"

    async def _post(self, path: str, body: dict[str, Any], action: str) -> dict[str, Any]:
        response = await self._api.fetch(
            path, action=action, method="POST", content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, auth=False, max_bytes=_MAX_ANSWER,
        )
        if response.status in (404, 501):
            raise DeviceError(
                f"{action}: the device has no RPC2 API (HTTP {response.status})",
                scheme="dahua", url=self._api.shown, code=str(response.status),
            )
        answer = response.json() if 200 <= response.status < 300 else None
        if not isinstance(answer, dict):
            raise CameraProtocolError(
                f"{action}: the device did not answer an RPC2 object (HTTP {response.status})",
                scheme="dahua", url=self._api.shown,
            )
        return answer

    def _error(self, action: str, answer: Mapping[str, Any]) -> DeviceError:
        error = answer.get("error")
        code = error.get("code") if isinstance(error, Mapping) else None
        message = error.get("message") if isinstance(error, Mapping) else None
        shown = redact_text(str(message))[:120] if message else "no reason given"
        return DeviceError(
            f"{action}: the device answered result=false ({shown})",
            scheme="dahua", url=self._api.shown, code=str(code) if code is not None else None,
        )

    async def login(self) -> None:
        """The two-step login; `AuthenticationError` (and no retry) when refused."""
        self._api.check_refused()
        self.session = None
        first = await self._post(
            "/RPC2_Login",
            {"method": "global.login", "id": next(self._ids), "params": {
                "userName": self._username, "password": "", "clientType": "Web3.0"}},
            "RPC2 login",
        )
        params = first.get("params")
        session = first.get("session")
        if not isinstance(params, Mapping) or not isinstance(session, str | int):
            raise CameraProtocolError(
                "RPC2 login: the device sent no challenge", scheme="dahua", url=self._api.shown
            )
        realm, random = str(params.get("realm", "")), str(params.get("random", ""))
        encryption = str(params.get("encryption", "Default"))
        if encryption not in ("Default", ""):
            raise DeviceError(
                f"RPC2 login: unsupported password encryption {encryption[:32]!r}",
                scheme="dahua", url=self._api.shown, code="encryption",
            )
        register_secret(str(session))
        hashed = login_hash(self._username, self._password, realm, random)
        register_secret(hashed)
        second = await self._post(
            "/RPC2_Login",
            {"method": "global.login", "id": next(self._ids), "session": session, "params": {
                "userName": self._username, "password": hashed, "clientType": "Web3.0",
                "realm": realm, "random": random, "passwordType": "Default",
                "authorityType": "Default"}},
            "RPC2 login",
        )
        if second.get("result") is not True:
            error = self._error("RPC2 login", second)
            numeric = int(error.code) if error.code and error.code.isdigit() else None
            if numeric in LOGIN_FAILED_CODES:
                locked = "locked" in str(second.get("error", "")).lower()
                detail = ("the device refused the login and reports the account locked"
                          if locked else "the device refused the credentials")
                raise self._api.refuse("RPC2 login", detail)
            raise error
        final = second.get("session", session)
        self.session = str(final)
        register_secret(self.session)

    async def call(self, method: str, params: Any = None, *, object_id: int | None = None) -> Any:
        """Call ``method``; its ``params`` answer, or `DeviceError` (``code`` from the device)."""
        if self.session is None:
            await self.login()
        body: dict[str, Any] = {"method": method, "id": next(self._ids), "session": self.session}
        if params is not None:
            body["params"] = params
        if object_id is not None:
            body["object"] = object_id
        answer = await self._post("/RPC2", body, f"RPC2 {method}")
        if answer.get("result") is False:
            error = self._error(f"RPC2 {method}", answer)
            if error.code is not None and error.code.isdigit() and int(
                error.code
            ) in SESSION_GONE_CODES:
                self.session = None
            raise error
        return answer.get("params")

    async def keep_alive(self, timeout: int = 60) -> None:
        """``global.keepAlive``: keep the session from expiring."""
        await self.call("global.keepAlive", {"timeout": timeout, "active": True})

    async def logout(self) -> None:
        """``global.logout``, best effort (the session expires on its own anyway)."""
        if self.session is None:
            return
        try:
            await self.call("global.logout")
        except CamError as exc:
            log.debug("%s: RPC2 logout failed (%s)", self._api.shown, exc)
        finally:
            self.session = None
