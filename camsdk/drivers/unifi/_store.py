"""What a console session keeps between runs: its cookie and CSRF token, and the pin.

Both live in a `camsdk.cloud` token store (``session_dir=`` for a
`FileTokenStore`, ``token_store=`` for any store; by default one store per
process, so a camera opened again later does not log in again). Accounts
are keyed by console and user; the pinned certificate by console alone.
"""

from __future__ import annotations

import hashlib
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

    async def load_session(self) -> tuple[str, str] | None:
        """The stored cookie token and CSRF token, or ``None``."""
        tokens = await self.store.load(SCHEME, self._session_account)
        if tokens is None or not tokens.access_token.get_secret_value():
            return None
        return tokens.access_token.get_secret_value(), tokens.extra.get("csrf", "")

    async def save_session(self, token: str, csrf: str) -> None:
        """Keep the cookie token and CSRF token (durably, with a file store)."""
        await self.store.save(TokenSet(
            scheme=SCHEME, account=self._session_account, access_token=SecretStr(token),
            extra={"csrf": csrf},
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
