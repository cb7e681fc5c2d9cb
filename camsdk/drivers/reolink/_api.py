"""The Reolink JSON API on `DeviceHttpClient`: one login per device, batched commands.

Every command is a POST of a JSON array to ``/cgi-bin/api.cgi?cmd=<first>``
with the session token as a query parameter; the device answers HTTP 200
whatever happened and puts each command's outcome in the body::

    [{"cmd": "GetDevInfo", "code": 0, "value": {...}},
     {"cmd": "GetEnc", "code": 1, "error": {"rspCode": -9, "detail": "not support"}}]

`ReolinkSession` logs in (``Login`` -> a token with a ``leaseTime``), renews
the token before its lease ends (logging the old one out first, so a
device with ~10 session slots never fills up with ours), logs in again once
when the device says ``please login first`` (rspCode -6: a reboot or an
expired token), and logs out on close. A wrong password is an
`AuthenticationError` at once and poisons the session: nothing made with
it talks to the device again (Reolink firmware locks the account after a
few wrong passwords). One session per device per process is shared by
every camera and hub on it through `SESSIONS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from camsdk.driver import (
    AuthenticationError,
    CameraProtocolError,
    CamError,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    DeviceSessions,
    TokenAuth,
    UnsupportedCapabilityError,
    get_logger,
    json_int,
    json_object,
    json_text,
    register_secret,
)

if TYPE_CHECKING:  # pragma: no cover
    from camsdk.driver import CameraDriver, HubDriver, Snapshot

    from ._device import DeviceState
    from ._events import EventHub
    from ._wake import WakeBudget

__all__ = ["API_PATH", "SESSIONS", "Answer", "ReolinkSession", "session_key", "take_session"]

log = get_logger("camsdk.reolink")

#: The JSON API endpoint (``/api.cgi`` answers too on most firmware).
API_PATH = "/cgi-bin/api.cgi"
#: Cap on one JSON answer: a 36-channel NVR's biggest batch is well under it.
MAX_JSON_BYTES = 2 * 1024 * 1024
#: Cap on a snapshot (a 4K JPEG is a few MB).
MAX_SNAPSHOT_BYTES = 16 * 1024 * 1024
#: Commands in one POST, at most (firmware rejects very long batches).
MAX_BATCH = 64
_LOGOUT_TIMEOUT = 2.0
_LEASE_DEFAULT = 3600
_TOKEN_EXPIRED = -6
_MAX_SESSION = -5
_UNSUPPORTED = frozenset({-9, -26})
_CREDENTIAL_WORDS = ("login failed", "invalid user", "password wrong", "locked", "user not exist")

#: One login per device per process, shared by its cameras and hubs.
SESSIONS: DeviceSessions[ReolinkSession] = DeviceSessions()


def session_key(base_url: str, username: str, password: str) -> tuple[str, str, str]:
    """What identifies one login: the device, the user and (a hash of) the password.

    The password is part of it so that a caller with a wrong password never
    rides on another caller's good session.
    """
    digest = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
    return (base_url.lower(), username, digest)


@dataclass(frozen=True, slots=True)
class Answer:
    """The outcome of one command of a batch."""

    cmd: str
    value: Any = None
    code: int = 0
    rsp_code: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command succeeded."""
        return self.code == 0

    @property
    def token_expired(self) -> bool:
        """The device no longer knows our token (rebooted, expired)."""
        text = self.detail.lower()
        return not self.ok and (self.rsp_code == _TOKEN_EXPIRED or "login first" in text)


