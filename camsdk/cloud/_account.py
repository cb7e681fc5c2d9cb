"""`CloudAccount`: one account's token lifecycle and request budget, shared in a process.

Every camera and the hub of one account share one `CloudAccount` (use
`camsdk.driver.DeviceSessions` keyed by scheme and account): it owns the
token lineage (claimed in the `TokenStore`, so a second process is refused),
refreshes the access token once for everybody when it is about to expire
(and once when the service answers 401), persists a rotated refresh token
*before* the new access token is used, and holds the account's
`RateLimiter`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from .._errors import ReauthRequiredError
from .._log import get_logger
from ._ratelimit import RateLimiter
from ._tokens import TokenSet, TokenStore

__all__ = ["CloudAccount"]

log = get_logger("camsdk.cloud")

Refresh = Callable[[TokenSet], Awaitable[TokenSet]]


class CloudAccount:
    """Tokens and limits of one cloud account (see the module docstring). No I/O until `open`.

    ``refresh`` is the vendor's refresh call: given the current tokens, it
    returns the next ones (a `TokenSet.rotated` copy), or raises
    `ReauthRequiredError` when the grant is dead. ``refresh_margin`` seconds
    before expiry the token counts as expired.
    """

    def __init__(
        self,
        *,
        scheme: str,
        account: str,
        store: TokenStore,
        refresh: Refresh,
        limiter: RateLimiter | None = None,
        refresh_margin: float = 60.0,
        reauth_hint: str = "",
    ) -> None:
        self.scheme = scheme
        self.account = account
        self.store = store
        self.limiter = limiter or RateLimiter(rate=5.0, burst=10)
        self.refresh_margin = refresh_margin
        self._refresh_call = refresh
        self._reauth_hint = reauth_hint or f"log in again: camsdk login {scheme}"
        self._tokens: TokenSet | None = None
        self._lock = asyncio.Lock()
        self._claim: contextlib.AbstractAsyncContextManager[None] | None = None
        #: Refreshes done (tests and benchmarks count them).
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"<CloudAccount {self.scheme}:{self.account}>"

    @property
    def tokens(self) -> TokenSet:
        """The current tokens (after `open`)."""
        if self._tokens is None:
            raise ReauthRequiredError(
                f"no tokens for {self.scheme} account {self.account!r}", scheme=self.scheme,
                reason="not logged in", action=self._reauth_hint,
            )
        return self._tokens

    async def open(self) -> CloudAccount:
        """Claim the lineage and load the stored tokens; `ReauthRequiredError` without any."""
        claim = self.store.claim(self.scheme, self.account)
        await claim.__aenter__()
        self._claim = claim
        try:
            tokens = await self.store.load(self.scheme, self.account)
            if tokens is None:
                raise ReauthRequiredError(
                    f"no stored tokens for {self.scheme} account {self.account!r}",
                    scheme=self.scheme, reason="not logged in", action=self._reauth_hint,
                )
            self._tokens = tokens
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        """Release the lineage (tokens stay stored). Idempotent."""
        claim, self._claim = self._claim, None
        if claim is not None:
            await claim.__aexit__(None, None, None)

    async def access_token(self) -> str:
        """A valid access token, refreshed first (once for every caller) when about to expire."""
        tokens = self.tokens
        if tokens.expired(margin=self.refresh_margin):
            tokens = await self._refresh(tokens)
        return tokens.access_token.get_secret_value()

    async def refresh_after_401(self, rejected: str | None = None) -> str:
        """The service refused ``rejected``: refresh once (shared), return the new access token.

        When the current token is no longer ``rejected`` (another request
        refreshed meanwhile), the current one is returned without a refresh.
        """
        current = self.tokens
        if rejected is not None and current.access_token.get_secret_value() != rejected:
            return current.access_token.get_secret_value()
        tokens = await self._refresh(current, forced=True)
        return tokens.access_token.get_secret_value()

    async def _refresh(self, stale: TokenSet, *, forced: bool = False) -> TokenSet:
        async with self._lock:
            current = self.tokens
            if current.generation != stale.generation or (
                not forced and not current.expired(margin=self.refresh_margin)
            ):
                return current  # another caller refreshed while we waited
            fresh = await self._refresh_call(current)
            # Persist first: a rotated refresh token lost to a crash is a lost login.
            await self.store.save(fresh)
            self._tokens = fresh
            self.refreshes += 1
            log.debug("%s account %s: tokens refreshed (generation %d)", self.scheme,
                      self.account, fresh.generation)
            return fresh
