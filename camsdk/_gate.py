"""`AccessGate`: policy, audit and privacy masks as one object.

Every egress of every facade object (`Camera`, `MediaStream`, `EventStream`,
`Hub`, and whatever serves cameras onward) asks the same gate, so no layer can
skip a step and the audit record is always of the *final* decision:

1. the `AccessPolicy` decides the `AccessRequest` (a broken policy denies);
2. rules the facade adds are applied to that decision: raw packets cannot be
   masked, so an egress of raw media under privacy masks is denied unless the
   grant allows ``raw_media``;
3. the decision is written to the `AuditSink` (a sink that fails denies:
   no record, no media);
4. a denial raises `AccessDeniedError`.

Masks are the owner's (given to `camsdk.open`) plus the grant's. A device that
masks its own output (`Capability.PRIVACY_MASK`) adds to them; it never
replaces them, since it cannot know who is watching.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._access import (
    OWNER,
    AccessPolicy,
    AccessRequest,
    Action,
    AllowOwner,
    AuditSink,
    Decision,
    Principal,
)
from ._errors import AccessDeniedError, ConfigurationError
from ._log import get_logger

if TYPE_CHECKING:  # pragma: no cover
    from .privacy import MaskSet, PrivacyMask

__all__ = ["AccessGate", "CameraRef", "coerce_principal"]

log = get_logger("camsdk.access")

#: The reason recorded when masks apply and the grant lacks ``raw_media``.
RAW_MEDIA_REFUSED = "masks require raw_media"
_RAW_MEDIA_HINT = (
    "; privacy masks apply and raw packets cannot be masked: a grant with raw_media is "
    "needed (or record with transcode=True)"
)


def coerce_principal(principal: object, *, url: str | None = None) -> Principal:
    """A `Principal` from a `Principal` or a non-empty string; else `ConfigurationError`."""
    if isinstance(principal, Principal):
        return principal
    if isinstance(principal, str) and principal.strip():
        name = principal.strip()
        return OWNER if name == OWNER.id else Principal(name)
    raise ConfigurationError(
        f"principal must be a camsdk.Principal or a non-empty string, not "
        f"{type(principal).__name__}",
        url=url,
    )


@dataclass(frozen=True, slots=True)
class CameraRef:
    """What the gate knows of a camera: its id and redacted URL."""

    id: str
    url: str
    scheme: str


class AccessGate:
    """Decides, records and masks every egress of one principal (see the module docstring)."""

    def __init__(
        self,
        *,
        principal: Principal | str = OWNER,
        policy: AccessPolicy | None = None,
        audit: AuditSink | None = None,
        masks: Iterable[PrivacyMask] = (),
        url: str | None = None,
    ) -> None:
        self.principal = coerce_principal(principal, url=url)
        if policy is not None and not callable(getattr(policy, "decide", None)):
            raise ConfigurationError("policy must have a decide(request) method", url=url)
        if audit is not None and not callable(getattr(audit, "write", None)):
            raise ConfigurationError("audit must have a write(record) method", url=url)
        self.policy: AccessPolicy = policy if policy is not None else AllowOwner()
        self.audit = audit
        self.masks: tuple[PrivacyMask, ...] = tuple(masks)
        self._mask_sets: dict[tuple[int, ...], MaskSet] = {}

    def __repr__(self) -> str:
        return (
            f"AccessGate(principal={self.principal.id!r}, policy={type(self.policy).__name__}, "
            f"audit={type(self.audit).__name__ if self.audit is not None else None}, "
            f"masks={len(self.masks)})"
        )

    # -- decisions -------------------------------------------------------------------------

    def authorize(
        self,
        camera: CameraRef,
        action: Action,
        purpose: str = "",
        *,
        raw: bool = False,
        at: datetime | None = None,
    ) -> Decision:
        """The final decision for ``action``, recorded before anything leaves; raise if denied.

        ``raw=True`` marks an egress of unmasked media (packets, remuxed
        recordings): under privacy masks it needs a grant with ``raw_media``.
        ``at`` is the time of the footage asked for when it is not live (kept
        recordings); the policy checks it against a grant's footage window.
        """
        if at is None:
            request = AccessRequest(self.principal, camera.id, camera.url, action, purpose)
        else:
            request = AccessRequest(self.principal, camera.id, camera.url, action, purpose, at)
        try:
            decision = self.policy.decide(request)
        except Exception as exc:
            # A broken policy denies; it never lets media through by accident.
            decision = Decision(False, f"policy failed: {type(exc).__name__}")
        if not isinstance(decision, Decision):
            decision = Decision(False, "policy returned no Decision")
        if decision.allowed and raw and self.masks_for(decision) and not decision.raw_media:
            decision = dataclasses.replace(decision, allowed=False, reason=RAW_MEDIA_REFUSED)
        self.record(
            camera,
            {
                "event": "access",
                "principal": self.principal.id,
                "action": action.value,
                "purpose": purpose,
                "allowed": decision.allowed,
                "reason": decision.reason,
                "grant_id": decision.grant_id,
                **({"footage_at": at.isoformat()} if at is not None else {}),
            },
        )
        if not decision.allowed:
            hint = _RAW_MEDIA_HINT if decision.reason == RAW_MEDIA_REFUSED else ""
            raise AccessDeniedError(
                f"{action.value} denied for {self.principal}: {decision.reason}{hint}",
                scheme=camera.scheme,
                url=camera.url,
                reason=decision.reason,
            )
        return decision

    def still_valid(self, decision: Decision) -> bool:
        """Whether a live egress under ``decision`` may go on (expiry, revocation)."""
        return decision.still_valid()

    # -- the audit trail -------------------------------------------------------------------

    def record(self, camera: CameraRef, fields: Mapping[str, Any]) -> None:
        """Write one audit record about ``camera``; fail closed (`AccessDeniedError`)."""
        if self.audit is None:
            return
        record = {"camera_id": camera.id, "camera_url": camera.url, **fields}
        try:
            self.audit.write(record)
        except Exception as exc:
            # Fail closed: no audit record, no media.
            raise AccessDeniedError(
                "audit log could not be written; refusing access",
                scheme=camera.scheme,
                url=camera.url,
                reason=f"audit sink failed: {type(exc).__name__}",
            ) from exc

    def end(
        self,
        camera: CameraRef,
        action: Action,
        decision: Decision,
        *,
        items: int = 0,
        nbytes: int = 0,
        duration: float = 0.0,
        purpose: str = "",
    ) -> None:
        """Record how much left under ``decision`` (never raises: the media is already out)."""
        if self.audit is None:
            return
        record = {
            "event": "egress.end",
            "principal": self.principal.id,
            "camera_id": camera.id,
            "camera_url": camera.url,
            "action": action.value,
            "purpose": purpose,
            "grant_id": decision.grant_id,
            "frames" if action is Action.FRAMES else "packets": items,
            "bytes": nbytes,
            "duration": round(duration, 3),
        }
        try:
            self.audit.write(record)
        except Exception:
            log.exception("audit sink failed on egress end for %s", camera.url)

    # -- masks -----------------------------------------------------------------------------

    def masks_for(self, decision: Decision) -> tuple[PrivacyMask, ...]:
        """The owner's masks plus those the grant requires."""
        return self.masks + tuple(decision.masks)

    def mask_set(self, decision: Decision) -> MaskSet | None:
        """The rasterising `MaskSet` for ``decision`` (cached), or ``None`` without masks."""
        masks = self.masks_for(decision)
        if not masks:
            return None
        key = tuple(id(m) for m in masks)
        cached = self._mask_sets.get(key)
        if cached is None:
            from .privacy import MaskSet

            cached = self._mask_sets[key] = MaskSet(masks)
        return cached
