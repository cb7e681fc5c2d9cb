"""Options of the ``unifi://`` console hub and its cameras (URL query or keywords)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, field_validator

from camsdk.driver import DriverOptions, Sha256Fingerprint

__all__ = ["UnifiOptions"]



class UnifiOptions(DriverOptions):
    """Options shared by a UniFi Protect console (hub) and its cameras."""

    api_key: str | None = Field(
        default=None, repr=False,
        description="Integration API key (X-API-KEY); preferred over a local user when given",
    )
    fingerprint: Sha256Fingerprint | None = Field(
        default=None,
        description="SHA-256 fingerprint of the console's certificate to pin (hex, colons "
        "allowed); without it the first certificate seen is pinned (trust on first use)",
    )
    tls: Literal["pin", "system"] = Field(
        default="pin",
        description="pin: trust exactly the console's (self-signed) certificate; "
        "system: verify it against the system's CAs (a console with a real certificate)",
    )
    session_dir: str | None = Field(
        default=None,
        description="directory of a FileTokenStore keeping the login session and the "
        "pinned fingerprint across restarts (default: this process only)",
    )
    token_store: Any = Field(
        default=None, exclude=True,
        description="a camsdk.cloud TokenStore object (keyword only) instead of session_dir",
    )
    events: Literal["auto", "private", "integration"] = Field(
        default="auto",
        description="event websocket: the private updates socket or the Integration API's "
        "(auto: the one of the API in use)",
    )
    liveness: float = Field(
        default=30.0, gt=0, le=600,
        description="seconds without a byte from the event websocket before it counts as dead",
    )
    login_spacing: float = Field(
        default=60.0, ge=0, le=3600,
        description="minimum seconds between two logins to one console (consoles lock out "
        "clients that retry every few seconds)",
    )
    quality: Literal["high", "medium", "low"] | None = Field(
        default=None, description="default stream profile (else the best enabled one)"
    )
    max_events: int = Field(
        default=200, ge=1, le=10000,
        description="events looked up on the console after a reconnect, at most",
    )

    @field_validator("token_store")
    @classmethod
    def _store(cls, value: Any) -> Any:
        if value is not None and not all(
            hasattr(value, name) for name in ("load", "save", "delete")
        ):
            raise ValueError("token_store must be a camsdk.cloud TokenStore")
        return value

    def to_query(self, *, exclude: Iterable[str] = ()) -> dict[str, str]:
        """The explicitly given options as query text, never the API key or the store."""
        return super().to_query(exclude={*exclude, "api_key", "token_store"})
