"""Token stores: crash-safe, private, one process per lineage; refreshes shared, saved first."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camsdk import ConfigurationError, ReauthRequiredError, TokenLineageInUseError
from camsdk.cloud import CloudAccount, FileTokenStore, MemoryTokenStore, TokenSet

pytestmark = pytest.mark.anyio


def tokens(generation: int = 0, *, expires_in: float = 3600.0) -> TokenSet:
    return TokenSet(
        scheme="acme", account="home", access_token=f"access-{generation}",
        refresh_token=f"refresh-{generation}", generation=generation, lineage="L1",
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


async def test_saved_tokens_load_back_and_never_print(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    await store.save(tokens(3))
    loaded = await store.load("acme", "home")
    assert loaded is not None and loaded.generation == 3
    assert loaded.refresh_token is not None
    assert loaded.refresh_token.get_secret_value() == "refresh-3"
    assert "refresh-3" not in repr(loaded) and "access-3" not in str(loaded)


async def test_the_token_file_and_its_directory_are_private(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = FileTokenStore(tmp_path / "tokens")
        await store.save(tokens())
    finally:
        os.umask(old)
    files = list((tmp_path / "tokens").iterdir())
    assert [f.name for f in files] == ["acme--home.json"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700


async def test_a_crash_before_the_rename_keeps_the_old_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileTokenStore(tmp_path)
    await store.save(tokens(1))

    def crash(src: str, dst: str) -> None:
        raise OSError(5, "power lost")

    monkeypatch.setattr("camsdk.cloud._tokens.os.replace", crash)
    with pytest.raises(OSError):
        await store.save(tokens(2))
    monkeypatch.undo()
    loaded = await store.load("acme", "home")
    assert loaded is not None and loaded.generation == 1
    assert [p.name for p in tmp_path.iterdir()] == ["acme--home.json"]  # no temp left


async def test_after_the_rename_the_new_tokens_are_durable(tmp_path: Path) -> None:
    # A separate process reads what this one saved: nothing waits in a buffer.
    store = FileTokenStore(tmp_path)
    await store.save(tokens(7))
    read = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import json
            data = json.load(open({str(tmp_path / "acme--home.json")!r}))
            print(data["generation"], data["refresh_token"])
        """)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert read.stdout.split() == ["7", "refresh-7"]


async def test_a_damaged_token_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "acme--home.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="damaged"):
        await FileTokenStore(tmp_path).load("acme", "home")


@pytest.mark.parametrize("account", ["../etc", "a/b", "", "x" * 200, "spa ce"])
async def test_account_names_cannot_escape_the_directory(tmp_path: Path, account: str) -> None:
    with pytest.raises(ConfigurationError):
        await FileTokenStore(tmp_path).load("acme", account)


async def test_a_second_process_on_the_same_lineage_is_refused(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    await store.save(tokens())
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import asyncio, sys
            from camsdk.cloud import FileTokenStore

            async def main():
                async with FileTokenStore({str(tmp_path)!r}).claim("acme", "home"):
                    print("held", flush=True)
                    sys.stdin.readline()
                    print("still mine", flush=True)

            asyncio.run(main())
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TokenLineageInUseError, match="another process"):
            async with store.claim("acme", "home"):
                pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "still mine"
    finally:
        holder.wait(30)
    async with store.claim("acme", "home"):  # free again once the first one left
        pass


async def test_many_cameras_refreshing_at_once_cause_exactly_one_refresh() -> None:
    store = MemoryTokenStore()
    await store.save(tokens(0, expires_in=10.0))  # inside the refresh margin
    calls = 0
    order: list[str] = []

    async def refresh(current: TokenSet) -> TokenSet:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)  # the vendor's round trip
        order.append("refreshed")
        return current.rotated(access_token=f"access-{current.generation + 1}",
                               refresh_token=f"refresh-{current.generation + 1}",
                               expires_at=datetime.now(UTC) + timedelta(hours=1))

    account = await CloudAccount(scheme="acme", account="home", store=store,
                                 refresh=refresh).open()
    try:
        results = await asyncio.gather(*(account.access_token() for _ in range(50)))
    finally:
        await account.aclose()
    assert calls == 1 and set(results) == {"access-1"}
    # The rotated refresh token was stored before anyone got the new access token.
    assert [t.generation for t in store.saves] == [0, 1]


async def test_a_401_refreshes_once_for_every_caller_that_saw_it() -> None:
    store = MemoryTokenStore()
    await store.save(tokens(0))
    calls = 0

    async def refresh(current: TokenSet) -> TokenSet:
        nonlocal calls
        calls += 1
        return current.rotated(access_token="access-new")

    account = await CloudAccount(scheme="acme", account="home", store=store,
                                 refresh=refresh).open()
    try:
        rejected = await account.access_token()
        new = await asyncio.gather(*(account.refresh_after_401(rejected) for _ in range(5)))
    finally:
        await account.aclose()
    assert calls == 1 and set(new) == {"access-new"}


async def test_no_stored_tokens_means_log_in_again_with_the_reason() -> None:
    account = CloudAccount(scheme="acme", account="home", store=MemoryTokenStore(),
                           refresh=lambda t: asyncio.sleep(0, t))
    with pytest.raises(ReauthRequiredError) as info:
        await account.open()
    assert "camsdk login acme" in info.value.action


async def test_one_account_per_store_lineage_in_a_process() -> None:
    store = MemoryTokenStore()
    await store.save(tokens())
    first = await CloudAccount(scheme="acme", account="home", store=store,
                               refresh=lambda t: asyncio.sleep(0, t)).open()
    try:
        with pytest.raises(TokenLineageInUseError):
            await CloudAccount(scheme="acme", account="home", store=store,
                               refresh=lambda t: asyncio.sleep(0, t)).open()
    finally:
        await first.aclose()
