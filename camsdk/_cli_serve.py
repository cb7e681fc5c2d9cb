"""``camsdk serve site.toml``, ``camsdk serve login-key`` and ``camsdk export verify clip.mp4``.

`add_serve_commands` adds them to the main parser. ``serve`` runs the owner's
gateway (extra ``serve``); ``--hash-password`` prints a scrypt hash for the
site file's ``[owner] password_hash`` (the password is read from the
terminal, or from the environment variable ``--password-env`` names).
``serve login-key --key owner.key --url URL`` logs in as the owner by
signing the gateway's challenge and prints the session (cookie and CSRF
token) as shell variables, or as JSON, for scripts and ``curl``.
``export verify`` exits 0 when the clip matches its signed manifest, 1 when
it does not, 2 on usage errors (a missing file, an unreadable key); with the
``c2pa`` library installed it also prints the embedded C2PA manifest's
validation state, and a C2PA manifest that does not validate is a 1 too.
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
    serve.add_argument("config", nargs="?",
                       help="site file (TOML); or 'login-key' (with --key and --url) to log "
                       "in as the owner with a key and print the session")
    serve.add_argument("--hash-password", action="store_true",
                       help="print a password hash for [owner] password_hash and exit")
    serve.add_argument("--password-env", metavar="VAR",
                       help="with --hash-password: read the password from this variable")
    serve.add_argument("--check", action="store_true",
                       help="validate the site file and exit")
    serve.add_argument("--key", type=Path, metavar="PRIVKEY",
                       help="with login-key: the Ed25519 private key to log in with")
    serve.add_argument("--key-password-env", metavar="VAR",
                       help="with login-key: the variable holding the key file's password")
    serve.add_argument("--url", metavar="URL",
                       help="with login-key: the gateway (e.g. http://127.0.0.1:8080)")
    serve.add_argument("--cafile", type=Path, metavar="PEM",
                       help="with login-key: the certificate to trust (a self-signed gateway's)")
    serve.add_argument("--json", action="store_true",
                       help="with login-key: print the session as JSON")
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
    if args.config == "login-key":
        return _cmd_login_key(args)
    config = load_site_config(args.config)
    if args.check:
        from .serve._config import check_owner_login, load_login_keys

        owner = config.owner
        check_owner_login(owner, len(load_login_keys(owner)) + owner.signing_key_login)
        print(f"{args.config}: ok ({len(config.cameras)} camera(s), {len(config.hubs)} hub(s))")
        return EXIT_OK
    if config.owner.password_hash_value() is None:
        print("camsdk: note: no owner password hash is set; the owner logs in with a key "
              "(camsdk serve login-key)", file=sys.stderr)
    asyncio.run(serve(config))
    return EXIT_OK


def _cmd_login_key(args: argparse.Namespace) -> int:
    import httpx

    from .privacy import load_private_key
    from .serve import OwnerKeyAuth

    if args.key is None or not args.url:
        print("camsdk serve login-key: give --key PRIVKEY and --url URL", file=sys.stderr)
        return EXIT_USAGE
    password = os.environ.get(args.key_password_env, "") if args.key_password_env else ""
    try:
        key = load_private_key(args.key, password=password.encode() or None)
    except (OSError, ValueError, TypeError) as exc:
        print(f"camsdk: cannot read the key: {getattr(exc, 'strerror', None) or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    verify: Any = True
    if args.cafile is not None:
        import ssl

        verify = ssl.create_default_context(cafile=str(args.cafile))
    auth = OwnerKeyAuth(key)
    try:
        with httpx.Client(base_url=args.url, auth=auth, verify=verify, timeout=30.0) as client:
            answer = client.get("/owner/api/session")
    except httpx.HTTPStatusError as exc:
        print(f"camsdk: {exc.args[0]}: {_error_text(exc.response)}", file=sys.stderr)
        return EXIT_BAD
    except httpx.HTTPError as exc:
        print(f"camsdk: cannot reach the gateway: {exc}", file=sys.stderr)
        return EXIT_BAD
    if answer.status_code != 200 or auth.session is None:
        print(f"camsdk: no session ({answer.status_code}): {_error_text(answer)}",
              file=sys.stderr)
        return EXIT_BAD
    if args.json:
        print(json.dumps({"cookie": "camsdk_owner", "session": auth.session,
                          "csrf": auth.csrf, "key_id": auth.key_id}))
    else:
        print(f"CAMSDK_OWNER_SESSION={auth.session}")
        print(f"CAMSDK_OWNER_CSRF={auth.csrf}")
        print(f"logged in as the owner with key {auth.key_id}; e.g. curl -b "
              'camsdk_owner=$CAMSDK_OWNER_SESSION -H "X-CSRF-Token: $CAMSDK_OWNER_CSRF" '
              f"{args.url.rstrip('/')}/owner/api/overview", file=sys.stderr)
    return EXIT_OK


def _error_text(response: Any) -> str:
    try:
        return str(response.json().get("error", ""))[:200]
    except ValueError:
        return ""


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
    else:
        print(f"BAD: {args.clip.name}: {result.reason}")
    if result.c2pa is not None:
        from .serve._c2pa import describe

        print(describe(result.c2pa))
    elif manifest.get("c2pa"):
        print("C2PA: a manifest is embedded; not checked (pip install camsdk[c2pa])")
    return EXIT_OK if result.ok else EXIT_BAD
