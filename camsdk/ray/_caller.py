"""Who a fleet call is for: the caller's principal and grants, decided on the camera's node.

A `CameraActor` holds one real `Camera` facade per camera, shared by every
caller (one upstream, one decoder, one prebuffer). Its `AccessGate` is a
`CallerGate`: the principal it decides for is the one of the call being
served (a context variable set around each actor method), so the ordinary
facade code (policy, raw-media rule, audit record, masks) runs unchanged, on
the camera's node, for whoever asked.

Grants a caller presents count only when the fleet's policy names trusted
keys and the grant is signed by one of them: anyone in the cluster can call
an actor, so an unsigned grant from a caller proves nothing. The owner's own
grants come from the config.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._access import AccessPolicy, AccessRequest, Decision, Principal
from .._gate import AccessGate
from ..privacy import Grant, GrantPolicy, RevocationList, load_public_key
from ._config import PolicySettings

__all__ = ["Caller", "CallerGate", "CallerPolicy", "current_caller", "serving"]

_MAX_CACHED_POLICIES = 256


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal a call is made for, and the grants it presents (signed ones count)."""

    principal: Principal
    grants: tuple[Grant, ...] = ()


_CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "camsdk_fleet_caller", default=None
)


def current_caller() -> Caller | None:
    """The caller of the actor method being served, if any."""
    return _CALLER.get()


class serving:
    """``with serving(caller):`` makes ``caller`` the principal every gate decision is for."""

    def __init__(self, caller: Caller) -> None:
        self._caller = caller
        self._token: contextvars.Token[Caller | None] | None = None

    def __enter__(self) -> Caller:
        self._token = _CALLER.set(self._caller)
        return self._caller

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CALLER.reset(self._token)


class CallerPolicy:
    """The owner's policy, then (if it says no) the caller's signed grants.

    Both are `GrantPolicy` objects sharing one `RevocationList`, so revoking
    a grant id ends live egress under it whichever way it came in.
    """

    def __init__(self, settings: PolicySettings) -> None:
        self.owner = Principal(settings.owner)
        self.revocations = RevocationList()
        self._keys = tuple(load_public_key(k.encode("utf-8")) for k in settings.trusted_keys)
        self.base = GrantPolicy(
            settings.grants, owner=self.owner, revocations=self.revocations,
            trusted_keys=self._keys or None,
        )
        self._lock = threading.Lock()
        self._presented: dict[tuple[tuple[str, str | None], ...], GrantPolicy] = {}

    def _for_grants(self, grants: Iterable[Grant]) -> GrantPolicy | None:
        key = tuple(sorted((g.grant_id, g.signature) for g in grants))
        if not key or not self._keys:
            return None
        with self._lock:
            policy = self._presented.get(key)
            if policy is None:
                if len(self._presented) >= _MAX_CACHED_POLICIES:
                    self._presented.clear()  # crude bound; rebuilding costs a signature check
                unique = {g.grant_id: g for g in grants}.values()
                policy = GrantPolicy(unique, owner=self.owner, revocations=self.revocations,
                                     trusted_keys=self._keys)
                self._presented[key] = policy
        return policy

    def decide(self, request: AccessRequest) -> Decision:
        """The owner's decision; if it denies, the caller's signed grants may still allow."""
        decision = self.base.decide(request)
        if decision.allowed:
            return decision
        caller = _CALLER.get()
        if caller is None or not caller.grants:
            return decision
        presented = self._for_grants(caller.grants)
        if presented is None:
            return Decision(False, f"{decision.reason}; presented grants are not trusted "
                                   "(the fleet names no trusted_keys)")
        return presented.decide(request)


class CallerGate(AccessGate):
    """An `AccessGate` that decides for the principal of the call being served.

    Outside a call (a background task, the actor's own housekeeping) it is
    the owner's gate.
    """

    def __init__(self, *, policy: AccessPolicy, owner: Principal, **kwargs: Any) -> None:
        super().__init__(principal=owner, policy=policy, **kwargs)

    @property
    def principal(self) -> Principal:
        """The current caller's principal, else the owner."""
        caller = _CALLER.get()
        return caller.principal if caller is not None else self._owner

    @principal.setter
    def principal(self, value: Principal) -> None:
        self._owner = value