def _parse_answers(response: DeviceResponse, commands: Sequence[Mapping[str, Any]],
                   action: str) -> list[Answer]:
    errors = response.errors
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError, UnicodeDecodeError):
        # RecursionError: a nesting bomb ([[[[...) fits in a small body.
        data = None
    if isinstance(data, dict):
        data = [data]  # some firmware answers a lone command with an object
    if not isinstance(data, list) or not data:
        raise CameraProtocolError(
            f"{action}: the device did not answer JSON ({response.media_type or 'untyped'}, "
            f"{len(response.content)} bytes)", scheme=errors.scheme, url=errors.url,
        )
    answers = []
    for index, command in enumerate(commands):
        item = json_object(data[index]) if index < len(data) else {}
        cmd = json_text(item.get("cmd")) or str(command.get("cmd", ""))
        if not item:
            answers.append(Answer(cmd, code=1, rsp_code=-1, detail="no answer to this command"))
            continue
        error = json_object(item.get("error"))
        code = json_int(item.get("code"), 1 if error else 0)
        answers.append(
            Answer(
                cmd=cmd,
                value=item.get("value"),
                code=code,
                rsp_code=json_int(error.get("rspCode")),
                detail=json_text(error.get("detail")),
            )
        )
    return answers


class ReolinkSession:
    """One logged-in session with a Reolink device (see the module docstring)."""

    def __init__(
        self,
        http: DeviceHttpClient,
        *,
        username: str,
        password: str,
        request_timeout: float,
    ) -> None:
        self.http = http
        self._username = username
        self._password = password
        register_secret(password)
        self._timeout = request_timeout
        self._token: str | None = None
        self._lease_ends = 0.0
        self._lease = float(_LEASE_DEFAULT)
        self._lock = asyncio.Lock()
        # One token for every request: the kit renews it before its lease ends
        # (the expiry hook) and after a refusal.
        self._auth = TokenAuth(self._first_token, refresh=self._fresh_token, query="token",
                               expires_in=self._lease_left, refresh_margin=0.0)
        self._closed = False
        #: Set once the device refused the credentials: nothing is sent after that.
        self.auth_failure: AuthenticationError | None = None
        #: Logins done (the first one and renewals).
        self.logins = 0
        #: The device's identity, ports and channels (`_device.DeviceState`), once read.
        self.device: DeviceState | None = None
        #: The shared event poller (`_events.EventHub`), made on first subscription.
        self.events: EventHub | None = None
        #: Battery channels' wake budgets and last pictures, shared by every camera on them.
        self.wake_budgets: dict[int, WakeBudget] = {}
        self.pictures: dict[int, Snapshot] = {}

    @property
    def scheme(self) -> str:
        """The scheme errors carry."""
        return self.http.errors.scheme

    @property
    def shown(self) -> str:
        """The device URL as it may be shown (redacted)."""
        return self.http.errors.url

    def __repr__(self) -> str:
        return f"<ReolinkSession {self.shown} logins={self.logins}>"

    # -- login -------------------------------------------------------------------------------

    def _auth_error(self, message: str) -> AuthenticationError:
        return AuthenticationError(message, scheme=self.scheme, url=self.shown)

    def _check_usable(self) -> None:
        if self.auth_failure is not None:
            raise self._auth_error(
                f"{self.auth_failure.message} (not retried: the device locks accounts)"
            )
        if self._closed:
            raise CameraProtocolError("the Reolink session is closed", scheme=self.scheme,
                                      url=self.shown)

    async def login(self) -> None:
        """Log in (the first time, or again after the token went stale)."""
        async with self._lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        self._check_usable()
        if self._token is not None:
            await self._logout_locked()  # free its slot before taking another
        body = [{"cmd": "Login", "action": 0, "param": {"User": {
            "Version": "0", "userName": self._username, "password": self._password}}}]
        response = await self.http.post(
            API_PATH, params={"cmd": "Login"}, json=body, auth=False, action="Login",
            max_bytes=MAX_JSON_BYTES, timeout=self._timeout,
        )
        answer = _parse_answers(response, body, "Login")[0]
        if not answer.ok:
            raise self._login_error(answer)
        token_info = json_object(json_object(answer.value).get("Token"))
        token = token_info.get("name")
        if not isinstance(token, str) or not 0 < len(token) <= 256 or not token.isprintable():
            raise CameraProtocolError("Login: the device sent no usable token",
                                      scheme=self.scheme, url=self.shown)
        register_secret(token)
        self._lease = float(min(86400, max(5, json_int(token_info.get("leaseTime"),
                                                     _LEASE_DEFAULT))))
        self._token = token
        self._lease_ends = time.monotonic() + self._lease
        self.logins += 1

    def _login_error(self, answer: Answer) -> CamError:
        detail = answer.detail.lower()
        if answer.rsp_code == _MAX_SESSION or "max session" in detail:
            return DeviceError(
                "Login: the device has no free session (max session); close other clients "
                "or wait for their tokens to expire", scheme=self.scheme, url=self.shown,
                code=str(answer.rsp_code),
            )
        if "locked" in detail:
            error = self._auth_error(
                "Login: the device has locked the account after wrong passwords; wait before "
                "trying again")
        elif answer.rsp_code in (-7, -27) or any(w in detail for w in _CREDENTIAL_WORDS):
            error = self._auth_error(
                f"Login: the device refused the credentials (rspCode {answer.rsp_code})")
        else:
            return DeviceError(
                f"Login: the device answered rspCode {answer.rsp_code} ({answer.detail[:64]})",
                scheme=self.scheme, url=self.shown, code=str(answer.rsp_code),
            )
        self.auth_failure = error
        return error

    @property
    def _renew_margin(self) -> float:
        return min(300.0, self._lease * 0.2)

    async def _first_token(self) -> str:
        async with self._lock:
            self._check_usable()
            if self._token is None:
                await self._login_locked()
            assert self._token is not None
            return self._token

    async def _fresh_token(self) -> str:
        """A token for the kit's renewal: the session's own if newer than the one in use."""
        async with self._lock:
            self._check_usable()
            if self._token is None or self._token == self._auth.token:
                await self._login_locked()  # logs the old token out first
            assert self._token is not None
            return self._token

    def _lease_left(self, token: str) -> float:
        """Seconds ``token`` may still be used (renewal starts `_renew_margin` before its end)."""
        if token != self._token:
            return 0.0  # replaced or forgotten: renew
        return self._lease_ends - self._renew_margin - time.monotonic()

    async def _forget(self, stale: str | None) -> None:
        """The device no longer knows ``stale`` (rebooted): the next request logs in again."""
        async with self._lock:
            if stale is not None and self._token == stale:
                self._token = None  # no Logout for a token the device forgot

    # -- commands ----------------------------------------------------------------------------

    async def batch(
        self, commands: Sequence[Mapping[str, Any]], *, action: str | None = None,
        timeout: float | None = None,
    ) -> list[Answer]:
        """Send ``commands`` (in POSTs of at most `MAX_BATCH`); one answer per command.

        A stale token is renewed once and the batch sent again. Per-command
        errors stay in the answers (see `value_of`).
        """
        answers: list[Answer] = []
        for start in range(0, len(commands), MAX_BATCH):
            chunk = list(commands[start:start + MAX_BATCH])
            answers.extend(await self._send(chunk, action=action, timeout=timeout))
        return answers

    async def _send(self, commands: list[Mapping[str, Any]], *, action: str | None,
                    timeout: float | None) -> list[Answer]:
        first = str(commands[0].get("cmd", ""))
        name = action or first
        for attempt in range(2):
            self._check_usable()
            response = await self.http.post(
                API_PATH, params={"cmd": first}, json=commands, auth=self._auth,
                action=name, max_bytes=MAX_JSON_BYTES,
                timeout=timeout if timeout is not None else self._timeout,
            )
            answers = _parse_answers(response, commands, name)
            if attempt == 0 and any(a.token_expired for a in answers):
                log.debug("%s: token no longer valid; logging in again", self.shown)
                await self._forget(self._auth.token)
                continue
            return answers
        raise DeviceError(f"{name}: the device refused a fresh token", scheme=self.scheme,
                          url=self.shown, code=str(_TOKEN_EXPIRED))

    def value_of(self, answer: Answer) -> Any:
        """The value of a successful answer, else its typed error."""
        if answer.ok:
            return answer.value
        if answer.rsp_code in _UNSUPPORTED:
            raise UnsupportedCapabilityError(
                f"{answer.cmd}: not supported by this device ({answer.detail[:64]})",
                scheme=self.scheme, url=self.shown,
            )
        raise DeviceError(
            f"{answer.cmd}: the device answered rspCode {answer.rsp_code} ({answer.detail[:64]})",
            scheme=self.scheme, url=self.shown, code=str(answer.rsp_code),
        )

    async def call(self, cmd: str, param: Mapping[str, Any] | None = None, *,
                   action: int = 0, timeout: float | None = None) -> Any:
        """One command; its value or its typed error."""
        command = {"cmd": cmd, "action": action, "param": dict(param or {})}
        (answer,) = await self.batch([command], timeout=timeout)
        return self.value_of(answer)

    async def snap(self, channel: int, params: Mapping[str, str], *,
                   timeout: float) -> DeviceResponse:
        """``cmd=Snap`` for ``channel``: the raw answer (a JPEG, or an error body)."""
        for attempt in range(2):
            self._check_usable()
            query = {"cmd": "Snap", "channel": str(channel), "rs": secrets.token_hex(8),
                     **params}
            response = await self.http.get(
                API_PATH, params=query, auth=self._auth, action="Snap",
                max_bytes=MAX_SNAPSHOT_BYTES, timeout=timeout,
            )
            if attempt == 0 and len(response.content) < 4096 and response.content[:1] in b"[{":
                answers = _parse_answers(response, [{"cmd": "Snap"}], "Snap")
                if answers[0].token_expired:
                    await self._forget(self._auth.token)
                    continue
            return response
        raise DeviceError("Snap: the device refused a fresh token", scheme=self.scheme,
                          url=self.shown, code=str(_TOKEN_EXPIRED))

    @staticmethod
    def error_of(response: DeviceResponse) -> Answer | None:
        """The JSON error in a body that should have been something else, if it is one."""
        if len(response.content) > 4096 or response.content[:1] not in b"[{":
            return None
        try:
            answer = _parse_answers(response, [{"cmd": "?"}], response.action)[0]
        except CameraProtocolError:
            return None
        return None if answer.ok else answer

    # -- closing -----------------------------------------------------------------------------

    async def _logout_locked(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        try:
            async with asyncio.timeout(_LOGOUT_TIMEOUT):
                await self.http.post(
                    API_PATH, params={"cmd": "Logout"},
                    json=[{"cmd": "Logout", "action": 0, "param": {}}],
                    auth=TokenAuth(token, query="token"), action="Logout",
                    max_bytes=64 * 1024,
                )
        except (CamError, TimeoutError) as exc:
            # The lease frees the slot anyway; a failed Logout only delays that.
            log.debug("%s: Logout failed: %s", self.shown, exc)

    async def aclose(self) -> None:
        """Stop the event poller, log out (bounded) and close the connections."""
        if self._closed:
            return
        events, self.events = self.events, None
        if events is not None:
            await events.aclose()
        try:
            if self.auth_failure is None:
                async with self._lock:
                    await self._logout_locked()
        finally:
            self._closed = True
            await self.http.aclose()



SessionKey = tuple[str, str, str]


async def take_session(owner: CameraDriver[Any] | HubDriver[Any],
                       base_url: str) -> tuple[SessionKey, ReolinkSession]:
    """``owner``'s device session: this process's shared one, or a new login.

    Give it back with ``await SESSIONS.release(key)``; the last user logs out.
    """
    creds = owner.login()
    if creds is None:
        raise AuthenticationError(
            "Reolink devices need a user and password (credentials= or user:pw@ in the URL)",
            scheme="reolink", url=owner.shown,
        )
    password = creds.password.get_secret_value()
    key = session_key(base_url, creds.username, password)

    async def open_session() -> ReolinkSession:
        http = DeviceHttpClient.for_driver(owner, base_url=base_url, auth="none")
        session = ReolinkSession(http, username=creds.username, password=password,
                                 request_timeout=owner.config.request_timeout)
        try:
            await session.login()
        except BaseException:
            await http.aclose()
            raise
        return session

    return key, await SESSIONS.acquire(key, open=open_session, close=_close_session)


async def _close_session(session: ReolinkSession) -> None:
    await session.aclose()
