"""Access requests and the owner's answers, as validated data.

A requester submits an `AccessRequestIn` (cameras or an area, a footage
window, live or recorded, purpose, legal basis or case reference, contact);
the gateway keeps it as an `AccessRequest` whose `RequestState` the owner
moves on: approve (`Approval`: which cameras, which window, live or
recorded, until when, which masks), deny, or ask for more (the requester
replies). Every text field is bounded and free of control characters; times
carry a time zone and are kept in UTC.
"""

from __future__ import annotations

import enum
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..privacy import PrivacyMask

__all__ = [
    "AccessRequest",
    "AccessRequestIn",
    "Approval",
    "Decline",
    "ExportIn",
    "LiveIn",
    "Mode",
    "MoreInfo",
    "Reply",
    "RequestState",
    "new_id",
]

Mode = Literal["live", "recorded"]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
#: The longest footage window one request may ask for.
MAX_WINDOW = timedelta(days=31)


def new_id() -> str:
    """A random id (128 bits, hex): requests, exports and live tickets."""
    return secrets.token_hex(16)


def _clean(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value.strip()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("times must carry a time zone (e.g. 2024-06-01T12:00:00Z)")
    return value.astimezone(UTC)


class RequestState(str, enum.Enum):
    """Where a request stands."""

    PENDING = "pending"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    DENIED = "denied"
    #: Nobody answered in time (``[retention] pending_days``).
    EXPIRED = "expired"


class AccessRequestIn(BaseModel):
    """What a requester submits (``POST /api/v1/requests``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=2000)

    cameras: tuple[str, ...] = Field(default=(), max_length=64)
    area: str | None = Field(default=None, max_length=63)
    footage_from: datetime
    footage_until: datetime
    mode: Mode
    purpose: str = Field(min_length=3, max_length=200)
    legal_basis: str = Field(default="", max_length=500)
    case_reference: str = Field(default="", max_length=200)
    contact: str = Field(min_length=3, max_length=200)
    requester_name: str = Field(min_length=1, max_length=120)

    @field_validator("purpose", "legal_basis", "case_reference", "contact", "requester_name")
    @classmethod
    def _text(cls, value: str) -> str:
        return _clean(value)

    @field_validator("cameras")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError("camera names are lower-case letters, digits, '-' or '_'")
        return tuple(dict.fromkeys(value))

    @field_validator("footage_from", "footage_until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _coherent(self) -> AccessRequestIn:
        if bool(self.cameras) == bool(self.area):
            raise ValueError("name either cameras or an area")
        if self.footage_until <= self.footage_from:
            raise ValueError("footage_until must be after footage_from")
        if self.footage_until - self.footage_from > MAX_WINDOW:
            raise ValueError("a footage window is at most 31 days")
        if not (self.legal_basis or self.case_reference):
            raise ValueError("give a legal basis or a case reference")
        if len(self.purpose.strip()) < 3:
            raise ValueError("purpose is too short")
        return self


class AccessRequest(BaseModel):
    """A request as the gateway keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str
    principal: str
    received_at: datetime
    body: AccessRequestIn
    #: Camera names the request covers (an area resolved when it arrived).
    cameras: tuple[str, ...]
    state: RequestState = RequestState.PENDING
    decided_at: datetime | None = None
    #: The owner's reason (deny) or question (ask for more).
    note: str = ""
    replies: tuple[str, ...] = ()
    grant_ids: tuple[str, ...] = ()
    #: What was approved: mode and footage window may be narrower than asked.
    approved_mode: Mode | None = None

    def public(self) -> dict[str, object]:
        """What the requester may read about their own request."""
        return {
            "request_id": self.request_id,
            "state": self.state.value,
            "received_at": self.received_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "note": self.note,
            "cameras": list(self.cameras),
            "mode": self.body.mode,
            "grant_ids": list(self.grant_ids),
        }


class Approval(BaseModel):
    """The owner's yes: possibly narrower than the request, never wider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: tuple[str, ...] = Field(min_length=1, max_length=64)
    footage_from: datetime
    footage_until: datetime
    mode: Mode
    expires_at: datetime
    #: Extra masks per camera name (drawn in the mask editor).
    masks: dict[str, tuple[PrivacyMask, ...]] = Field(default_factory=dict)
    note: str = Field(default="", max_length=500)

    @field_validator("footage_from", "footage_until", "expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)

    @field_validator("note")
    @classmethod
    def _text(cls, value: str) -> str:
        return _clean(value)

    @model_validator(mode="after")
    def _coherent(self) -> Approval:
        if self.footage_until <= self.footage_from:
            raise ValueError("footage_until must be after footage_from")
        unknown = set(self.masks) - set(self.cameras)
        if unknown:
            raise ValueError(f"masks for cameras not approved: {', '.join(sorted(unknown))}")
        return self


class _OwnerMessage(BaseModel):
    """A short text between owner and requester: control characters refused, ends trimmed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*")
    @classmethod
    def _text(cls, value: str) -> str:
        return _clean(value)


class Decline(_OwnerMessage):
    """The owner's no, with a reason the requester will read."""

    note: str = Field(default="", max_length=500)


class MoreInfo(_OwnerMessage):
    """The owner's question before deciding."""

    question: str = Field(min_length=3, max_length=500)


class Reply(_OwnerMessage):
    """The requester's answer to the owner's question."""

    answer: str = Field(min_length=1, max_length=2000)


class LiveIn(BaseModel):
    """Ask for a live view (``POST /api/v1/live``)."""

    model_config = ConfigDict(extra="forbid")
    grant_id: str = Field(max_length=128)
    camera: str = Field(max_length=63)


class ExportIn(BaseModel):
    """Ask for a clip (``POST /api/v1/exports``); the window defaults to the grant's."""

    model_config = ConfigDict(extra="forbid")
    grant_id: str = Field(max_length=128)
    camera: str = Field(max_length=63)
    footage_from: datetime | None = None
    footage_until: datetime | None = None
