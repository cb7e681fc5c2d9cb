"""Owner login: with the password, or with a key by signing a one-time challenge.

Password: ``POST /owner/api/login {"password": ...}``, checked against the
scrypt hash. Key (challenge-response, no secret crosses the wire):

1. ``GET /owner/api/login/challenge`` gives a random one-time challenge,
   valid for a minute and only for the address that asked;
2. the owner signs ``camsdk-owner-login-v1``, the gateway's ``Host`` as the
   client addressed it, and the challenge, one per line, with an Ed25519 key
   the site file allows (``[owner] login_keys``, and the owner's signing
   key unless ``signing_key_login = false``);
3. ``POST /owner/api/login {"challenge", "public_key", "signature"}`` gives
   the same session cookie and CSRF token as the password.

Naming the host in the signed text means a signature made for one gateway
is useless at another (a gateway that relays another's challenge gets a
signature for its own name). Both ways share the lockout: failures of either
count against the address, and every attempt is an ``owner.login`` audit
record with its method and, when refused, the reason.

`OwnerKeyAuth` does the key login for an `httpx` client (scripts, and
``camsdk serve login-key``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..privacy import key_id
from ._http import HttpError, client_address, error, parse, read_body
from ._security import verify_password

if TYPE_CHECKING:
    from ._gateway import Gateway

__all__ = [
    "CHALLENGE_PATH",
    "COOKIE",
    "LOGIN_PATH",
    "LoginChallenges",
    "OwnerKeyAuth",
    "OwnerLogin",
    "check_signature",
    "login_payload",
    "login_routes",
    "raw_public_key",
    "same_origin",
]

COOKIE = "camsdk_owner"
LOGIN_PATH = "/owner/api/login"
CHALLENGE_PATH = "/owner/api/login/challenge"
_CONTEXT = b"camsdk-owner-login-v1\n"
#: Outstanding challenges kept at most (the oldest are forgotten: bounded memory).
_MAX_CHALLENGES = 1000


def login_payload(host: str, challenge: str) -> bytes:
    """The bytes the owner signs to log in at ``host`` with ``challenge``."""
    return _CONTEXT + f"{host}\n{challenge}".encode()


def raw_public_key(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """A key's 32 raw public bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OwnerLogin(BaseModel):
    """The body of ``POST /owner/api/login``: a password, or a signed challenge."""

    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(default=None, min_length=1, max_length=1024)
    challenge: str | None = Field(default=None, min_length=1, max_length=128)
    public_key: str | None = Field(default=None, min_length=1, max_length=128)
    signature: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="after")
    def _one_way(self) -> OwnerLogin:
        signed = (self.challenge, self.public_key, self.signature)
        if self.password is not None and any(v is not None for v in signed):
            raise ValueError("give a password or a signed challenge, not both")
        if self.password is None and not all(v is not None for v in signed):
            raise ValueError("give the password, or challenge, public_key and signature")
        return self


@dataclass(slots=True)
class _Challenge:
    address: str
    expires: float
    used: bool = False


