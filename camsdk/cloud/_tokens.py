"""Tokens of cloud accounts, and where they are kept between runs.

What goes wrong with cloud cameras, again and again, is the refresh token:
a rotated one lost on a restart, or two processes refreshing the same one
(each logs the other out; some services then lock the account for hours).
So:

- a `TokenSet` belongs to a *lineage* (one login and every rotation after
  it) and counts its ``generation``;
- `FileTokenStore` writes a token set crash-safely (temporary file, fsync,
  rename, fsync of the directory, mode 0600): after a crash at any point the
  file holds the old set or the new one, never neither;
- one process at a time owns a lineage: `TokenStore.claim` takes an
  exclusive lock that a second process is refused (`TokenLineageInUseError`)
  instead of silently invalidating the first;
- a rotated refresh token is saved *before* the new access token is used
  (`CloudAccount` does this), so a crash cannot lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_serializer

from .._errors import ConfigurationError, TokenLineageInUseError
from .._log import register_secret
from .._private_file import write_private

try:  # POSIX: one owner per lineage, across processes.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileTokenStore", "MemoryTokenStore", "TokenSet", "TokenStore"]

_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


def _now() -> datetime:
    return datetime.now(UTC)


class TokenSet(BaseModel):
    """The tokens of one cloud account. Secrets are `SecretStr`: they print as ``**********``."""

    model_config = ConfigDict(frozen=True)

    scheme: str = Field(description="the driver's scheme, e.g. nest or ring")
    account: str = Field(description="the account's id in its scheme")
    access_token: SecretStr = Field(default=SecretStr(""), description="short-lived bearer token")
    refresh_token: SecretStr | None = Field(default=None, description="long-lived; may rotate")
    expires_at: datetime | None = Field(default=None, description="when the access token dies")
    lineage: str = Field(default_factory=lambda: uuid.uuid4().hex,
                         description="one login and all its rotations share it")
    generation: int = Field(default=0, ge=0, description="rotations since the login")
    issued_at: datetime = Field(default_factory=_now)
    #: Per-install facts that must survive with the tokens (a hardware id, a push
    #: registration); values may be secrets, so they are never logged.
    extra: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_serializer("access_token", "refresh_token")
    def _reveal(self, value: SecretStr | None) -> str | None:
        # Serialised only into a token store; never into logs (repr masks it).
        return value.get_secret_value() if value is not None else None

    def expired(self, *, margin: float = 0.0, now: datetime | None = None) -> bool:
        """Whether the access token is (or within ``margin`` s will be) expired."""
        if self.expires_at is None:
            return False
        moment = now or _now()
        return (self.expires_at - moment).total_seconds() <= margin

    def rotated(self, **changes: Any) -> TokenSet:
        """The next generation of this lineage, with ``changes`` applied."""
        data: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(changes, generation=self.generation + 1, issued_at=_now())
        return type(self).model_validate(data)

    def register_secrets(self) -> None:
        """Have every camsdk log scrub these tokens."""
        register_secret(self.access_token.get_secret_value())
        if self.refresh_token is not None:
            register_secret(self.refresh_token.get_secret_value())


class TokenStore(Protocol):
    """Where an account's `TokenSet` lives between runs."""

    async def load(self, scheme: str, account: str) -> TokenSet | None:
        """The stored tokens, or ``None``."""
        ...

    async def save(self, tokens: TokenSet) -> None:
        """Persist ``tokens`` durably before returning (a crash after it keeps them)."""
        ...

    async def delete(self, scheme: str, account: str) -> None:
        """Forget the account's tokens (log out)."""
        ...

    def claim(self, scheme: str, account: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Own the account's lineage while the block runs; `TokenLineageInUseError` if taken."""
        ...


def stored_tokens(data: str | bytes, where: str, scheme: str) -> TokenSet:
    """The token set a store kept as JSON ``data``; `ConfigurationError` naming ``where``
    (e.g. ``the token file 'x.json'``) when it is damaged."""
    try:
        tokens = TokenSet.model_validate(json.loads(data))
    except (ValueError, ValidationError):
        pass
    else:
        tokens.register_secrets()
        return tokens
    # Raised outside the except clause: pydantic's error quotes the input (the tokens).
    raise ConfigurationError(f"{where} is damaged (not a token set); log in again", scheme=scheme)


def _check_account(scheme: str, account: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9+.-]{0,31}", scheme) or not _ACCOUNT.match(account):
        raise ConfigurationError(
            "a token store keys accounts by scheme and an id of letters, digits and ._@+-",
            scheme=scheme,
        )


class MemoryTokenStore:
    """Tokens in memory: for tests and for apps that keep them elsewhere."""

    def __init__(self, tokens: Mapping[tuple[str, str], TokenSet] | None = None) -> None:
        self._tokens: dict[tuple[str, str], TokenSet] = dict(tokens or {})
        self._claimed: set[tuple[str, str]] = set()
        #: Every save, in order (tests check rotations with it).
        self.saves: list[TokenSet] = []

    async def load(self, scheme: str, account: str) -> TokenSet | None:
        """The stored tokens, or ``None``."""
        return self._tokens.get((scheme, account))

    async def save(self, tokens: TokenSet) -> None:
        """Keep ``tokens``."""
        tokens.register_secrets()
        self._tokens[(tokens.scheme, tokens.account)] = tokens
        self.saves.append(tokens)

    async def delete(self, scheme: str, account: str) -> None:
        """Forget the account's tokens."""
        self._tokens.pop((scheme, account), None)

    @contextlib.asynccontextmanager
    async def claim(self, scheme: str, account: str) -> AsyncIterator[None]:
        """One owner of a lineage per store (in this process)."""
        key = (scheme, account)
        if key in self._claimed:
            raise TokenLineageInUseError(f"{scheme} account {account!r} is already in use")
        self._claimed.add(key)
        try:
            yield
        finally:
            self._claimed.discard(key)


class FileTokenStore:
    """One JSON file per account in ``directory`` (0700), written crash-safely (0600).

    Tokens are stored in clear text, protected by file permissions only, as
    ``~/.ssh`` keys are; use a keyring-backed store (extra ``keyring``) or
    your own `TokenStore` for more.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, scheme: str, account: str, suffix: str = ".json") -> Path:
        _check_account(scheme, account)
        return self.directory / f"{scheme}--{account}{suffix}"

    def _ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def load(self, scheme: str, account: str) -> TokenSet | None:
        """The stored tokens, or ``None``; a damaged file is a `ConfigurationError`."""
        path = self._path(scheme, account)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        return stored_tokens(data, f"the token file {path.name!r}", scheme)

    async def save(self, tokens: TokenSet) -> None:
        """Write ``tokens``: temporary file, fsync, rename, fsync the directory."""
        tokens.register_secrets()
        await asyncio.to_thread(self._write, tokens)

    def _write(self, tokens: TokenSet) -> None:
        self._ensure_dir()
        path = self._path(tokens.scheme, tokens.account)
        write_private(path, tokens.model_dump_json().encode("utf-8"), fsync_directory=True)

    async def delete(self, scheme: str, account: str) -> None:
        """Remove the account's token file."""
        path = self._path(scheme, account)
        await asyncio.to_thread(path.unlink, True)

    @contextlib.asynccontextmanager
    async def claim(self, scheme: str, account: str) -> AsyncIterator[None]:
        """Hold the account's lock file while the block runs (refused if another holds it)."""
        lock_path = self._path(scheme, account, ".lock")
        self._ensure_dir()
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise TokenLineageInUseError(
                        f"{scheme} account {account!r} is in use by another process "
                        f"(lock {lock_path.name}); one process at a time may refresh its tokens",
                        scheme=scheme,
                    ) from None
            yield
        finally:
            os.close(fd)  # also drops the lock

