"""`KeyringTokenStore`: cloud tokens in the system keyring (extra ``keyring``).

The desktop's secret service (GNOME Keyring or KWallet over D-Bus, the macOS
Keychain, the Windows Credential Manager) keeps each account's `TokenSet`
as one secret: service ``camsdk`` (configurable), user name
``<scheme>:<account>``, the token set as JSON. The keyring encrypts it at
rest and asks the user when it must, which a file protected by its mode
alone cannot do.

The `keyring` package is imported on first use; without it the store
raises `DriverUnavailableError` with the install hint. Its calls block
(D-Bus round trips, a keychain prompt), so they run in a worker thread.

A keyring has no locks, so the one-process-per-lineage claim uses a lock
file in ``lock_dir`` (as `FileTokenStore` does; it holds no secret). Tests
pass an in-memory ``backend`` (any `keyring.backend.KeyringBackend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError, DriverUnavailableError
from ._tokens import FileTokenStore, TokenSet, _check_account, stored_tokens

__all__ = ["KeyringTokenStore"]

_HINT = "pip install camsdk[keyring]"


def _default_lock_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "camsdk"
    from ._stores import default_token_dir

    return default_token_dir()


class KeyringTokenStore:
    """Tokens in the system keyring (see the module docstring). No I/O until used.

    ``backend`` is a keyring backend object (default: the system's, as
    ``keyring.get_keyring()`` chooses it); ``service`` names camsdk's
    entries; ``lock_dir`` holds the lineage lock files.
    """

    def __init__(
        self,
        *,
        service: str = "camsdk",
        backend: Any = None,
        lock_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if not service or not isinstance(service, str):
            raise ConfigurationError("service must be a non-empty string")
        self.service = service
        self._backend = backend
        self._locks = FileTokenStore(lock_dir if lock_dir is not None else _default_lock_dir())

    def __repr__(self) -> str:
        return f"KeyringTokenStore(service={self.service!r})"

    def _keyring(self) -> Any:
        if self._backend is not None:
            return self._backend
        try:
            import keyring
        except ImportError as exc:
            raise DriverUnavailableError(
                "the keyring token store needs the keyring package", hint=_HINT
            ) from exc
        self._backend = keyring.get_keyring()
        return self._backend

    @staticmethod
    def _user(scheme: str, account: str) -> str:
        _check_account(scheme, account)
        return f"{scheme}:{account}"

    async def load(self, scheme: str, account: str) -> TokenSet | None:
        """The stored tokens, or ``None``; an entry that is not a token set is an error."""
        user = self._user(scheme, account)
        backend = self._keyring()
        text = await asyncio.to_thread(backend.get_password, self.service, user)
        if text is None:
            return None
        return stored_tokens(text, f"the keyring entry {self.service}/{user}", scheme)

    async def save(self, tokens: TokenSet) -> None:
        """Write ``tokens`` to the keyring (the keyring makes it durable)."""
        tokens.register_secrets()
        user = self._user(tokens.scheme, tokens.account)
        backend = self._keyring()
        await asyncio.to_thread(
            backend.set_password, self.service, user, tokens.model_dump_json()
        )

    async def delete(self, scheme: str, account: str) -> None:
        """Remove the account's entry (nothing happens when there is none)."""
        user = self._user(scheme, account)
        backend = self._keyring()

        def remove() -> None:
            try:
                backend.delete_password(self.service, user)
            except Exception as exc:  # keyring.errors.PasswordDeleteError: nothing stored
                if type(exc).__name__ != "PasswordDeleteError":
                    raise

        await asyncio.to_thread(remove)

    @contextlib.asynccontextmanager
    async def claim(self, scheme: str, account: str) -> AsyncIterator[None]:
        """Own the account's lineage (a lock file in ``lock_dir``) while the block runs."""
        async with self._locks.claim(scheme, account):
            yield