class LoginChallenges:
    """Outstanding login challenges: one-time, short-lived, bound to the address asking.

    A spent or expired challenge is remembered for another ``ttl`` so that
    its refusal (and audit record) can say "replayed" or "expired" rather
    than just "unknown".
    """

    def __init__(self, ttl: float = 60.0, *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.ttl = ttl
        #: The time source (monotonic seconds); tests move it.
        self.clock = clock
        self._issued: OrderedDict[str, _Challenge] = OrderedDict()

    def issue(self, address: str) -> str:
        """A new challenge for ``address``."""
        now = self.clock()
        while self._issued:
            oldest = next(iter(self._issued.values()))
            if oldest.expires + self.ttl > now and len(self._issued) < _MAX_CHALLENGES:
                break
            self._issued.popitem(last=False)
        challenge = secrets.token_urlsafe(32)
        self._issued[_digest(challenge)] = _Challenge(address, now + self.ttl)
        return challenge

    def redeem(self, challenge: str, address: str) -> str | None:
        """Spend ``challenge`` presented by ``address``: ``None`` if good, else why not.

        A challenge presented from another address is refused without being
        spent, so that nobody else can burn the owner's challenge.
        """
        found = self._issued.get(_digest(challenge))
        if found is None:
            return "unknown challenge"
        if found.used:
            return "challenge already used (replayed)"
        if not hmac.compare_digest(found.address.encode(), address.encode()):
            return "challenge issued to another address"
        found.used = True
        if found.expires <= self.clock():
            return "challenge expired"
        return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_signature(allowed: dict[bytes, Ed25519PublicKey], host: str, body: OwnerLogin
                    ) -> tuple[str | None, str]:
    """Check a signed challenge's key and signature: ``(refusal or None, key id)``."""
    assert body.public_key is not None and body.signature is not None
    assert body.challenge is not None
    try:
        raw = _unb64(body.public_key)
        signature = _unb64(body.signature)
        presented = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        return "malformed public key or signature", ""
    kid = key_id(presented)
    key = allowed.get(raw)
    if key is None:
        return "key not allowed to log in", kid
    try:
        key.verify(signature, login_payload(host, body.challenge))
    except InvalidSignature:
        return "signature does not verify", kid
    return None, kid


class OwnerKeyAuth(httpx.Auth):
    """Logs an `httpx` client in as the owner with a key, then sends the session on each call.

    On the first call (and again once if a call answers 401, e.g. after
    the session expired) it fetches a challenge, signs it and logs in; every
    call then carries the session cookie and the CSRF token, so state
    changes work too. The key must be one the site file allows::

        async with httpx.AsyncClient(base_url="http://127.0.0.1:8080",
                                     auth=OwnerKeyAuth(key)) as owner:
            overview = (await owner.get("/owner/api/overview")).json()
    """

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        #: The key id the gateway sees (``camsdk.privacy.key_id``).
        self.key_id = key_id(private_key)
        #: The session cookie's value and its CSRF token, once logged in.
        self.session: str | None = None
        self.csrf: str | None = None

    # Each step builds a request or reads a response; the I/O is done by the flows below.
    def _challenge_request(self, request: httpx.Request) -> httpx.Request:
        return httpx.Request("GET", request.url.copy_with(path=CHALLENGE_PATH, query=None))

    def _login_request(self, request: httpx.Request, challenge: httpx.Response) -> httpx.Request:
        if challenge.status_code != 200:
            raise httpx.HTTPStatusError(f"login challenge refused ({challenge.status_code})",
                                        request=challenge.request, response=challenge)
        text = str(challenge.json()["challenge"])
        host = request.headers.get("host") or request.url.netloc.decode("ascii")
        body = {"challenge": text, "public_key": _b64(raw_public_key(self._key)),
                "signature": _b64(self._key.sign(login_payload(host, text)))}
        return httpx.Request("POST", request.url.copy_with(path=LOGIN_PATH, query=None),
                             json=body, headers={"Host": host})

    def _logged_in(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise httpx.HTTPStatusError(f"owner key login refused ({response.status_code})",
                                        request=response.request, response=response)
        session = response.cookies.get(COOKIE)
        if not session:
            raise httpx.HTTPStatusError("owner key login set no session",
                                        request=response.request, response=response)
        self.session, self.csrf = session, str(response.json()["csrf"])

    def _with_session(self, request: httpx.Request) -> httpx.Request:
        request.headers["Cookie"] = f"{COOKIE}={self.session}"
        request.headers["X-CSRF-Token"] = self.csrf or ""
        return request

    def sync_auth_flow(self, request: httpx.Request
                       ) -> Generator[httpx.Request, httpx.Response, None]:
        """Log in when needed, then send ``request`` with the session (sync clients)."""
        for attempt in range(2):
            if self.session is None or attempt:
                challenge = yield self._challenge_request(request)
                challenge.read()
                answer = yield self._login_request(request, challenge)
                answer.read()
                self._logged_in(answer)
            response = yield self._with_session(request)
            if response.status_code != 401:
                return

    async def async_auth_flow(self, request: httpx.Request
                              ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Log in when needed, then send ``request`` with the session (async clients)."""
        for attempt in range(2):
            if self.session is None or attempt:
                challenge = yield self._challenge_request(request)
                await challenge.aread()
                answer = yield self._login_request(request, challenge)
                await answer.aread()
                self._logged_in(answer)
            response = yield self._with_session(request)
            if response.status_code != 401:
                return


def login_routes(gw: Gateway) -> list[BaseRoute]:
    """The routes that open and close owner sessions (see the module docstring)."""
    tls = gw.config.server.tls != "off"
    lifetime = gw.config.owner.session_minutes * 60

    def refuse(address: str, method: str, reason: str, status: int, message: str,
               **extra: Any) -> Response:
        gw.login_guard.failed(address)
        gw.audit.write({"event": "owner.login", "allowed": False, "address": address,
                        "method": method, "reason": reason, **extra})
        return error(status, message)

    async def challenge(request: Request) -> Response:
        address = client_address(request)
        wait = gw.login_guard.locked(address)
        if wait:
            return error(429, "too many failed logins; try again later",
                         {"Retry-After": str(int(wait) + 1)})
        if not gw.login_keys:
            return error(404, "no key may log in to this gateway")
        if not gw.challenge_limit.allow(address):
            return error(429, "too many login challenges; try again later",
                         {"Retry-After": str(int(gw.challenge_limit.retry_after(address)) + 1)})
        return JSONResponse({"challenge": gw.login_challenges.issue(address),
                             "expires_in": int(gw.login_challenges.ttl),
                             "signs": _CONTEXT.decode().strip()},
                            headers={"Cache-Control": "no-store"})

    async def login(request: Request) -> Response:
        address = client_address(request)
        wait = gw.login_guard.locked(address)
        if wait:
            gw.audit.write({"event": "owner.login", "allowed": False, "address": address,
                            "reason": "locked out"})
            return error(429, "too many failed logins; try again later",
                         {"Retry-After": str(int(wait) + 1)})
        if not same_origin(request):
            return error(403, "cross-site login refused")
        try:
            body = parse(await read_body(request, 4096), OwnerLogin)
        except HttpError as exc:
            return error(exc.status, str(exc))
        extra: dict[str, Any] = {}
        if body.password is not None:
            method = "password"
            stored = gw.config.owner.password_hash_value()
            ok = stored is not None and await asyncio.to_thread(verify_password, body.password,
                                                                stored)
            if not ok:
                return refuse(address, method, "wrong password", 401, "wrong password")
        else:
            method = "key"
            assert body.challenge is not None
            why = gw.login_challenges.redeem(body.challenge, address)
            why_key, kid = check_signature(gw.login_keys, request.headers.get("host", ""), body)
            if kid:
                extra["key_id"] = kid
            if why or why_key:
                return refuse(address, method, why or why_key or "", 401,
                              f"key login refused: {why or why_key}", **extra)
        gw.login_guard.succeeded(address)
        token, session = gw.sessions.open()
        gw.audit.write({"event": "owner.login", "allowed": True, "address": address,
                        "method": method, **extra})
        response = JSONResponse({"csrf": session.csrf})
        response.set_cookie(COOKIE, token, max_age=lifetime, path="/", httponly=True,
                            samesite="strict", secure=tls)
        return response

    async def logout(request: Request) -> Response:
        gw.sessions.close(request.cookies.get(COOKIE))
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE, path="/")
        return response

    async def session(request: Request) -> Response:
        current = gw.sessions.get(request.cookies.get(COOKIE))
        return JSONResponse({"csrf": current.csrf}) if current else error(401, "log in first")

    return [
        Route(CHALLENGE_PATH, challenge, methods=["GET"]),
        Route(LOGIN_PATH, login, methods=["POST"]),
        Route("/owner/api/logout", logout, methods=["POST"]),
        Route("/owner/api/session", session, methods=["GET"]),
    ]


def same_origin(request: Request) -> bool:
    """Whether a browser call comes from the gateway's own pages (no Origin: not a browser)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser cross-site call (browsers send Origin on POST)
    return urlsplit(origin).netloc == request.headers.get("host", "")
