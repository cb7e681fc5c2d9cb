"""``camsdk serve site.toml`` and ``camsdk export verify clip.mp4``.

`add_serve_commands` adds both to the main parser. ``serve`` runs the owner's
gateway (extra ``serve``); ``--hash-password`` prints a scrypt hash for the
site file's ``[owner] password_hash`` (the password is read from the
terminal, or from the environment variable ``--password-env`` names).
``export verify`` exits 0 when the clip matches its signed manifest, 1 when
it does not, 2 on usage errors (a missing file, an unreadable key).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from ._cli_groups import EXIT_USAGE, add_command_group

__all__ = ["add_serve_commands"]

EXIT_OK, EXIT_BAD = 0, 1


def add_serve_commands(subparsers: Any) -> None:
    """Add ``serve CONFIG`` and ``export verify CLIP [--manifest M] [--key K]``."""
    serve = subparsers.add_parser(
        "serve",
        help="run the owner's gateway (owner page, requester API, live view, exports)",
        description="Connect the site's cameras and share them only on the owner's signed, "
        "expiring, audited terms. See docs/gateway.md.",
    )
    serve.add_argument("config", nargs="?", help="site file (TOML)")
    serve.add_argument("--hash-password", action="store_true",
                       help="print a password hash for [owner] password_hash and exit")
    serve.add_argument("--password-env", metavar="VAR",
                       help="with --hash-password: read the password from this variable")
    serve.add_argument("--check", action="store_true",
                       help="validate the site file and exit")
    serve.set_defaults(func=_cmd_serve)

    commands = add_command_group(
        subparsers, "export", help="check exported clips", metavar="{verify}"
    )
    verify = commands.add_parser(
        "verify", help="check a clip against its signed manifest",
        description="Exit 0 when the clip is the one the manifest's signer signed, 1 if not.",
    )
    verify.add_argument("clip", type=Path, help="the exported clip (.mp4)")
    verify.add_argument("--manifest", type=Path, help="default: CLIP.manifest.json")
    verify.add_argument("--key", type=Path, metavar="PUBKEY",
                        help="the owner's public key: the manifest must be signed by it")
    verify.add_argument("--json", action="store_true", help="print the manifest as JSON")
    verify.set_defaults(func=_cmd_verify)


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        from .serve import hash_password, load_site_config, serve
    except ImportError as exc:
        print(f"camsdk: the gateway needs its extra: pip install camsdk[serve] ({exc.name})",
              file=sys.stderr)
        return EXIT_USAGE
    if args.hash_password:
        if args.password_env:
            password = os.environ.get(args.password_env, "")
        else:
            import getpass

            password = getpass.getpass("owner password: ")
        if not password:
            print("camsdk: no password given", file=sys.stderr)
            return EXIT_USAGE
        print(hash_password(password))
        return EXIT_OK
    if not args.config:
        print("camsdk serve: give the site file (camsdk serve site.toml)", file=sys.stderr)
        return EXIT_USAGE
    config = load_site_config(args.config)
    if args.check:
        print(f"{args.config}: ok ({len(config.cameras)} camera(s), {len(config.hubs)} hub(s))")
        return EXIT_OK
    if config.owner.password_hash_value() is None:
        print("camsdk: warning: no owner password hash is set; the owner page cannot be used "
              "(camsdk serve --hash-password)", file=sys.stderr)
    asyncio.run(serve(config))
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from .privacy import load_public_key
    from .serve._export import verify_export

    if not args.clip.is_file():
        print(f"camsdk: no such clip: {args.clip}", file=sys.stderr)
        return EXIT_USAGE
    key = None
    if args.key is not None:
        try:
            key = load_public_key(args.key)
        except (OSError, ValueError) as exc:
            print(f"camsdk: cannot read the key: {exc}", file=sys.stderr)
            return EXIT_USAGE
    result = verify_export(args.clip, args.manifest, key)
    if args.json:
        print(json.dumps(result.manifest, indent=2, ensure_ascii=False))
    manifest = result.manifest
    if result.ok:
        window = manifest.get("window", {})
        print(f"OK: {args.clip.name} is the clip signed by key {manifest.get('key_id')}: "
              f"camera {manifest.get('camera')}, {window.get('from')} to {window.get('until')}, "
              f"grant {manifest.get('grant_id')}, requester {manifest.get('requester')}")
        if key is None:
            print("not checked: whose key that is (use --key owner.pub)")
        return EXIT_OK
    print(f"BAD: {args.clip.name}: {result.reason}")
    return EXIT_BAD
