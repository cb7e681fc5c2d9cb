"""The egress seam: every way media or control leaves the SDK asks here first.

The facade turns each egress (snapshot, stream open, packets, frames, record,
event subscription, PTZ, config) into an `AccessRequest`, asks the camera's
`AccessPolicy` for a `Decision`, writes the decision to the `AuditSink`, and
only then calls the driver. `camsdk.privacy` builds the full policy, grant and
audit-log machinery on these types; this module holds only the contract and
the default policy, so the facade never imports anything heavier.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from .privacy import PrivacyMask

__all__ = [
    "AccessPolicy",
    "AccessRequest",
    "Action",
    "AllowOwner",
    "AuditSink",
    "Decision",
    "OWNER",
    "Principal",
]


class Action(str, enum.Enum):
    """What a principal wants to do with a camera."""

    SNAPSHOT = "snapshot"
    STREAM_OPEN = "stream.open"
    FRAMES = "frames"
    PACKETS = "packets"
    RECORD = "record"
    EVENTS_SUBSCRIBE = "events.subscribe"
    PTZ = "ptz"
    #: Play audio on the device's speaker (two-way audio).
    TALK = "talk"
    CONFIG = "config"
    #: List the recordings the device (or its cloud) keeps, or download one. A
    #: download is raw media: under privacy masks it needs a grant with `RAW_MEDIA`.
    HISTORY = "history"
    #: Not an egress of its own: a grant that includes it lets `PACKETS`, `RECORD`
    #: and history downloads through even when privacy masks apply (raw media is unmasked).
    RAW_MEDIA = "raw_media"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the camera owner, an app, a neighbour, an MQTT client ..."""

    id: str
    display_name: str = ""

    def __str__(self) -> str:
        return self.id


#: The local owner of the cameras; the default principal of `camsdk.open`.
OWNER = Principal("owner", "camera owner")


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One egress, as the policy sees it. ``camera_url`` is redacted."""

    principal: Principal
    camera_id: str
    camera_url: str
    action: Action
    purpose: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer.

    ``masks`` are extra privacy masks the grant requires; ``raw_media`` lets
    unmasked packets out; ``expires_at`` (monotonic seconds) and ``revoked``
    let the facade stop live egress at the next frame or packet cheaply,
    without asking the policy again for every item.
    """

    allowed: bool
    reason: str
    masks: tuple[PrivacyMask, ...] = ()
    raw_media: bool = False
    grant_id: str | None = None
    expires_at: float | None = None
    revoked: Callable[[], bool] | None = field(default=None, repr=False, compare=False)
    #: The monotonic clock ``expires_at`` is measured on (the policy's).
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def still_valid(self, now: float | None = None) -> bool:
        """Whether a live egress under this decision may go on (expiry, revocation)."""
        if not self.allowed:
            return False
        if self.expires_at is not None and (now or self.clock()) >= self.expires_at:
            return False
        return not (self.revoked is not None and self.revoked())


@runtime_checkable
class AccessPolicy(Protocol):
    """Decides access requests. Must be fast and must not do I/O."""

    def decide(self, request: AccessRequest) -> Decision:
        """Return the decision for ``request``."""
        ...


@runtime_checkable
class AuditSink(Protocol):
    """Receives one record per decision (and per egress end) before media leaves.

    A sink that raises makes the facade fail closed: no audit, no media.
    """

    def write(self, record: Mapping[str, Any]) -> None:
        """Persist ``record`` (a JSON-serialisable mapping without media or secrets)."""
        ...


class AllowOwner:
    """The default policy: the owner principal may do everything, anyone else nothing.

    Sharing with other principals is done with `camsdk.privacy.GrantPolicy`,
    which extends this with scoped, expiring grants.
    """

    def __init__(self, owner: Principal = OWNER) -> None:
        self.owner = owner

    def decide(self, request: AccessRequest) -> Decision:
        """Allow the owner; deny every other principal."""
        if request.principal.id == self.owner.id:
            return Decision(True, "owner")
        return Decision(False, f"principal {request.principal.id!r} has no grant")
