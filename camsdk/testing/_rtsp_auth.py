"""Server side of RTSP authentication for the test server, and its quirks.

`RtspQuirks` gathers the ways real cameras differ that clients must cope
with: where the base of control URLs comes from, how control URLs are
written, which Digest algorithm the server insists on, nonces that go stale,
which methods need credentials, initial RTP sequence numbers and timestamps.
`ServerAuth` checks Basic and Digest (MD5, MD5-sess, SHA-256; with or
without ``qop=auth``) answers and rotates nonces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from camsdk._rtsp._server_wire import auth_params

__all__ = ["AuthVerdict", "RtspQuirks", "ServerAuth"]

_HASHES = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256"}

AuthVerdict = Literal["ok", "stale", "denied"]


@dataclass(frozen=True, slots=True)
class RtspQuirks:
    """Behaviours of real cameras the test server can imitate (defaults: well-behaved).

    - ``content_base``: send ``Content-Base`` (``header``), ``Content-Location``
      (``location``) or neither (``none``: relative to the request URL);
      ``base_trailing_slash`` ends that base with ``/``.
    - ``control``: per-track ``a=control`` written ``relative`` (``trackID=0``),
      ``absolute`` (full URL), ``path`` (``/stream/trackID=0``) or
      ``other_host`` (an absolute URL naming 10.255.255.1, as NATed cameras do).
    - ``public``: the ``Public`` header of OPTIONS (``None``: every method).
    - ``digest_algorithm``, ``qop``, ``basic``, ``digest``: what the 401
      offers and accepts. ``nonce_uses``: a nonce goes stale after that many
      requests (answered with ``stale=true``). ``protected``: methods that
      need credentials (``None``: all but OPTIONS).
    - ``initial_seq``, ``initial_rtptime``: the first RTP sequence number and
      timestamp of every track (``None``: random), to test wrap-around.
    - ``sprop``: put the parameter sets in the SDP (``sprop-parameter-sets``,
      ``sprop-vps/sps/pps``); without them clients must take them in band.
    - ``udp_silent``: accept UDP SETUPs but never send a datagram (a firewall
      in between), so clients must notice and fall back to TCP.
    """

    content_base: Literal["header", "location", "none"] = "header"
    base_trailing_slash: bool = True
    control: Literal["relative", "absolute", "path", "other_host"] = "relative"
    public: str | None = None
    digest_algorithm: Literal["MD5", "MD5-sess", "SHA-256"] = "MD5"
    qop: bool = True
    basic: bool = True
    digest: bool = True
    nonce_uses: int | None = None
    protected: frozenset[str] | None = None
    initial_seq: int | None = None
    initial_rtptime: int | None = None
    udp_silent: bool = False
    sprop: bool = True


def _hash(algorithm: str, text: str) -> str:
    return hashlib.new(_HASHES[algorithm.upper()], text.encode("utf-8"),
                       usedforsecurity=False).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class ServerAuth:
    """Checks credentials the way the quirks say; rotates Digest nonces."""

    def __init__(self, username: str, password: str, realm: str, quirks: RtspQuirks) -> None:
        self._username = username
        self._password = password
        self._realm = realm
        self._quirks = quirks
        self._nonce = secrets.token_hex(16)
        self._uses = 0
        self._old: set[str] = set()
        #: Digest answers accepted, stale nonces answered, requests refused.
        self.accepted = 0
        self.stale = 0
        self.denied = 0

    def challenge(self, *, stale: bool = False) -> list[tuple[str, str]]:
        """The ``WWW-Authenticate`` headers of a 401."""
        headers: list[tuple[str, str]] = []
        q = self._quirks
        if q.digest:
            value = (f'Digest realm="{self._realm}", nonce="{self._nonce}", '
                     f"algorithm={q.digest_algorithm}")
            if q.qop:
                value += ', qop="auth"'
            if stale:
                value += ", stale=true"
            headers.append(("WWW-Authenticate", value))
        if q.basic:
            headers.append(("WWW-Authenticate", f'Basic realm="{self._realm}"'))
        return headers

    def check(self, method: str, authorization: str) -> AuthVerdict:
        """Whether a request's ``Authorization`` header lets it through.

        Requests without credentials are refused but not counted in `denied`.
        """
        if not authorization.strip():
            return "denied"
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "basic" and self._quirks.basic:
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return self._deny()
            user, sep, password = decoded.partition(":")
            ok = bool(sep) and _same(user, self._username) & _same(password, self._password)
            return "ok" if ok else self._deny()
        if scheme.lower() == "digest" and self._quirks.digest:
            return self._digest(method, auth_params(rest))
        return self._deny()

    def _deny(self) -> AuthVerdict:
        self.denied += 1
        return "denied"

    def _digest(self, method: str, params: dict[str, str]) -> AuthVerdict:
        try:
            username, realm, nonce = params["username"], params["realm"], params["nonce"]
            uri, response = params["uri"], params["response"]
        except KeyError:
            return self._deny()
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm != self._quirks.digest_algorithm.upper():
            return self._deny()
        if not (_same(username, self._username) and realm == self._realm):
            return self._deny()
        ha1 = _hash(algorithm, f"{username}:{realm}:{self._password}")
        qop = params.get("qop")
        if algorithm.endswith("-SESS"):
            ha1 = _hash(algorithm, f"{ha1}:{nonce}:{params.get('cnonce', '')}")
        ha2 = _hash(algorithm, f"{method}:{uri}")
        if qop is None:  # RFC 2069 answers are accepted too
            expected = _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
        elif qop == "auth" and "nc" in params and "cnonce" in params:
            expected = _hash(algorithm,
                             f"{ha1}:{nonce}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        else:
            return self._deny()
        if not _same(expected, response.lower()):
            return self._deny()
        if not _same(nonce, self._nonce):
            if nonce in self._old:
                self.stale += 1
                return "stale"
            return self._deny()
        self.accepted += 1
        self._uses += 1
        if self._quirks.nonce_uses is not None and self._uses >= self._quirks.nonce_uses:
            self._old.add(self._nonce)
            self._nonce = secrets.token_hex(16)
            self._uses = 0
        return "ok"
