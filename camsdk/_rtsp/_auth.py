"""RTSP authentication: Basic and Digest (RFC 2617 / RFC 7616).

Digest is camsdk's one implementation (`camsdk._digest_auth`, shared with the
device HTTP client): MD5, SHA-256 and SHA-512-256 and their ``-sess`` forms,
``qop=auth`` (and ``auth-int`` for our body-less requests), ``opaque``,
``userhash``, and nonce reuse with an incrementing ``nc``. A ``stale=true``
challenge means "right password, old nonce": the client answers it without
counting a failure.

Rules the client keeps: no credentials before the server asks (Basic is
never sent unprompted), the strongest offered scheme wins, and a second
rejection of the same credentials is final (devices lock accounts after a
few wrong passwords, so there is no retry loop).
"""

from __future__ import annotations

import base64

from camsdk._digest_auth import Challenge, DigestSigner, parse_challenges, strongest_digest
from camsdk._errors import AuthenticationError

__all__ = ["Challenge", "DigestAnswerer", "parse_challenges"]


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
        self._digest = DigestSigner(username or "", self._password)
        self._stale_retries = 0

    @property
    def scheme(self) -> str | None:
        """``digest``, ``basic`` or ``None`` (the server has not asked yet)."""
        return self._challenge.scheme if self._challenge else None

    def reset(self) -> None:
        """Forget the challenge (a new server: it must ask again)."""
        self._challenge = None
        self._digest.forget()
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
        if chosen.scheme == "digest":
            self._digest.adopt(chosen)
        else:
            self._digest.forget()
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
        return self._digest.authorization(method, uri, b"")


def _strongest(challenges: list[Challenge]) -> Challenge | None:
    # Any usable Digest beats Basic; Basic is answered only when asked for.
    digest = strongest_digest(challenges)
    if digest is not None:
        return digest
    return next((c for c in challenges if c.scheme == "basic"), None)
