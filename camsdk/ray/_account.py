"""`AccountActor`: one per cloud account in the cluster, holding its token lineage and limits.

A `camsdk.cloud.CloudAccount` is one process's account: it claims the token
lineage in its `FileTokenStore` (a second process is refused) and owns the
account's `RateLimiter`. In a cluster, the actor is that one process: every
worker asks it for a valid access token and for its turn under the
vendor's limits, so no two workers rotate the same refresh token and the
account's budget is counted once. A rotated refresh token is saved before
it is used, so an actor that restarts (Ray restarts it, on another node if
its node died) reads the current tokens back and does not refresh again.
The token directory must be reachable from every node that may run the
actor (shared storage), or the actor pinned to one node.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any

from .._errors import CamError, ConfigurationError
from ..cloud import CloudAccount, FileTokenStore, RateLimiter, TokenSet
from ._config import FleetAccount
from ._wire import Reply

__all__ = ["AccountActor", "account_actor_name", "load_refresh"]


def account_actor_name(scheme: str, account: str) -> str:
    """The Ray actor name of an account."""
    return f"account:{scheme}:{account}"


def load_refresh(target: str) -> Any:
    """The refresh function named ``"module:function"``."""
    module_name, _, attr = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load the refresh call {target!r}: {exc}") from None
    if not callable(function):
        raise ConfigurationError(f"the refresh call {target!r} is not callable")
    return function


class AccountActor:
    """The cluster's one holder of an account's tokens and limits. Made remote by the fleet."""

    def __init__(self, settings_json: str) -> None:
        self.settings = FleetAccount.model_validate_json(settings_json)
        self._account: CloudAccount | None = None
        # Concurrent first calls must open the account once: a second claim is refused.
        self._opening = asyncio.Lock()

    async def _opened(self) -> CloudAccount:
        if self._account is not None:
            return self._account
        async with self._opening:
            if self._account is not None:
                return self._account
            s = self.settings
            account = CloudAccount(
                scheme=s.scheme, account=s.account, store=FileTokenStore(s.token_dir),
                refresh=load_refresh(s.refresh),
                limiter=RateLimiter(s.rate, s.burst, spacing=s.spacing),
                refresh_margin=s.refresh_margin,
            )
            await account.open()
            self._account = account
        return self._account

    async def _serve(self, call: Any) -> Reply[Any]:
        try:
            return Reply("ok", await call())
        except CamError as exc:
            return Reply("error", error=exc)

    async def access_token(self) -> Reply[str]:
        """A valid access token, refreshed first (once, cluster-wide) when about to expire."""

        async def call() -> str:
            return await (await self._opened()).access_token()

        return await self._serve(call)

    async def refresh_after_401(self, rejected: str | None) -> Reply[str]:
        """The service refused ``rejected``: refresh once (shared) and return the new token."""

        async def call() -> str:
            return await (await self._opened()).refresh_after_401(rejected)

        return await self._serve(call)

    async def acquire(self, kind: str | None, max_wait: float) -> Reply[None]:
        """Wait for a request's turn under the account's limits (cluster-wide)."""

        async def call() -> None:
            await (await self._opened()).limiter.acquire(kind, max_wait=max_wait)

        return await self._serve(call)

    async def penalize(self, retry_after: float) -> Reply[None]:
        """The service said "slow down": hold every worker's requests for ``retry_after`` s."""

        async def call() -> None:
            (await self._opened()).limiter.penalize(retry_after)

        return await self._serve(call)

    async def stats(self) -> Reply[dict[str, Any]]:
        """Refreshes by this process, the token generation, waits: for tests and status."""

        async def call() -> dict[str, Any]:
            account = await self._opened()
            tokens: TokenSet = account.tokens
            return {"pid": os.getpid(), "refreshes": account.refreshes,
                    "generation": tokens.generation,
                    "waits": account.limiter.waits, "blocked_for": account.limiter.blocked_for}

        return await self._serve(call)
