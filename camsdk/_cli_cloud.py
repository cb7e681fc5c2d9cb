"""``camsdk login <scheme>`` and ``camsdk drivers --egress``: cloud accounts in a terminal.

``camsdk login nest://<project id> --option client_id=... --user <client id>``
drives `camsdk.cloud.login`: it prints each challenge (an address to open,
a code sent by SMS ...), reads the answer from standard input, and stores
the tokens (``--store DIR``, ``--store keyring``, or the default store the
drivers read). Secrets come from the environment (``--password-env``), never
from the command line, where other users can read them.

``camsdk drivers --egress`` prints the hosts each driver may contact beyond
the camera URL's own (the declared, enforced egress list).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, Literal

__all__ = ["add_cloud_commands", "print_egress"]


def add_cloud_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``login`` to the ``camsdk`` command."""
    login = subparsers.add_parser(
        "login", help="log in to a cloud camera account and store its tokens",
        description="Log in to a cloud account (OAuth, codes by SMS or email ...) in this "
        "terminal; the tokens go to a token store the drivers read.",
    )
    login.add_argument("target", metavar="SCHEME[://ACCOUNT]",
                       help="the driver's scheme, e.g. nest, or nest://<project id>")
    login.add_argument("--account", help="the account's name in the token store")
    login.add_argument("--store", metavar="DIR|keyring",
                       help="token store: a directory, or 'keyring' (default: "
                       "$CAMSDK_TOKEN_DIR or ~/.config/camsdk/tokens)")
    login.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="an option of the driver's login (repeatable), e.g. client_id=...")
    login.add_argument("--user", help="user name (for Nest: the OAuth client id)")
    login.add_argument("--password-env", default="CAMSDK_PASSWORD",
                       help="environment variable holding the password (for Nest: the OAuth "
                       "client secret)")
    login.set_defaults(func=_cmd_login)


def _options(pairs: list[str]) -> dict[str, Any]:
    from ._errors import ConfigurationError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--option takes KEY=VALUE, not {pair!r}")
        options[key.strip()] = value
    return options


async def _read_line() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    return line.strip()


async def _cmd_login(args: argparse.Namespace) -> int:
    import camsdk
    from camsdk.cloud import login, token_store

    from ._errors import ConfigurationError
    from ._log import register_secret

    scheme, _, account = args.target.partition("://")
    account = (args.account or account.strip("/") or "").strip()
    options = _options(args.option)
    if not account:
        account = str(options.get("project_id") or "default")
    credentials = None
    if args.user:
        secret = os.environ.get(args.password_env, "") if args.password_env else ""
        register_secret(secret)
        credentials = camsdk.Credentials(args.user, secret)
    store = token_store(args.store)
    flow = await login(scheme.lower(), account=account, store=store, credentials=credentials,
                       **options)
    try:
        while not flow.done:
            challenge = flow.challenge
            assert challenge is not None
            print(f"{scheme} asks for {challenge.kind}: {challenge.message}".rstrip(": "))
            if challenge.destination:
                print(f"  sent to: {challenge.destination}")
            if challenge.authorization_url:
                print(f"  open: {challenge.authorization_url}")
            print("answer (empty to give up): ", end="", flush=True)
            answer = await _read_line()
            if not answer:
                raise ConfigurationError("login abandoned: no answer given", scheme=scheme)
            await flow.complete(answer)
    finally:
        await flow.aclose()
    where = getattr(store, "directory", None) or type(store).__name__
    print(f"logged in: {scheme} account {account}; tokens stored in {where}")
    return 0


def print_egress() -> int:
    """Print each driver's and hub's declared hosts (``camsdk drivers --egress``)."""
    from ._errors import DriverUnavailableError
    from ._registry import _load_tables, load_driver, load_hub

    tables = _load_tables()
    loaders: tuple[tuple[Literal["driver", "hub"], Any], ...] = (
        ("driver", load_driver), ("hub", load_hub))
    for kind, load in loaders:
        for scheme in sorted(tables[kind]):
            try:
                cls: Any = load(scheme)
            except DriverUnavailableError as exc:
                print(f"{scheme + '://':<14} {kind:<6} unavailable ({exc.hint or 'see error'})")
                continue
            hosts = ", ".join(cls.egress_hosts) or "the camera URL's host only"
            print(f"{scheme + '://':<14} {kind:<6} {hosts}")
    return 0
