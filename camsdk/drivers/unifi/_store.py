"""What a console session keeps between runs: its cookie and CSRF token, and the pin.

A stored session is bound to the password that made it (a salted scrypt
check value beside it): a caller with another password never rides on it.
Both live in a `camsdk.cloud` token store (``session_dir=`` for a
`FileTokenStore`, ``token_store=`` for any store; by default one store per
process, so a camera opened again later does not log in again). Accounts
are keyed by console and user; the pinned certificate by console alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
from typing import Any

from pydantic import SecretStr

from camsdk.cloud import FileTokenStore, MemoryTokenStore, TokenSet, TokenStore

__all__ = ["SessionStore"]

SCHEME = "unifi"
_PROCESS_STORE = MemoryTokenStore()
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def _account(*parts: str) -> str:
    # Store keys allow a few characters only: keep the readable part, add a digest.
    text = "-".join(parts)
    readable = _UNSAFE.sub("_", text)[:80].lstrip("._@+-") or "console"
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


class SessionStore:
    """The login session and certificate pin of one console, in a token store."""

    def __init__(self, host: str, port: int, user: str, *, store: Any = None,
                 directory: str | None = None) -> None:
        chosen: TokenStore
        if store is not None:
            chosen = store
        elif directory is not None:
            chosen = FileTokenStore(directory)
        else:
            chosen = _PROCESS_STORE
        self.store = chosen
        self._session_account = _account(host, str(port), user)
        self._pin_account = _account("pin", host, str(port))

    async def load_session(self, password: str) -> tuple[str, str] | None:
        """The stored cookie and CSRF tokens, if they were made with ``password``."""
        tokens = await self.store.load(SCHEME, self._session_account)
        if tokens is None or not tokens.access_token.get_secret_value():
            return None
        salt, check = tokens.extra.get("salt", ""), tokens.extra.get("check", "")
        try:
            expected = await asyncio.to_thread(_check_value, password, bytes.fromhex(salt))
        except ValueError:
            return None
        if not check or not hmac.compare_digest(expected, check):
            return None
        return tokens.access_token.get_secret_value(), tokens.extra.get("csrf", "")

    async def save_session(self, token: str, csrf: str, password: str) -> None:
        """Keep the cookie and CSRF tokens, bound to ``password`` (durably, with a file store)."""
        salt = os.urandom(16)
        check = await asyncio.to_thread(_check_value, password, salt)
        await self.store.save(TokenSet(
            scheme=SCHEME, account=self._session_account, access_token=SecretStr(token),
            extra={"csrf": csrf, "salt": salt.hex(), "check": check},
        ))

    async def forget_session(self) -> None:
        """Drop a session the console refused."""
        await self.store.delete(SCHEME, self._session_account)

    async def load_pin(self) -> str | None:
        """The pinned SHA-256 fingerprint, or ``None`` before the first use."""
        tokens = await self.store.load(SCHEME, self._pin_account)
        return tokens.extra.get("sha256") if tokens is not None else None

    async def save_pin(self, fingerprint: str) -> None:
        """Pin ``fingerprint`` for this console."""
        await self.store.save(TokenSet(scheme=SCHEME, account=self._pin_account,
                                       extra={"sha256": fingerprint}))


def _check_value(password: str, salt: bytes) -> str:
    # scrypt: the check value must not make the password cheap to guess from the store.
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**14, r=8, p=1,
                          dklen=32).hex()
