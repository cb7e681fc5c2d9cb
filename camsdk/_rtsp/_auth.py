"""RTSP authentication: Basic and Digest (RFC 2617 / RFC 7616).

Digest supports MD5, MD5-sess, SHA-256 and SHA-256-sess, ``qop=auth`` (and
``auth-int`` for our body-less requests), ``opaque``, ``userhash``, and nonce
reuse with an incrementing ``nc``. A ``stale=true`` challenge means "right
password, old nonce": the client answers it without counting a failure.

Rules the client keeps: no credentials before the server asks (Basic is
never sent unprompted), the strongest offered scheme wins, and a second
rejection of the same credentials is final (devices lock accounts after a
few wrong passwords, so there is no retry loop).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass

from camsdk._errors import AuthenticationError

__all__ = ["Challenge", "DigestAnswerer", "parse_challenges"]

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')
_SCHEME = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)")
_MAX_CHALLENGES = 8
_HASHES = {"MD5": "md5", "SHA-256": "sha256"}
# Preference when a server offers several (RFC 7616 asks for the strongest first).
_STRENGTH = {"SHA-256": 3, "SHA-256-SESS": 3, "MD5": 2, "MD5-SESS": 2}


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def algorithm(self) -> str:
        """Digest algorithm, upper case (MD5 when absent)."""
        return (self.params.get("algorithm") or "MD5").upper()

    @property
    def stale(self) -> bool:
        """Whether the server says only the nonce was out of date."""
        return self.params.get("stale", "").lower() == "true"


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Every challenge in the ``WWW-Authenticate`` values (several may share one header)."""
    out: list[Challenge] = []
    for value in values[:_MAX_CHALLENGES]:
        pos = 0
        text = value[:4096]
        while pos < len(text) and len(out) < _MAX_CHALLENGES:
            scheme = _SCHEME.match(text, pos)
            if scheme is None:
                break
            pos = scheme.end()
            params: dict[str, str] = {}
            while pos < len(text):
                param = _PARAM.match(text, pos)
                if param is None:
                    break
                # A bare token followed by a space starts the next challenge.
                quoted = param.group(2)
                value_text = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (
                    param.group(3)
                )
                params[param.group(1).lower()] = value_text
                pos = param.end()
            out.append(Challenge(scheme.group(1).lower(), params))
            if pos < len(text) and _SCHEME.match(text, pos) is None:
                break
    return out


def _hash(algorithm: str, text: str) -> str:
    name = _HASHES[algorithm.removesuffix("-SESS")]
    return hashlib.new(name, text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class DigestAnswerer:
    """Holds the server's current challenge and answers every request with it.

    `accept` takes a 401's challenges and says whether to send the request
    again; `authorization` gives the header for a request (or ``None`` while
    the server has not asked for credentials).
    """

    def __init__(self, username: str | None, password: str | None) -> None:
        self._username = username
        self._password = password or ""
        self._challenge: Challenge | None = None
        self._nc = 0
        self._stale_retries = 0

    @property
    def scheme(self) -> str | None:
        """``digest``, ``basic`` or ``None`` (the server has not asked yet)."""
        return self._challenge.scheme if self._challenge else None

    def reset(self) -> None:
        """Forget the challenge (a new server: it must ask again)."""
        self._challenge = None
        self._nc = 0
        self._stale_retries = 0

    def accept(self, values: list[str], *, sent: bool) -> None:
        """Take the challenges of a 401; raise `AuthenticationError` when retrying is pointless.

        ``sent`` says whether the rejected request carried credentials. A
        rejection of credentials is final unless the server marked the nonce
        stale (at most twice in a row, so a broken server cannot loop us).
        """
        if self._username is None:
            raise AuthenticationError("the camera needs credentials (pass a username and password)")
        chosen = _strongest(parse_challenges(values))
        if chosen is None:
            raise AuthenticationError(
                "the camera asks for an authentication scheme camsdk does not speak"
            )
        if sent:
            if not (chosen.scheme == "digest" and chosen.stale and self._stale_retries < 2):
                raise AuthenticationError("the camera rejected the credentials")
            self._stale_retries += 1
        else:
            self._stale_retries = 0
        if self._challenge is None or chosen.params.get("nonce") != self._challenge.params.get(
            "nonce"
        ):
            self._nc = 0
        self._challenge = chosen

    def succeeded(self) -> None:
        """A request was accepted: stale answers start counting afresh."""
        self._stale_retries = 0

    def authorization(self, method: str, uri: str) -> str | None:
        """The ``Authorization`` value for a request, or ``None`` before any challenge."""
        challenge = self._challenge
        if challenge is None or self._username is None:
            return None
        if challenge.scheme == "basic":
            token = f"{self._username}:{self._password}".encode()
            return "Basic " + base64.b64encode(token).decode("ascii")
        params = challenge.params
        algorithm = challenge.algorithm
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        self._nc += 1
        nc = f"{self._nc:08x}"
        cnonce = secrets.token_hex(8)
        ha1 = _hash(algorithm, f"{self._username}:{realm}:{self._password}")
        if algorithm.endswith("-SESS"):
            ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
        qops = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
        qop = "auth" if "auth" in qops else "auth-int" if "auth-int" in qops else None
        ha2 = _hash(algorithm, f"{method}:{uri}" + (
            f":{_hash(algorithm, '')}" if qop == "auth-int" else ""))
        username = self._username
        if params.get("userhash", "").lower() == "true":
            username = _hash(algorithm, f"{username}:{realm}")
        fields = [f'username="{_quote(username)}"', f'realm="{_quote(realm)}"',
                  f'nonce="{_quote(nonce)}"', f'uri="{_quote(uri)}"']
        if qop is not None:
            response = _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
            fields += [f"qop={qop}", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            response = _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{response}"')
        if "algorithm" in params:
            fields.append(f"algorithm={params['algorithm']}")
        if "opaque" in params:
            fields.append(f'opaque="{_quote(params["opaque"])}"')
        if params.get("userhash", "").lower() == "true":
            fields.append("userhash=true")
        return "Digest " + ", ".join(fields)


def _strongest(challenges: list[Challenge]) -> Challenge | None:
    best: Challenge | None = None
    best_rank = 0
    for challenge in challenges:
        if challenge.scheme == "digest":
            if "nonce" not in challenge.params:
                continue
            rank = _STRENGTH.get(challenge.algorithm, 0)
        elif challenge.scheme == "basic":
            rank = 1
        else:
            rank = 0
        if rank > best_rank:
            best, best_rank = challenge, rank
    return best
