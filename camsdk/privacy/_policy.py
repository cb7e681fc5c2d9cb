"""Access policies built on grants.

`GrantPolicy` is the sharing policy: the owner may do everything, and every
other principal needs a grant that matches the request. There is deliberately
no second way in, for vendors, support staff or "urgent" cases: any such path
would be a way around the owner's decision, so the only way in is a grant.

`decide` runs for every egress, so it does no I/O, verifies signatures once
when a grant is added rather than per request, and returns a `Decision` that
the facade can re-check per frame for the price of a clock read and an integer
comparison (expiry as a monotonic deadline, revocation as a version watch).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .._access import OWNER, AccessRequest, Decision, Principal
from ._grants import Grant, RevocationList, _utcnow, verify_grant

__all__ = ["DenyByDefault", "GrantPolicy"]

_MAX_REASONS = 5


class DenyByDefault:
    """A policy that refuses every request, the owner's included.

    Use it to lock a camera: with it, nothing leaves the SDK (every refusal is
    still audited).
    """

    def decide(self, request: AccessRequest) -> Decision:
        """Deny ``request``."""
        return Decision(False, "deny by default: this camera allows no access")


@dataclass(frozen=True, slots=True)
class _Entry:
    grant: Grant
    #: Why the grant is ignored whatever the request (bad signature), else None.
    rejected: str | None


class GrantPolicy:
    """The owner may do everything; any other principal needs a matching grant.

    A grant matches a request when it names the request's principal, covers
    its camera, action and purpose, is not revoked, has been issued and not
    expired (by ``clock``), and its footage window contains the request's
    ``at``. When several grants match, the most permissive wins (raw media
    first, then the fewest masks, then the latest expiry): each of them alone
    would have allowed the request.

    With ``trusted_keys`` set, only grants signed by one of those keys count;
    unsigned, forged and altered grants are ignored, and a denial says so.
    Without it, grants are trusted as given (the owner built them in code).

    ``clock`` (UTC wall time) and ``monotonic`` are injectable for tests.
    """

    def __init__(
        self,
        grants: Iterable[Grant] = (),
        *,
        owner: Principal = OWNER,
        revocations: RevocationList | None = None,
        trusted_keys: Iterable[Ed25519PublicKey] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.owner = owner
        self.revocations = revocations if revocations is not None else RevocationList()
        self._trusted_keys = None if trusted_keys is None else tuple(trusted_keys)
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        # Copy-on-write: `decide` reads the current dict without taking the lock.
        self._by_principal: dict[str, tuple[_Entry, ...]] = {}
        self._ids: set[str] = set()
        for grant in grants:
            self.add_grant(grant)

    @property
    def grants(self) -> tuple[Grant, ...]:
        """Every grant added, including ignored (unsigned, revoked, expired) ones."""
        return tuple(e.grant for entries in self._by_principal.values() for e in entries)

    def add_grant(self, grant: Grant) -> None:
        """Add ``grant``. Its id must be new: revocation goes by id."""
        rejected = self._check_signature(grant)
        with self._lock:
            if grant.grant_id in self._ids:
                raise ValueError(f"a grant with id {grant.grant_id!r} was already added")
            by_principal = dict(self._by_principal)
            by_principal[grant.principal] = (
                *by_principal.get(grant.principal, ()),
                _Entry(grant, rejected),
            )
            self._ids.add(grant.grant_id)
            self._by_principal = by_principal

    def revoke(self, grant_id: str) -> bool:
        """Revoke ``grant_id`` in this policy's `RevocationList`; live egress stops at once."""
        return self.revocations.revoke(grant_id)

    def _check_signature(self, grant: Grant) -> str | None:
        if self._trusted_keys is None:
            return None
        if not grant.signature:
            return "ignored: unsigned, and this policy only trusts signed grants"
        if not verify_grant(grant, self._trusted_keys):
            return "ignored: signature does not verify with a trusted key (forged or altered)"
        return None

    def decide(self, request: AccessRequest) -> Decision:
        """Allow the owner; allow others under the most permissive matching grant."""
        principal = request.principal.id
        # Identity is the principal id; the display name is cosmetic.
        if principal == self.owner.id:
            return Decision(True, "owner")
        entries = self._by_principal.get(principal)
        if not entries:
            return Decision(False, f"principal {principal!r} has no grant")
        now = self._clock()
        best: Grant | None = None
        reasons: list[str] = []
        for entry in entries:
            why = entry.rejected or self._mismatch(entry.grant, request, now)
            if why is not None:
                reasons.append(f"grant {entry.grant.grant_id}: {why}")
            elif best is None or _rank(entry.grant) > _rank(best):
                best = entry.grant
        if best is None:
            shown = "; ".join(reasons[:_MAX_REASONS])
            more = (
                f"; and {len(reasons) - _MAX_REASONS} more" if len(reasons) > _MAX_REASONS else ""
            )
            return Decision(False, f"no matching grant ({shown}{more})")
        return Decision(
            True,
            f"grant {best.grant_id}",
            masks=best.masks,
            raw_media=best.raw_media,
            grant_id=best.grant_id,
            expires_at=self._monotonic() + (_deadline(best) - now).total_seconds(),
            revoked=self.revocations.watch(best.grant_id),
            clock=self._monotonic,
        )

    def _mismatch(self, grant: Grant, request: AccessRequest, now: datetime) -> str | None:
        """Why ``grant`` does not allow ``request``, or ``None`` when it does."""
        if self.revocations.is_revoked(grant.grant_id):
            return "revoked"
        if not grant.covers_camera(request.camera_id):
            return f"camera {request.camera_id!r} not covered"
        if request.action not in grant.actions:
            return f"action {request.action.value!r} not granted"
        if not grant.covers_purpose(request.purpose):
            return f"purpose {request.purpose!r} does not match {grant.purpose!r}"
        if now < grant.issued_at:
            return f"not valid before {grant.issued_at.isoformat()}"
        if now >= grant.expires_at:
            return f"expired at {grant.expires_at.isoformat()}"
        at = request.at if request.at.tzinfo is not None else request.at.replace(tzinfo=UTC)
        if not grant.covers_footage_time(at):
            return "outside the footage window"
        return None

    def __repr__(self) -> str:
        signed = "signed grants only" if self._trusted_keys is not None else "unsigned ok"
        return f"GrantPolicy(owner={self.owner.id!r}, {len(self._ids)} grants, {signed})"


def _rank(grant: Grant) -> tuple[bool, int, datetime]:
    return (grant.raw_media, -len(grant.masks), grant.expires_at)


def _deadline(grant: Grant) -> datetime:
    """When live egress under ``grant`` must stop: expiry, or the end of the footage window."""
    if grant.footage_until is not None and grant.footage_until < grant.expires_at:
        return grant.footage_until
    return grant.expires_at
