"""Digest access authentication (RFC 7616), one implementation for HTTP and RTSP.

Reading ``WWW-Authenticate`` challenges, choosing the strongest Digest one,
and signing requests with it: algorithms MD5, SHA-256 and SHA-512-256 (and
their ``-sess`` forms), ``qop`` ``auth`` (``auth-int`` when the body is
known), ``opaque`` and ``userhash``. A `DigestSigner` keeps the current
challenge and counts ``nc`` up per request on the same nonce (devices refuse a
count they have seen, as a replay). The device HTTP client (`DeviceAuth`) and
the RTSP client (`DigestAnswerer`) keep their own retry rules around it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

__all__ = ["Challenge", "DigestSigner", "parse_challenges", "strongest_digest"]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
# Unquoted values as cameras send them: tokens, and base64 nonces with their '='.
_BARE_VALUE = re.compile(r'[^\s,"]+')
_MAX_CHALLENGES = 8
_MAX_HEADER = 4096
_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
# The strongest offered algorithm wins (RFC 7616 section 3.7).
_STRENGTH = {"SHA-512-256": 4, "SHA-256": 3, "MD5": 2}


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def algorithm(self) -> str:
        """The Digest algorithm, upper case (MD5 when absent)."""
        return (self.params.get("algorithm") or "MD5").upper()

    @property
    def stale(self) -> bool:
        """Whether the server says only the nonce was out of date (the password was right)."""
        return self.params.get("stale", "").strip().lower() == "true"

    @property
    def usable(self) -> bool:
        """A Digest challenge camsdk can answer: a nonce and a known algorithm."""
        return (
            self.scheme == "digest" and bool(self.params.get("nonce"))
            and self.algorithm.removesuffix("-SESS") in _HASHES
        )


def _skip(text: str, pos: int) -> int:
    """Past spaces and commas from ``pos``."""
    while pos < len(text) and text[pos] in " \t\r\n,":
        pos += 1
    return pos


def _parse_one(text: str, pos: int) -> tuple[Challenge | None, int]:
    """The challenge starting at ``pos`` and where the next one starts."""
    scheme = _TOKEN.match(text, pos)
    if scheme is None:
        return None, len(text)
    pos = scheme.end()
    params: dict[str, str] = {}
    while pos < len(text):
        pos = _skip(text, pos)
        name = _TOKEN.match(text, pos)
        if name is None:
            break
        after = name.end()
        while after < len(text) and text[after] in " \t":
            after += 1
        if after >= len(text) or text[after] != "=":
            break  # a bare token: the next challenge's scheme
        after += 1
        while after < len(text) and text[after] in " \t":
            after += 1
        quoted = _QUOTED.match(text, after)
        if quoted is not None:
            value = re.sub(r"\\(.)", r"\1", quoted.group(1))
            pos = quoted.end()
        else:
            bare = _BARE_VALUE.match(text, after)
            value = bare.group(0) if bare is not None else ""
            pos = bare.end() if bare is not None else after
        params[name.group(0).lower()] = value
    return Challenge(scheme.group(0).lower(), params), pos


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Every challenge in the ``WWW-Authenticate`` values (one value may hold several)."""
    out: list[Challenge] = []
    for value in values[:_MAX_CHALLENGES]:
        text = value[:_MAX_HEADER]
        pos = _skip(text, 0)
        while pos < len(text) and len(out) < _MAX_CHALLENGES:
            challenge, end = _parse_one(text, pos)
            if challenge is None or end <= pos:
                break
            out.append(challenge)
            pos = _skip(text, end)
    return out


def strongest_digest(challenges: list[Challenge]) -> Challenge | None:
    """The usable Digest challenge with the strongest algorithm, if any."""
    usable = [c for c in challenges if c.usable]
    if not usable:
        return None
    return max(usable, key=lambda c: _STRENGTH[c.algorithm.removesuffix("-SESS")])


def _hash(algorithm: str, text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    name = _HASHES[algorithm.removesuffix("-SESS")]
    return hashlib.new(name, data, usedforsecurity=False).hexdigest()


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class DigestSigner:
    """The server's current Digest challenge, and the ``Authorization`` it asks for."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password
        self.challenge: Challenge | None = None
        #: Requests signed with the current nonce (the next ``nc`` is one more).
        self.count = 0

    def adopt(self, challenge: Challenge) -> None:
        """Use ``challenge`` from now on; a new nonce starts counting at 1 again."""
        if self.challenge is None or challenge.params.get("nonce") != self.challenge.params.get(
            "nonce"
        ):
            self.count = 0
        self.challenge = challenge

    def forget(self) -> None:
        """Drop the challenge: nothing is signed until the server asks again."""
        self.challenge = None
        self.count = 0

    def authorization(self, method: str, uri: str, body: bytes | None) -> str | None:
        """The header value for one request (``None``: no challenge, or ``auth-int``
        asked for a body that is not known)."""
        challenge = self.challenge
        if challenge is None:
            return None
        params = challenge.params
        algorithm = challenge.algorithm
        qops = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            qop: str | None = "auth"
        elif "auth-int" in qops:
            if body is None:
                return None
            qop = "auth-int"
        else:
            qop = None
        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        self.count += 1
        nc = f"{self.count:08x}"
        cnonce = secrets.token_hex(8)
        ha1 = _hash(algorithm, f"{self._username}:{realm}:{self._password}")
        if algorithm.endswith("-SESS"):
            ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce}")
        a2 = f"{method}:{uri}"
        if qop == "auth-int":
            a2 += ":" + _hash(algorithm, body or b"")
        ha2 = _hash(algorithm, a2)
        username = self._username
        userhash = params.get("userhash", "").lower() == "true"
        if userhash:
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
        if userhash:
            fields.append("userhash=true")
        return "Digest " + ", ".join(fields)
