"""Where tokens live by default, and turning a caller's choice into a `TokenStore`.

``camsdk login <scheme>`` and the cloud drivers agree on one default: a
`FileTokenStore` in ``$CAMSDK_TOKEN_DIR``, else
``$XDG_CONFIG_HOME/camsdk/tokens``, else ``~/.config/camsdk/tokens``. So
logging in once in a terminal is enough for ``camsdk.open("nest://...")``
in a program run by the same user.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ._tokens import FileTokenStore, TokenStore

__all__ = ["default_token_dir", "token_store"]

_METHODS = ("load", "save", "delete", "claim")


def default_token_dir() -> Path:
    """The directory of the default `FileTokenStore` (see the module docstring)."""
    explicit = os.environ.get("CAMSDK_TOKEN_DIR")
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config).expanduser() if config else Path.home() / ".config"
    return base / "camsdk" / "tokens"


def token_store(spec: Any = None) -> TokenStore:
    """A `TokenStore` from ``spec``: a store, a directory, ``"keyring"``, or ``None`` (default).

    ``"keyring"`` is a `KeyringTokenStore` (extra ``keyring``); a string or
    path is a `FileTokenStore` in that directory.
    """
    if spec is None:
        return FileTokenStore(default_token_dir())
    if all(callable(getattr(spec, name, None)) for name in _METHODS):
        store: TokenStore = spec
        return store
    if isinstance(spec, str) and spec == "keyring":
        from ._keyring import KeyringTokenStore

        return KeyringTokenStore()
    if isinstance(spec, str | os.PathLike) and str(spec).strip():
        return FileTokenStore(Path(spec).expanduser())
    raise ConfigurationError(
        "a token store is a camsdk.cloud TokenStore, a directory, or 'keyring'"
    )
