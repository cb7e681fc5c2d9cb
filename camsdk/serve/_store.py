"""What the gateway remembers between runs: JSON files in its data directory.

The directory is created readable by its owner only (0700) and every file is
written whole (temporary file, fsync, rename) with mode 0600, so a crash
leaves the old or the new version, never half of one. Files:

``owner.key``      the owner's Ed25519 signing key (unless the site file names one)
``secret``         32 random bytes: per-grant RTSP passwords derive from it
``grants.json``    signed grants (`camsdk.privacy.save_grants`)
``revoked.json``   the revocation list
``requests.json``  access requests and their answers
``tokens.json``    SHA-256 of the requester tokens the owner issued
``adopted.json``   cameras adopted from discovery or hubs (no secrets: names of variables)
``exports.json``   the clips handed out
``audit/``         the hash-chained audit logs (one per month) and their checkpoint
``footage/``       kept footage, ``exports/`` clips and their signed manifests
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .._private_file import write_private
from ..privacy import generate_signing_key, load_private_key, save_private_key

__all__ = ["GatewayStore"]


class GatewayStore:
    """The data directory (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for sub in ("audit", "footage", "exports"):
            (directory / sub).mkdir(exist_ok=True, mode=0o700)

    @property
    def footage_dir(self) -> Path:
        """Where kept footage lives (one directory per camera)."""
        return self.directory / "footage"

    @property
    def exports_dir(self) -> Path:
        """Where exported clips and manifests live."""
        return self.directory / "exports"

    @property
    def audit_dir(self) -> Path:
        """Where the audit logs live."""
        return self.directory / "audit"

    def path(self, name: str) -> Path:
        """A file of the store by name."""
        return self.directory / name

    def read_json(self, name: str, default: Any) -> Any:
        """A JSON file's content, or ``default`` when it does not exist yet."""
        try:
            return json.loads(self.path(name).read_text("utf-8"))
        except FileNotFoundError:
            return default

    def write_json(self, name: str, value: Any) -> None:
        """Replace a JSON file atomically (0600)."""
        text = json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        write_private(self.path(name), text.encode("utf-8"))

    def secret(self) -> bytes:
        """The gateway's own random secret (made on first use)."""
        path = self.path("secret")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = secrets.token_bytes(32)
            write_private(path, data)
        return data

    def owner_key(self, path: Path | None, password: bytes | None) -> Ed25519PrivateKey:
        """The owner's signing key: ``path`` if given, else ``owner.key`` (made on first run)."""
        if path is not None:
            return load_private_key(path, password=password)
        default = self.path("owner.key")
        if not default.exists():
            save_private_key(generate_signing_key(), default, password=password)
        return load_private_key(default, password=password)
