"""camsdk.cloud: what every cloud camera driver needs, built once.

- Tokens: `TokenSet` (one lineage of rotating tokens), `TokenStore` with
  `FileTokenStore` (crash-safe, 0600, one process per lineage) and
  `MemoryTokenStore`; a keyring-backed store with the ``keyring`` extra.
- Login as a state machine: `login` returns a `LoginFlow` that is done or
  waits on a `Challenge` (SMS, email, TOTP, an OAuth URL) the application
  answers with `LoginFlow.complete`; ``camsdk login <scheme>`` in a terminal.
- `CloudAccount`: one per account in a process: the lineage claim, shared
  refreshes (a rotated refresh token saved before it is used), the
  account's `RateLimiter` (token bucket, per-command spacing, penalties from
  "slow down" answers, no hot retries) and `Coalescer` for identical
  requests.
- `LeasedSource`: live sessions that expire, extended before they lapse and
  regenerated (a `Discontinuity`, not an end) when they cannot be.
- `CloudHubDriver`: the base of an account's hub driver, which also provides
  the vendor's login steps (`Authenticator`).
- `FeedWatchdog`: event-feed health is data received (restart when silent,
  poll meanwhile where the vendor can, CONNECTION events on changes).
- `CloudAudit`: the egress rule for cloud requests (account-level requests
  audited one by one, periodic ones summarised); `token_store` and
  `default_token_dir` for where tokens live; `KeyringTokenStore`.

See ``docs/cloud.md``.
"""

from __future__ import annotations

import abc
from typing import Any, TypeVar

from .._driver import DriverOptions, HubDriver
from .._models import Credentials
from ._account import CloudAccount
from ._egress import AuditHook, CloudAudit, request_record
from ._feed import FeedState, FeedWatchdog, connection_event
from ._keyring import KeyringTokenStore
from ._lease import LeasedSource, LeaseTerms
from ._login import Authenticator, Challenge, LoginFlow, login
from ._ratelimit import Coalescer, RateLimiter, retry_after
from ._stores import default_token_dir, token_store
from ._tokens import FileTokenStore, MemoryTokenStore, TokenSet, TokenStore

__all__ = [
    "AuditHook",
    "Authenticator",
    "Challenge",
    "CloudAccount",
    "CloudAudit",
    "CloudHubDriver",
    "Coalescer",
    "FeedState",
    "FeedWatchdog",
    "FileTokenStore",
    "KeyringTokenStore",
    "LeaseTerms",
    "LeasedSource",
    "LoginFlow",
    "MemoryTokenStore",
    "RateLimiter",
    "TokenSet",
    "TokenStore",
    "connection_event",
    "default_token_dir",
    "login",
    "request_record",
    "retry_after",
    "token_store",
]

OptionsT = TypeVar("OptionsT", bound=DriverOptions)


class CloudHubDriver(HubDriver[OptionsT], abc.ABC):
    """Base of a cloud account's hub driver: a hub that also knows how to log in."""

    @classmethod
    @abc.abstractmethod
    def authenticator(
        cls, *, account: str, credentials: Credentials | None = None, **options: Any
    ) -> Authenticator:
        """The vendor's login steps for ``account`` (used by `login` and ``camsdk login``)."""
