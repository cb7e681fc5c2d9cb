"""Who a requester is: an Ed25519 key of their own, or a token the owner issued.

A requester with a key signs every API call::

    Authorization: Camsdk-Ed25519 key=<public key, base64url>, ts=<unix seconds>,
                   nonce=<random hex>, sig=<signature, base64url>

over ``camsdk-request-v1``, the method, the path with its query, ``ts``,
``nonce`` and the SHA-256 of the body, one per line. The gateway accepts a
timestamp within two minutes and each nonce once, so a captured call cannot
be replayed. The principal is ``key:<key_id>`` (`camsdk.privacy.key_id`):
grants name the key, so only its holder can use them.

A token the owner issued (``Authorization: Bearer cst_...``) names the
principal ``token:<name>``; the gateway keeps only its SHA-256.

`RequesterAuth` signs calls for an `httpx` client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..privacy import key_id

__all__ = [
    "Identity",
    "IdentityError",
    "NonceCache",
    "RequesterAuth",
    "TokenBook",
    "identify",
    "signing_payload",
]

_CONTEXT = b"camsdk-request-v1\n"
_SKEW = 120.0
_MAX_NONCES = 50_000
_PARAM = re.compile(r"\s*([a-z]+)=([A-Za-z0-9_\-=.]{1,200})\s*")
TOKEN_PREFIX = "cst_"


@dataclass(frozen=True, slots=True)
class Identity:
    """A requester as the gateway knows them: the principal id grants name."""

    principal: str
    kind: str  # "key" or "token"
    #: The public key (base64url) of a key requester, else "".
    public_key: str = ""


def signing_payload(method: str, target: str, ts: str, nonce: str, body: bytes) -> bytes:
    """The bytes a requester signs for one call (see the module docstring)."""
    digest = hashlib.sha256(body).hexdigest()
    return _CONTEXT + "\n".join((method.upper(), target, ts, nonce, digest)).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RequesterAuth(httpx.Auth):
    """Signs each call of an `httpx` client with the requester's Ed25519 key."""

    requires_request_body = True

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = _b64(raw)
        #: The principal id the gateway will know this requester by.
        self.principal = f"key:{key_id(private_key)}"

    def header(self, method: str, target: str, body: bytes = b"") -> str:
        """The ``Authorization`` value for one call."""
        ts = str(int(time.time()))
        nonce = secrets.token_hex(16)
        sig = self._key.sign(signing_payload(method, target, ts, nonce, body))
        return f"Camsdk-Ed25519 key={self.public_key}, ts={ts}, nonce={nonce}, sig={_b64(sig)}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the signature header (httpx calls this per request)."""
        target = request.url.raw_path.decode("ascii")
        request.headers["Authorization"] = self.header(request.method, target, request.content)
        yield request


class NonceCache:
    """Nonces seen within the accepted clock skew (bounded)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()

    def fresh(self, nonce: str, now: float) -> bool:
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if at > now - 2 * _SKEW and len(self._seen) < _MAX_NONCES:
                break
            del self._seen[oldest]
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        return True


class TokenBook:
    """Tokens the owner issued to requesters, kept as SHA-256 digests."""

    def __init__(self, digests: Mapping[str, str] | None = None) -> None:
        #: digest -> name
        self._by_digest: dict[str, str] = dict(digests or {})

    @staticmethod
    def digest(token: str) -> str:
        """The stored form of a token."""
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def issue(self, name: str) -> str:
        """A new token for requester ``name`` (shown once; only its digest is kept)."""
        if name in self._by_digest.values():
            raise ValueError(f"a token for {name!r} exists; withdraw it first")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._by_digest[self.digest(token)] = name
        return token

    def withdraw(self, name: str) -> bool:
        """Withdraw ``name``'s token; whether there was one."""
        for digest, holder in list(self._by_digest.items()):
            if holder == name:
                del self._by_digest[digest]
                return True
        return False

    def name_of(self, token: str) -> str | None:
        """Who holds ``token``, or ``None``."""
        presented = self.digest(token)
        for digest, name in self._by_digest.items():
            if hmac.compare_digest(digest, presented):
                return name
        return None

    def names(self) -> list[str]:
        """Requesters holding a token."""
        return sorted(self._by_digest.values())

    def export(self) -> dict[str, str]:
        """The digests, for saving."""
        return dict(self._by_digest)


class IdentityError(Exception):
    """The caller did not prove who they are (the text says why, without secrets)."""


def identify(
    authorization: str | None,
    method: str,
    target: str,
    body: bytes,
    *,
    tokens: TokenBook,
    nonces: NonceCache,
    clock: Callable[[], float] = time.time,
) -> Identity:
    """The requester behind a call's ``Authorization`` header; `IdentityError` if unproven."""
    if not authorization:
        raise IdentityError("no credentials: sign the call with your key or use your token")
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme == "Bearer":
        token = rest.strip()
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise IdentityError("malformed token")
        name = tokens.name_of(token)
        if name is None:
            raise IdentityError("unknown or withdrawn token")
        return Identity(f"token:{name}", "token")
    if scheme != "Camsdk-Ed25519":
        raise IdentityError("unsupported authorization scheme")
    params: dict[str, str] = {}
    for part in rest.split(","):
        match = _PARAM.fullmatch(part)
        if match is None:
            raise IdentityError("malformed signature header")
        params[match.group(1)] = match.group(2)
    try:
        key_text, ts, nonce, sig = params["key"], params["ts"], params["nonce"], params["sig"]
        public = Ed25519PublicKey.from_public_bytes(_unb64(key_text))
        signature = _unb64(sig)
        when = int(ts)
    except (KeyError, ValueError, binascii.Error) as exc:
        raise IdentityError("malformed signature header") from exc
    now = clock()
    if abs(now - when) > _SKEW:
        raise IdentityError("signature timestamp outside the accepted clock skew")
    try:
        public.verify(signature, signing_payload(method, target, ts, nonce, body))
    except InvalidSignature:
        raise IdentityError("signature does not verify") from None
    # The nonce is spent only by a valid signature: nobody can burn another's nonces.
    if not re.fullmatch(r"[0-9a-f]{16,64}", nonce) or not nonces.fresh(nonce, now):
        raise IdentityError("nonce reused or malformed (replayed call)")
    return Identity(f"key:{key_id(public)}", "key", key_text)

