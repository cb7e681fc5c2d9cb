"""The keyring-backed token store, against an in-memory keyring backend (no system keyring)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

import camsdk
from camsdk.cloud import (
    FileTokenStore,
    KeyringTokenStore,
    TokenSet,
    default_token_dir,
    token_store,
)

keyring_backend = pytest.importorskip("keyring.backend")

pytestmark = pytest.mark.anyio


class MemoryKeyring(keyring_backend.KeyringBackend):  # type: ignore[misc]
    """A keyring that keeps its secrets in a dict (what a test needs of the system's)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if (service, username) not in self.entries:
            raise PasswordDeleteError("no such entry")
        del self.entries[(service, username)]


def tokens() -> TokenSet:
    return TokenSet(scheme="nest", account="home", access_token=SecretStr("ya29.access-secret"),
                    refresh_token=SecretStr("1//refresh-secret"), extra={"client_id": "cid"})


@pytest.fixture
def backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def store(backend: MemoryKeyring, tmp_path: Path) -> KeyringTokenStore:
    return KeyringTokenStore(backend=backend, lock_dir=tmp_path / "locks")


async def test_saved_tokens_load_back_from_one_keyring_entry(
    store: KeyringTokenStore, backend: MemoryKeyring
) -> None:
    await store.save(tokens())
    loaded = await store.load("nest", "home")
    assert loaded is not None
    assert loaded.refresh_token is not None
    assert loaded.refresh_token.get_secret_value() == "1//refresh-secret"
    assert list(backend.entries) == [("camsdk", "nest:home")]
    assert json.loads(backend.entries[("camsdk", "nest:home")])["extra"] == {"client_id": "cid"}
    assert "secret" not in repr(store) and "secret" not in repr(loaded)


async def test_an_account_never_logged_in_loads_as_nothing(store: KeyringTokenStore) -> None:
    assert await store.load("nest", "elsewhere") is None


async def test_deleting_forgets_the_tokens_and_tolerates_an_absent_entry(
    store: KeyringTokenStore,
) -> None:
    await store.save(tokens())
    await store.delete("nest", "home")
    await store.delete("nest", "home")
    assert await store.load("nest", "home") is None


async def test_a_damaged_entry_is_a_clear_error(
    store: KeyringTokenStore, backend: MemoryKeyring
) -> None:
    backend.entries[("camsdk", "nest:home")] = "{not json"
    with pytest.raises(camsdk.ConfigurationError, match="damaged"):
        await store.load("nest", "home")


async def test_a_second_owner_of_the_lineage_is_refused(store: KeyringTokenStore,
                                                        backend: MemoryKeyring,
                                                        tmp_path: Path) -> None:
    other = KeyringTokenStore(backend=backend, lock_dir=tmp_path / "locks")
    async with store.claim("nest", "home"):
        with pytest.raises(camsdk.TokenLineageInUseError):
            async with other.claim("nest", "home"):
                pass
    async with other.claim("nest", "home"):
        pass


async def test_account_names_cannot_reach_other_entries(store: KeyringTokenStore) -> None:
    with pytest.raises(camsdk.ConfigurationError):
        await store.load("nest", "../ring:home")


async def test_without_the_keyring_package_the_store_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)
    store = KeyringTokenStore(lock_dir=tmp_path)
    with pytest.raises(camsdk.DriverUnavailableError) as info:
        await store.load("nest", "home")
    assert info.value.hint == "pip install camsdk[keyring]"


def test_a_store_is_chosen_from_a_directory_the_word_keyring_or_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CAMSDK_TOKEN_DIR", str(tmp_path / "tokens"))
    assert default_token_dir() == tmp_path / "tokens"
    default = token_store(None)
    assert isinstance(default, FileTokenStore) and default.directory == tmp_path / "tokens"
    assert isinstance(token_store(str(tmp_path)), FileTokenStore)
    assert isinstance(token_store("keyring"), KeyringTokenStore)
    given = FileTokenStore(tmp_path)
    assert token_store(given) is given
    with pytest.raises(camsdk.ConfigurationError):
        token_store(42)
