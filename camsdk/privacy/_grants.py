"""Grants: scoped, expiring, optionally signed permission for one principal.

A `Grant` says *who* (a principal id) may do *what* (actions) with *which*
cameras, *why* (a purpose), *until when* (a required expiry) and, optionally,
which stretch of footage time it covers and which extra privacy masks apply.
Grants are immutable; to end one early, add its id to a `RevocationList`.

Signing is Ed25519 over a canonical JSON of every field except the signature,
so changing any field (a later expiry, one more camera) breaks the signature.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from .._access import Action
from ._keys import canonical_json, sign_bytes, verify_bytes
from ._masks import PrivacyMask

__all__ = [
    "ANY",
    "Grant",
    "RevocationList",
    "load_grants",
    "save_grants",
    "sign_grant",
    "verify_grant",
]

#: Wildcard for `Grant.cameras` (every camera) and `Grant.purpose` (any purpose).
ANY = "*"

# Domain separation: a grant signature can never pass as an audit checkpoint's.
_GRANT_SIGNING_CONTEXT = b"camsdk-grant-v1\n"
_GRANT_FILE_VERSION = 1


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Grant(BaseModel):
    """Permission for one principal to do some actions on some cameras, for a purpose, until expiry.

    ``cameras`` holds camera ids, or `ANY` for every camera. ``actions`` may
    include `Action.RAW_MEDIA`, which lets unmasked packets and recordings out
    even where privacy masks apply. ``footage_from``/``footage_until`` bound the
    time of the footage that may be seen (for live egress: the current time).
    ``purpose`` must equal the request's purpose unless it is `ANY`. All times
    must be timezone-aware; they are kept in UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    grant_id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=1, max_length=128)
    principal: str = Field(min_length=1, max_length=256)
    cameras: frozenset[str] = Field(min_length=1)
    actions: frozenset[Action] = Field(min_length=1)
    purpose: str = Field(min_length=1, max_length=256)
    expires_at: datetime
    issued_at: datetime = Field(default_factory=_utcnow)
    footage_from: datetime | None = None
    footage_until: datetime | None = None
    issuer: str = Field(default="owner", max_length=256)
    masks: tuple[PrivacyMask, ...] = ()
    signature: str | None = Field(default=None, repr=False)

    @field_validator("cameras", mode="before")
    @classmethod
    def _one_camera_is_a_set(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("cameras")
    @classmethod
    def _no_empty_camera_id(cls, value: frozenset[str]) -> frozenset[str]:
        if any(not c for c in value):
            raise ValueError("camera ids must not be empty")
        return value

    @field_validator("purpose")
    @classmethod
    def _purpose_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("purpose must not be blank")
        return value

    @field_validator("expires_at", "issued_at", "footage_from", "footage_until")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("times must be timezone-aware (a naive time is ambiguous)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered_times(self) -> Grant:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        if (
            self.footage_from is not None
            and self.footage_until is not None
            and self.footage_until <= self.footage_from
        ):
            raise ValueError("footage_until must be after footage_from")
        return self

    # Sets are serialised sorted: the signed bytes must not depend on hash order.
    @field_serializer("cameras")
    def _sorted_cameras(self, value: frozenset[str]) -> list[str]:
        return sorted(value)

    @field_serializer("actions")
    def _sorted_actions(self, value: frozenset[Action]) -> list[str]:
        return sorted(a.value for a in value)

    @property
    def raw_media(self) -> bool:
        """Whether the grant lets unmasked packets and recordings out."""
        return Action.RAW_MEDIA in self.actions

    def covers_camera(self, camera_id: str) -> bool:
        """Whether ``camera_id`` is in scope."""
        return ANY in self.cameras or camera_id in self.cameras

    def covers_purpose(self, purpose: str) -> bool:
        """Whether a request made for ``purpose`` is in scope."""
        return self.purpose == ANY or self.purpose == purpose

    def covers_footage_time(self, at: datetime) -> bool:
        """Whether footage from time ``at`` is inside the footage window (half-open)."""
        if self.footage_from is not None and at < self.footage_from:
            return False
        return self.footage_until is None or at < self.footage_until

    def signing_payload(self) -> bytes:
        """The exact bytes a signature covers: canonical JSON of every field but ``signature``."""
        body = self.model_dump(mode="json", exclude={"signature"})
        return _GRANT_SIGNING_CONTEXT + canonical_json(body)


def sign_grant(grant: Grant, private_key: Ed25519PrivateKey) -> Grant:
    """Return a copy of ``grant`` carrying ``private_key``'s Ed25519 signature."""
    return grant.model_copy(update={"signature": sign_bytes(private_key, grant.signing_payload())})


def verify_grant(grant: Grant, trusted_keys: Iterable[Ed25519PublicKey]) -> bool:
    """Whether ``grant`` is signed, unaltered, by one of ``trusted_keys``."""
    if not grant.signature:
        return False
    payload = grant.signing_payload()
    return any(verify_bytes(key, payload, grant.signature) for key in trusted_keys)


def save_grants(path: str | os.PathLike[str], grants: Iterable[Grant]) -> None:
    """Write ``grants`` to a JSON grant file (``{"version": 1, "grants": [...]}``)."""
    document = {
        "version": _GRANT_FILE_VERSION,
        "grants": [g.model_dump(mode="json") for g in grants],
    }
    Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")


def load_grants(path: str | os.PathLike[str]) -> list[Grant]:
    """Read a grant file written by `save_grants` (a bare list or one grant object also work).

    Raises `ValueError` naming the first invalid grant; nothing is loaded then.
    """
    document = json.loads(Path(path).read_text("utf-8"))
    if isinstance(document, dict) and "grants" in document:
        if document.get("version", _GRANT_FILE_VERSION) != _GRANT_FILE_VERSION:
            raise ValueError(f"unsupported grant file version {document.get('version')!r}")
        items = document["grants"]
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    grants: list[Grant] = []
    for index, item in enumerate(items):
        try:
            grants.append(Grant.model_validate(item))
        except ValidationError as exc:
            raise ValueError(f"grant #{index} in {os.fspath(path)!r} is invalid: {exc}") from exc
    return grants


class RevocationList:
    """Ids of grants that no longer apply, shared by policies and live egress. Thread-safe.

    Revocation is permanent. `version` grows with every new revocation, so a
    live stream checks one integer per frame and looks the id up only after a
    change.
    """

    def __init__(
        self,
        grant_ids: Iterable[str] = (),
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._revoked: dict[str, datetime] = dict.fromkeys(grant_ids, now)
        self._version = 0

    @property
    def version(self) -> int:
        """A counter that increases whenever a grant is revoked."""
        return self._version

    def revoke(self, grant_id: str) -> bool:
        """Revoke ``grant_id``; return whether it was newly revoked."""
        with self._lock:
            if grant_id in self._revoked:
                return False
            self._revoked[grant_id] = self._clock()
            # Bumped after the id is stored: a reader that sees the new version finds the id.
            self._version += 1
            return True

    def is_revoked(self, grant_id: str) -> bool:
        """Whether ``grant_id`` has been revoked."""
        return grant_id in self._revoked

    def revoked_at(self, grant_id: str) -> datetime | None:
        """When ``grant_id`` was revoked, or ``None``."""
        return self._revoked.get(grant_id)

    def watch(self, grant_id: str) -> Callable[[], bool]:
        """A cheap callable telling whether ``grant_id`` is revoked (for `Decision.revoked`)."""
        seen = self._version

        def revoked() -> bool:
            return self._version != seen and grant_id in self._revoked

        return revoked

    def __contains__(self, grant_id: object) -> bool:
        return grant_id in self._revoked

    def __len__(self) -> int:
        return len(self._revoked)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(sorted(self._revoked))

    def __repr__(self) -> str:
        return f"RevocationList({len(self)} revoked, version={self._version})"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the list as JSON (``{"revoked": {grant_id: iso_time}}``)."""
        with self._lock:
            revoked = {gid: at.isoformat() for gid, at in sorted(self._revoked.items())}
        Path(path).write_text(json.dumps({"revoked": revoked}, indent=2) + "\n", "utf-8")

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], datetime] = _utcnow
    ) -> RevocationList:
        """Read a list written by `save`."""
        document = json.loads(Path(path).read_text("utf-8"))
        revoked = document.get("revoked") if isinstance(document, dict) else None
        if not isinstance(revoked, dict):
            raise ValueError(f"{os.fspath(path)!r} is not a revocation list")
        result = cls(clock=clock)
        result._revoked = {str(gid): datetime.fromisoformat(at) for gid, at in revoked.items()}
        return result
