"""The Tapo local API on `DeviceHttpClient`: login variants, the session token, batches.

Everything is ``POST`` JSON over HTTPS. Logging in is ``POST /`` with
``{"method": "login", ...}``; the answer's ``stok`` goes into the path of
every later request, ``POST /stok=<stok>/ds``. Functions are batched as
``multipleRequest`` (one answer per function, each with its own
``error_code``); motor moves use the older ``{"method": "do", ...}`` form.
Errors are in the body, whatever the HTTP status.

`TapoSession` logs in with the variant the device announces (`_crypto`):
the **secure** login (``encrypt_type`` 3: nonce exchange, then every request
wrapped in an AES ``securePassthrough`` with ``Seq`` and ``Tapo_tag``
headers) or the **legacy** login (MD5 of the password). A device that
answers the probe with -40211 speaks the newer TPAP login (SPAKE2+), which
camsdk does not speak yet: that is an `UnsupportedCapabilityError` naming
it. The variant found is kept for later logins.

Device care: an expired session (``-40401``, or a secure request the device
could not verify) logs in again **once**; a wrong password or a lockout
(``-40404`` with ``sec_left``) is an `AuthenticationError` at once, and the
credentials are not sent to that camera again in this process (the lockout
for as long as the device said). One session per device and login per
process is shared by every camera object through `SESSIONS`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from camsdk.driver import (
    AuthenticationError,
    CameraProtocolError,
    CamError,
    DeviceError,
    DeviceHttpClient,
    DeviceResponse,
    DeviceSessions,
    PrivacyModeError,
    UnsupportedCapabilityError,
    get_logger,
    json_array,
    json_int,
    json_object,
    json_text,
    register_secret,
)

from ._crypto import (
    HashKind,
    SecureChannel,
    confirm_kind,
    digest_password,
    hashed_password,
    new_cnonce,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._events import EventHub

__all__ = [
    "SESSIONS",
    "Outcome",
    "TapoSession",
    "forget_refusals",
    "refusal",
    "session_key",
]

log = get_logger("camsdk.tapo")
# httpx logs request URLs at INFO and ours carry the session token in the path:
# the kit's logger installs its secret-scrubbing filter on httpx's logger.
get_logger("httpx")

#: Cap on one JSON answer (a full multipleRequest answer is a few tens of kB).
MAX_JSON_BYTES = 1024 * 1024
#: Functions in one multipleRequest, at most (firmware refuses long batches).
MAX_BATCH = 10
_EXPIRED = -40401
_TAG_FAILED = -1
_NEEDS_SECURE = -40413
_TPAP_ONLY = -40211
_LOCKED = -40404
_BAD_CREDENTIALS = frozenset({-40411, -40209, -1501, -40412})
_UNSUPPORTED = frozenset({-40210, -40105, -40106, -40101})
_PRIVACY_ON = -64324
_HEADERS = {"Accept": "application/json", "Content-Type": "application/json; charset=UTF-8",
            "requestByApp": "true"}

Variant = Literal["secure", "legacy"]
SessionKey = tuple[str, int, str, str]

#: One login per device and user per process, shared by every camera on it.
SESSIONS: DeviceSessions[TapoSession] = DeviceSessions()
# Credentials a camera refused (until: math.inf) and lockouts (until the device's
# sec_left): nothing is sent to that camera with them again before `until`.
_REFUSED: dict[SessionKey, tuple[str, float]] = {}
_LOCKOUTS: dict[tuple[str, int], tuple[str, float]] = {}
# Entries kept at most (the oldest go first): a caller trying password after
# password must not grow the process without bound.
_MAX_REMEMBERED = 1024


def _remember(table: dict[Any, tuple[str, float]], key: Any, entry: tuple[str, float]) -> None:
    table.pop(key, None)
    while len(table) >= _MAX_REMEMBERED:
        table.pop(next(iter(table)))
    table[key] = entry


def session_key(host: str, port: int, username: str, password: str) -> SessionKey:
    """What identifies one login: the device and who logs in (the password digested)."""
    digest = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()[:32]
    return (host.lower(), port, username, digest)


def forget_refusals() -> None:
    """Forget refused credentials and lockouts (tests: each starts clean)."""
    _REFUSED.clear()
    _LOCKOUTS.clear()


def refusal(key: SessionKey) -> str | None:
    """Why these credentials must not be sent to this camera now, or None."""
    now = time.monotonic()
    refused = _REFUSED.get(key)
    if refused is not None and now < refused[1]:
        return f"{refused[0]} (not sent again: Tapo cameras lock logins)"
    locked = _LOCKOUTS.get((key[0], key[1]))
    if locked is not None:
        if now < locked[1]:
            return f"{locked[0]} (not sent again until then)"
        _LOCKOUTS.pop((key[0], key[1]), None)
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one function of a ``multipleRequest``."""

    method: str
    result: Any = None
    error_code: int = 0

    @property
    def ok(self) -> bool:
        """Whether the function succeeded."""
        return self.error_code == 0


