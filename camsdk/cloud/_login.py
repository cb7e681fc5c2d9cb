"""Logging in to a cloud account: an explicit state machine, not a callback.

``flow = await camsdk.cloud.login("ring", account="home", credentials=...,
store=...)`` returns a `LoginFlow` that is either done (tokens stored) or
waiting on a `Challenge` (a code sent by SMS or email, a TOTP code, an OAuth
authorization URL to open); the application shows the challenge whenever and
however it likes, then ``await flow.complete(code)``. Nothing blocks on a
prompt inside the library; ``camsdk login <scheme>`` drives the same flow in
a terminal.

A cloud hub driver provides the vendor's steps as an `Authenticator`
(``begin`` -> tokens or a challenge; ``answer(code)`` -> the same), from its
classmethod ``authenticator(...)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from .._errors import ConfigurationError
from .._lifecycle import AsyncResource
from .._models import Credentials
from ._tokens import TokenSet, TokenStore

__all__ = ["Authenticator", "Challenge", "LoginFlow", "login"]

ChallengeKind = Literal["sms", "email", "totp", "oauth", "push", "other"]


class Challenge(BaseModel):
    """What the account asks for before it hands out tokens."""

    model_config = ConfigDict(frozen=True)

    kind: ChallengeKind = Field(description="sms, email, totp, oauth (open a URL), push, other")
    message: str = Field(default="", description="what to tell the user, from the service")
    destination: str = Field(default="", description="where a code went (masked), if known")
    authorization_url: str | None = Field(
        default=None, description="oauth: the page the user opens to grant access"
    )
    expires_at: datetime | None = Field(default=None, description="when the challenge lapses")


class Authenticator(Protocol):
    """A vendor's login steps (implemented by cloud drivers)."""

    async def begin(self) -> TokenSet | Challenge:
        """Start: tokens at once, or the first challenge."""
        ...

    async def answer(self, code: str) -> TokenSet | Challenge:
        """Answer the current challenge: tokens, or another challenge."""
        ...

    async def aclose(self) -> None:
        """Release what the steps held (HTTP connections)."""
        ...


class LoginFlow(AsyncResource):
    """One login in progress (see the module docstring). Tokens are stored when it is done."""

    def __init__(self, scheme: str, account: str, authenticator: Authenticator,
                 store: TokenStore) -> None:
        self.scheme = scheme
        self.account = account
        self._authenticator = authenticator
        self._store = store
        #: The challenge to answer, while the flow waits for one.
        self.challenge: Challenge | None = None
        #: The tokens, once the flow is done (already saved to the store).
        self.tokens: TokenSet | None = None

    def __repr__(self) -> str:
        state = "done" if self.done else f"waiting for {self.challenge.kind}" if self.challenge \
            else "new"
        return f"<LoginFlow {self.scheme}:{self.account} {state}>"

    @property
    def done(self) -> bool:
        """Whether the account's tokens are stored."""
        return self.tokens is not None

    async def _settle(self, step: TokenSet | Challenge) -> LoginFlow:
        if isinstance(step, TokenSet):
            await self._store.save(step)
            self.tokens, self.challenge = step, None
            await self._authenticator.aclose()
        else:
            self.challenge = step
        return self

    async def start(self) -> LoginFlow:
        """Begin the login (`login` does this)."""
        return await self._settle(await self._authenticator.begin())

    async def complete(self, code: str) -> LoginFlow:
        """Answer the challenge with ``code`` (for OAuth: the code, or the redirect URL)."""
        if self.challenge is None:
            raise ConfigurationError("this login is not waiting for a code", scheme=self.scheme)
        if not isinstance(code, str) or not code.strip():
            raise ConfigurationError("the code is a non-empty string", scheme=self.scheme)
        return await self._settle(await self._authenticator.answer(code.strip()))

    async def aclose(self) -> None:
        """Abandon the flow (what is stored stays)."""
        await self._authenticator.aclose()


async def login(
    scheme: str,
    *,
    account: str,
    store: TokenStore,
    credentials: Credentials | None = None,
    **options: Any,
) -> LoginFlow:
    """Log in to ``account`` of the cloud driver for ``scheme``; see the module docstring.

    ``options`` go to the driver's authenticator (an OAuth client id, a
    project id ...).
    """
    from .._registry import load_hub

    hub = load_hub(scheme)
    make = getattr(hub, "authenticator", None)
    if make is None:
        raise ConfigurationError(f"{scheme}:// has no cloud login", scheme=scheme)
    if credentials is not None and not isinstance(credentials, Credentials):
        raise ConfigurationError("credentials must be camsdk.Credentials", scheme=scheme)
    authenticator: Authenticator = make(account=account, credentials=credentials, **options)
    flow = LoginFlow(scheme, account, authenticator, store)
    try:
        return await flow.start()
    except BaseException:
        await flow.aclose()
        raise
