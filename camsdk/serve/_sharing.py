"""Requests, answers and grants: the owner's decisions, signed and recorded.

`Sharing` keeps the access requests, turns the owner's approval into
Ed25519-signed `camsdk.privacy.Grant`s (one per camera, so each camera keeps
its own masks) added to the gateway's one `GrantPolicy`, and revokes them.
An approval is never wider than the request: the same or fewer cameras, a
window inside the asked one. Every step is an audit record, and the
transparency report counts those records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .._access import AccessRequest as PolicyRequest
from .._access import Action, AuditSink, Principal
from ..privacy import Grant, GrantPolicy, RevocationList, save_grants, sign_grant
from ._requests import (
    AccessRequest,
    AccessRequestIn,
    Approval,
    Decline,
    MoreInfo,
    Reply,
    RequestState,
    new_id,
)
from ._store import GatewayStore

__all__ = ["LIVE_ACTIONS", "RECORDED_ACTIONS", "SharingError", "Sharing"]

LIVE_ACTIONS = frozenset({Action.STREAM_OPEN, Action.FRAMES, Action.PACKETS})
RECORDED_ACTIONS = frozenset({Action.RECORD})
_OPEN_STATES = (RequestState.PENDING, RequestState.NEEDS_INFO)
#: Requests kept per requester that are still open: more are refused.
MAX_OPEN_PER_REQUESTER = 20


class SharingError(Exception):
    """A request or an answer that cannot be accepted (``status`` is the HTTP status)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Sharing:
    """Access requests and signed grants (see the module docstring)."""

    def __init__(self, *, store: GatewayStore, key: Ed25519PrivateKey, audit: AuditSink,
                 policy: GrantPolicy, max_grant_days: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._store = store
        self._key = key
        self._audit = audit
        self.policy = policy
        self._max_grant = timedelta(days=max_grant_days)
        self._clock = clock
        self.requests: dict[str, AccessRequest] = {
            item["request_id"]: AccessRequest.model_validate(item)
            for item in store.read_json("requests.json", [])
        }

    @classmethod
    def load_policy(cls, store: GatewayStore, key: Ed25519PrivateKey) -> GrantPolicy:
        """The gateway's policy: grants from the store, trusted only when signed by ``key``."""
        from ..privacy import load_grants

        revoked = store.path("revoked.json")
        revocations = RevocationList.load(revoked) if revoked.exists() else RevocationList()
        grants_file = store.path("grants.json")
        grants = load_grants(grants_file) if grants_file.exists() else []
        return GrantPolicy(grants, revocations=revocations, trusted_keys=[key.public_key()])

    # -- persistence -------------------------------------------------------------------------

    def _save_requests(self) -> None:
        self._store.write_json(
            "requests.json", [r.model_dump(mode="json") for r in self.requests.values()]
        )

    def _save_grants(self) -> None:
        path = self._store.path("grants.json")
        save_grants(path, self.policy.grants)
        path.chmod(0o600)

    def _record(self, fields: dict[str, Any]) -> None:
        self._audit.write(fields)

    # -- requests ----------------------------------------------------------------------------

    def submit(self, principal: str, body: AccessRequestIn, cameras: tuple[str, ...]
               ) -> AccessRequest:
        """Keep a new request (``cameras``: the names it covers, area resolved)."""
        open_count = sum(1 for r in self.requests.values()
                         if r.principal == principal and r.state in _OPEN_STATES)
        if open_count >= MAX_OPEN_PER_REQUESTER:
            raise SharingError("too many open requests; wait for answers", 429)
        request = AccessRequest(request_id=new_id(), principal=principal,
                                received_at=self._clock(), body=body, cameras=cameras)
        self._record({"event": "request.received", "request_id": request.request_id,
                      "principal": principal, "requester": body.requester_name,
                      "purpose": body.purpose, "mode": body.mode, "cameras": list(cameras),
                      "case_reference": body.case_reference})
        self.requests[request.request_id] = request
        self._save_requests()
        return request

    def get(self, request_id: str) -> AccessRequest:
        """A request by id (`SharingError` 404 if unknown)."""
        request = self.requests.get(request_id)
        if request is None:
            raise SharingError("no such request", 404)
        return request

    def _decided(self, request: AccessRequest, outcome: str, **changes: Any) -> AccessRequest:
        updated = request.model_copy(update={"decided_at": self._clock(), **changes})
        self._record({"event": "request.decided", "request_id": request.request_id,
                      "principal": request.principal, "purpose": request.body.purpose,
                      "outcome": outcome, "note": updated.note,
                      "grant_ids": list(updated.grant_ids)})
        self.requests[request.request_id] = updated
        self._save_requests()
        return updated

    def _open(self, request_id: str) -> AccessRequest:
        request = self.get(request_id)
        if request.state not in _OPEN_STATES:
            raise SharingError(f"the request is already {request.state.value}", 409)
        return request

    def approve(self, request_id: str, approval: Approval, camera_ids: dict[str, str]
                ) -> list[Grant]:
        """Sign one grant per approved camera (``camera_ids``: name -> device id)."""
        request = self._open(request_id)
        asked = request.body
        extra = set(approval.cameras) - set(request.cameras)
        if extra:
            raise SharingError(f"not asked for: {', '.join(sorted(extra))}")
        if approval.footage_from < asked.footage_from or approval.footage_until > (
            asked.footage_until
        ):
            raise SharingError("the footage window must lie inside the one asked for")
        now = self._clock()
        if not now < approval.expires_at <= now + self._max_grant:
            raise SharingError("expiry must be in the future and within the longest grant")
        if approval.mode == "live" and not (
            approval.footage_from <= now < approval.footage_until
        ):
            raise SharingError("a live grant's window must include now")
        offline = [c for c in approval.cameras if c not in camera_ids]
        if offline:
            raise SharingError(f"not connected, cannot be granted now: {', '.join(offline)}", 409)
        actions = LIVE_ACTIONS if approval.mode == "live" else RECORDED_ACTIONS
        grants = []
        for name in approval.cameras:
            grant = sign_grant(Grant(
                principal=request.principal, cameras=frozenset({camera_ids[name]}),
                actions=actions, purpose=asked.purpose, issued_at=now,
                expires_at=approval.expires_at, footage_from=approval.footage_from,
                footage_until=approval.footage_until, issuer="owner",
                masks=approval.masks.get(name, ()),
            ), self._key)
            self.policy.add_grant(grant)
            grants.append(grant)
            self._record({"event": "grant.issued", "grant_id": grant.grant_id,
                          "principal": grant.principal, "camera": name,
                          "camera_id": camera_ids[name], "mode": approval.mode,
                          "purpose": grant.purpose, "expires_at": grant.expires_at.isoformat(),
                          "footage_from": approval.footage_from.isoformat(),
                          "footage_until": approval.footage_until.isoformat(),
                          "masks": len(grant.masks), "request_id": request_id})
        self._save_grants()
        self._decided(request, "approved", state=RequestState.APPROVED, note=approval.note,
                      grant_ids=tuple(g.grant_id for g in grants), approved_mode=approval.mode)
        return grants

    def deny(self, request_id: str, decline: Decline) -> AccessRequest:
        """Decline a request with a reason."""
        return self._decided(self._open(request_id), "denied", state=RequestState.DENIED,
                             note=decline.note)

    def ask(self, request_id: str, question: MoreInfo) -> AccessRequest:
        """Ask the requester for more before deciding."""
        return self._decided(self._open(request_id), "needs_info",
                             state=RequestState.NEEDS_INFO, note=question.question)

    def reply(self, principal: str, request_id: str, reply: Reply) -> AccessRequest:
        """The requester's answer; the request is pending again."""
        request = self.get(request_id)
        if request.principal != principal:
            raise SharingError("no such request", 404)
        if request.state is not RequestState.NEEDS_INFO:
            raise SharingError("the owner asked nothing", 409)
        if len(request.replies) >= 10:
            raise SharingError("too many replies", 429)
        updated = request.model_copy(update={"state": RequestState.PENDING,
                                             "replies": (*request.replies, reply.answer)})
        self._record({"event": "request.replied", "request_id": request_id,
                      "principal": principal})
        self.requests[request_id] = updated
        self._save_requests()
        return updated

    def expire_pending(self, older_than: timedelta) -> int:
        """Mark requests nobody answered in time as expired; how many."""
        cutoff = self._clock() - older_than
        stale = [r for r in self.requests.values()
                 if r.state in _OPEN_STATES and r.received_at < cutoff]
        for request in stale:
            self._decided(request, "expired", state=RequestState.EXPIRED,
                          note="no answer in time")
        return len(stale)

    # -- grants --------------------------------------------------------------------------

    def grant(self, grant_id: str) -> Grant | None:
        """A grant by id (signed or not, valid or not)."""
        return next((g for g in self.policy.grants if g.grant_id == grant_id), None)

    def grants_of(self, principal: str) -> list[Grant]:
        """Every grant naming ``principal``."""
        return [g for g in self.policy.grants if g.principal == principal]

    def revoke(self, grant_id: str, *, by: str = "owner") -> bool:
        """Revoke a grant now: live egress under it stops at the next frame."""
        if self.grant(grant_id) is None:
            raise SharingError("no such grant", 404)
        newly = self.policy.revoke(grant_id)
        if newly:
            path = self._store.path("revoked.json")
            self.policy.revocations.save(path)
            path.chmod(0o600)
            self._record({"event": "grant.revoked", "grant_id": grant_id, "by": by})
        return newly

    def status(self, grant: Grant) -> str:
        """``active``, ``revoked``, ``expired``, ``not yet``, ``ignored`` (its signature
        does not verify) or ``window over`` (a live grant after its footage window)."""
        if self.policy.revocations.is_revoked(grant.grant_id):
            return "revoked"
        now = self._clock()
        if now >= grant.expires_at:
            return "expired"
        if now < grant.issued_at:
            return "not yet"
        live = grant.actions >= LIVE_ACTIONS
        action = Action.STREAM_OPEN if live else next(iter(grant.actions))
        # Live footage is "now"; a recorded grant is asked about its window's start.
        at = now if live else (grant.footage_from or now)
        decision = self.policy.decide(PolicyRequest(Principal(grant.principal),
                                                    next(iter(grant.cameras)), "", action,
                                                    grant.purpose, at))
        if decision.allowed:
            return "active"
        return "ignored" if "ignored" in decision.reason else "window over"

    def allows(self, principal: str, grant: Grant, camera_id: str, action: Action,
               at: datetime | None = None) -> bool:
        """Whether the policy would allow ``action`` now (no audit: a pre-check only)."""
        if grant.principal != principal:
            return False
        decision = self.policy.decide(PolicyRequest(Principal(principal), camera_id, "", action,
                                                    grant.purpose, at or self._clock()))
        return decision.allowed