def _lockout_seconds(body: Mapping[str, Any]) -> int:
    """Seconds the device says logins stay locked, 0 when it says nothing of the kind."""
    for holder in (body.get("data"), json_object(body.get("result")).get("data"),
                   body.get("error_info")):
        data = json_object(holder)
        seconds = json_int(data.get("sec_left"), 0)
        if seconds > 0:
            return min(seconds, 86400)
    return 0


def _error_code(body: Mapping[str, Any]) -> int:
    code = json_int(body.get("error_code"), 0)
    if code == 0:
        code = json_int(json_object(json_object(body.get("result")).get("data")).get("code"), 0)
    return code


class TapoSession:
    """One logged-in session with a Tapo camera (see the module docstring)."""

    def __init__(self, http: DeviceHttpClient, *, key: SessionKey, username: str,
                 password: str, request_timeout: float) -> None:
        self.http = http
        self.key = key
        self._username = username
        self._password = password
        register_secret(password)
        for kind in ("md5", "sha256"):
            register_secret(hashed_password(password, kind))
        self._timeout = request_timeout
        self._stok: str | None = None
        self._channel: SecureChannel | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        #: ``secure`` or ``legacy`` once known.
        self.variant: Variant | None = None
        #: ``md5`` or ``sha256``: how the device hashes the password (secure login).
        self.hash_kind: HashKind | None = None
        #: Logins done (the first one and renewals).
        self.logins = 0
        #: Requests sent after login.
        self.requests = 0
        #: The device's identity and components, read once (`_driver.DeviceState`).
        self.state: Any = None
        #: The shared ONVIF event listeners (`_events.EventHub`), one per camera account.
        self.events: dict[str, EventHub] = {}
        #: Privacy mode as last read, and when (``time.monotonic()``).
        self.privacy: tuple[bool, float] | None = None
        #: The motor head's estimated position (Tapo degrees), shared by the cameras.
        self.ptz_position: list[float] = [0.0, 0.0]
        #: How this firmware takes moves: ``direct`` (``do``) or ``batched`` (``motorMove``).
        self.motor_form: str | None = None

    @property
    def scheme(self) -> str:
        """The scheme errors carry."""
        return self.http.errors.scheme

    @property
    def shown(self) -> str:
        """The camera URL as it may be shown (redacted)."""
        return self.http.errors.url

    def __repr__(self) -> str:
        return f"<TapoSession {self.shown} {self.variant or 'new'} logins={self.logins}>"

    # -- errors ------------------------------------------------------------------------------

    def _auth_error(self, message: str) -> AuthenticationError:
        return AuthenticationError(message, scheme=self.scheme, url=self.shown)

    def _refuse(self, message: str) -> AuthenticationError:
        """Remember that the camera refused these credentials, for good."""
        _remember(_REFUSED, self.key, (message, math.inf))
        return self._auth_error(message)

    def _locked_out(self, seconds: int) -> AuthenticationError:
        message = (f"the camera has locked logins for {seconds} s after wrong passwords; "
                   "wait before trying again")
        _remember(_LOCKOUTS, (self.key[0], self.key[1]), (message, time.monotonic() + seconds))
        return self._auth_error(message)

    def check_usable(self) -> None:
        """Raise the error of refused credentials or a lockout still running, or if closed."""
        refused = refusal(self.key)
        if refused is not None:
            raise self._auth_error(refused)
        if self._closed:
            raise CameraProtocolError("the Tapo session is closed", scheme=self.scheme,
                                      url=self.shown)

    # -- transport ---------------------------------------------------------------------------

    def _read_json(self, response: DeviceResponse, action: str) -> dict[str, Any]:
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise CameraProtocolError(
                f"{action}: the camera did not answer a JSON object (HTTP {response.status}, "
                f"{response.media_type or 'untyped'}, {len(response.content)} bytes)",
                scheme=self.scheme, url=self.shown,
            )
        return data

    async def _post(self, path: str, body: bytes, action: str,
                    headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            path, content=body, headers={**_HEADERS, **(headers or {})}, auth=False,
            check=False, action=action, max_bytes=MAX_JSON_BYTES, timeout=self._timeout,
        )
        if response.status >= 300 and not response.content[:1] == b"{":
            raise DeviceError(f"{action}: the camera answered HTTP {response.status}",
                              scheme=self.scheme, url=self.shown, code=str(response.status))
        return self._read_json(response, action)

    async def _login_request(self, params: Mapping[str, Any]) -> dict[str, Any]:
        body = json.dumps({"method": "login", "params": dict(params)}).encode()
        return await self._post("/", body, "login")

    # -- login -------------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in (the first time, or again after the session expired)."""
        async with self._lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        self.check_usable()
        self._stok, self._channel = None, None
        if self.variant != "legacy":
            secure = await self._secure_login()
            if secure:
                return
        await self._legacy_login()

    async def _secure_login(self) -> bool:
        """The encrypt_type 3 login; False when the device does not offer it."""
        for attempt in range(2):
            cnonce = new_cnonce()
            answer = await self._login_request(
                {"cnonce": cnonce, "encrypt_type": "3", "username": self._username})
            data = json_object(json_object(answer.get("result")).get("data"))
            code = _error_code(answer)
            seconds = _lockout_seconds(answer)
            if seconds:
                raise self._locked_out(seconds)
            if code == _TPAP_ONLY:
                raise UnsupportedCapabilityError(
                    "this Tapo firmware only accepts the TPAP (SPAKE2+) login, which camsdk "
                    "does not speak yet; use rtsp:// or onvif:// with the camera account",
                    scheme=self.scheme, url=self.shown)
            offered = [json_text(v) for v in json_array(data.get("encrypt_type"))]
            nonce, confirm = json_text(data.get("nonce")), json_text(data.get("device_confirm"))
            if not (nonce and confirm and "3" in offered):
                if self.variant == "secure":
                    raise CameraProtocolError(
                        "login: the camera no longer offers the secure login it used before",
                        scheme=self.scheme, url=self.shown)
                return False  # a legacy device: the probe sent no password, nothing counts
            self.variant = "secure"
            kind = confirm_kind(self._password, cnonce, nonce, confirm)
            if kind is None:
                raise self._refuse(
                    "login: the camera does not know this password (its proof matched neither "
                    "password hash); use user 'admin' with the TP-Link cloud password")
            self.hash_kind = kind
            hashed = hashed_password(self._password, kind)
            answer = await self._login_request({
                "cnonce": cnonce, "encrypt_type": "3", "username": self._username,
                "digest_passwd": digest_password(hashed, cnonce, nonce)})
            code = _error_code(answer)
            seconds = _lockout_seconds(answer)
            if seconds:
                raise self._locked_out(seconds)
            if code == _NEEDS_SECURE and attempt == 0:
                continue  # the nonce expired between the two requests: once more
            if code in _BAD_CREDENTIALS:
                raise self._refuse(f"login: the camera refused the credentials ({code})")
            result = json_object(answer.get("result"))
            stok = json_text(result.get("stok"))
            start_seq = json_int(result.get("start_seq"), -1)
            if code != 0 or not stok or start_seq < 0:
                raise DeviceError(f"login: the camera answered error {code}",
                                  scheme=self.scheme, url=self.shown, code=str(code))
            group = json_text(result.get("user_group"))
            if group and group != "root":
                raise self._refuse(
                    f"login: the camera accepts this user only as {group!r}, and encrypted "
                    "control needs its owner: use user 'admin' with the TP-Link cloud password")
            self._set_session(stok, SecureChannel(hashed, cnonce, nonce, start_seq))
            return True
        raise CameraProtocolError("login: the camera kept refusing its own nonce",
                                  scheme=self.scheme, url=self.shown)

    async def _legacy_login(self) -> None:
        hashed = hashed_password(self._password, "md5")
        answer = await self._login_request(
            {"hashed": True, "password": hashed, "username": self._username})
        code = _error_code(answer)
        seconds = _lockout_seconds(answer)
        if seconds:
            raise self._locked_out(seconds)
        if code in _BAD_CREDENTIALS:
            raise self._refuse(f"login: the camera refused the credentials ({code})")
        stok = json_text(json_object(answer.get("result")).get("stok"))
        if code != 0 or not stok:
            raise DeviceError(f"login: the camera answered error {code}", scheme=self.scheme,
                              url=self.shown, code=str(code))
        self.variant, self.hash_kind = "legacy", "md5"
        self._set_session(stok, None)

    def _set_session(self, stok: str, channel: SecureChannel | None) -> None:
        if len(stok) > 256 or not stok.isprintable() or "/" in stok:
            raise CameraProtocolError("login: the camera sent an unusable session token",
                                      scheme=self.scheme, url=self.shown)
        register_secret(stok)
        self._stok, self._channel = stok, channel
        self.logins += 1

    # -- requests ----------------------------------------------------------------------------

    async def request(self, payload: Mapping[str, Any], *, action: str) -> dict[str, Any]:
        """Send one API request (logging in as needed); the device's answer, decrypted.

        An expired session is renewed once and the request sent again.
        """
        async with self._lock:
            for _attempt in range(2):
                if self._stok is None:
                    await self._login_locked()
                stok = self._stok
                assert stok is not None
                answer, verified = await self._exchange(stok, payload, action)
                code = json_int(answer.get("error_code"), 0)
                expired = code == _EXPIRED or (self._channel is not None and (
                    code == _TAG_FAILED or not verified))
                if not expired:
                    if code in _BAD_CREDENTIALS:
                        raise self._refuse(f"{action}: the camera refused the session ({code})")
                    return answer
                log.debug("%s: session expired (%s); logging in again", self.shown, code)
                self._stok, self._channel = None, None
            raise DeviceError(f"{action}: the camera refused a fresh session",
                              scheme=self.scheme, url=self.shown, code=str(_EXPIRED))

    async def _exchange(self, stok: str, payload: Mapping[str, Any],
                        action: str) -> tuple[dict[str, Any], bool]:
        """One round trip; the answer and whether a secure answer could be read."""
        self.check_usable()
        path = f"/stok={stok}/ds"
        inner = json.dumps(payload).encode()
        self.requests += 1
        channel = self._channel
        if channel is None:
            return await self._post(path, inner, action), True
        seq = channel.next_seq()
        wrapped = json.dumps({"method": "securePassthrough", "params": {
            "request": base64.b64encode(channel.encrypt(inner)).decode()}}).encode()
        headers = {"Seq": str(seq), "Tapo_tag": channel.tag(wrapped, seq)}
        answer = await self._post(path, wrapped, action, headers)
        sealed = json_object(answer.get("result")).get("response")
        if not isinstance(sealed, str):
            return answer, json_int(answer.get("error_code"), 0) != 0
        try:
            plain = channel.decrypt(base64.b64decode(sealed, validate=True))
            opened = json.loads(plain)
        except (ValueError, binascii.Error, RecursionError, UnicodeDecodeError):
            return answer, False
        if not isinstance(opened, dict):
            raise CameraProtocolError(f"{action}: the camera's answer is not a JSON object",
                                      scheme=self.scheme, url=self.shown)
        return opened, True

    async def multi(self, calls: Sequence[tuple[str, Mapping[str, Any]]], *,
                    action: str | None = None) -> list[Outcome]:
        """Run functions as ``multipleRequest`` batches; one `Outcome` per function."""
        outcomes: list[Outcome] = []
        for start in range(0, len(calls), MAX_BATCH):
            chunk = calls[start:start + MAX_BATCH]
            name = action or chunk[0][0]
            payload = {"method": "multipleRequest", "params": {"requests": [
                {"method": method, "params": dict(params)} for method, params in chunk]}}
            answer = await self.request(payload, action=name)
            code = json_int(answer.get("error_code"), 0)
            if code != 0:
                raise self.error_for(name, code)
            responses = json_array(json_object(answer.get("result")).get("responses"))
            for index, (method, _) in enumerate(chunk):
                item = json_object(responses[index]) if index < len(responses) else {}
                if not item:
                    outcomes.append(Outcome(method, error_code=-40210))
                    continue
                outcomes.append(Outcome(json_text(item.get("method")) or method, item.get("result"),
                                        json_int(item.get("error_code"), 0)))
        return outcomes

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """One function; its result, or its typed error."""
        (outcome,) = await self.multi([(method, params)])
        return self.value_of(outcome)

    async def do(self, payload: Mapping[str, Any], *, action: str) -> Any:
        """A request in the older direct form (``{"method": "do", "motor": ...}``)."""
        answer = await self.request(payload, action=action)
        code = json_int(answer.get("error_code"), 0)
        if code != 0:
            raise self.error_for(action, code)
        return answer

    def value_of(self, outcome: Outcome) -> Any:
        """The result of a successful outcome, else its typed error."""
        if outcome.ok:
            return outcome.result
        raise self.error_for(outcome.method, outcome.error_code)

    def error_for(self, action: str, code: int) -> CamError:
        """The typed error of a function's ``error_code``."""
        if code in _UNSUPPORTED:
            return UnsupportedCapabilityError(
                f"{action}: not supported by this camera ({code})", scheme=self.scheme,
                url=self.shown)
        if code == _PRIVACY_ON:
            return PrivacyModeError(f"{action}: the camera is in privacy mode",
                                    scheme=self.scheme, url=self.shown)
        return DeviceError(f"{action}: the camera answered error {code}", scheme=self.scheme,
                           url=self.shown, code=str(code))

    # -- closing -----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop the event listener and close the connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        hubs, self.events = list(self.events.values()), {}
        try:
            for hub in hubs:
                await hub.aclose()
        finally:
            self._stok, self._channel = None, None
            await self.http.aclose()
