"""Options of the ``ring://`` account hub and its cameras (URL query or keywords).

Ring's hosts are the defaults of the ``*_url`` options; tests point them at
`camsdk.testing.RingCloud` on loopback. Every host named here is one the
driver may contact (`RingOptions.hosts`), besides the declared
``egress_hosts`` of the recording storage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from camsdk.driver import DriverOptions

__all__ = ["RingOptions"]

_SCHEMES = {
    "oauth_url": ("https", "http"),
    "api_url": ("https", "http"),
    "app_url": ("https", "http"),
    "snapshot_url": ("https", "http"),
    "signalling_url": ("wss", "ws"),
    "push_url": ("https", "http"),
}


class RingOptions(DriverOptions):
    """Options shared by a Ring account (hub) and its cameras."""

    token_dir: str | None = Field(
        default=None,
        description="directory of a FileTokenStore keeping the account's tokens, hardware id "
        "and push registration (default: ~/.config/camsdk/tokens)",
    )
    token_store: Any = Field(
        default=None, exclude=True,
        description="a camsdk.cloud TokenStore object (keyword only) instead of token_dir",
    )
    client_name: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="how this install appears in Ring's list of authorized client devices "
        "(default: camsdk-<first 8 hex digits of the hardware id>, unique per install)",
    )
    oauth_url: str = Field(default="https://oauth.ring.com",
                           description="Ring's OAuth server")
    api_url: str = Field(default="https://api.ring.com", description="Ring's client API")
    app_url: str = Field(default="https://app.ring.com",
                         description="Ring's app API (live view tickets)")
    snapshot_url: str = Field(default="https://app-snaps.ring.com",
                              description="Ring's snapshot service")
    signalling_url: str = Field(
        default="wss://api.prod.signalling.ring.devices.a2z.com",
        description="Ring's live view signalling websocket",
    )
    push_url: str | None = Field(
        default=None,
        description="a push channel standing in for FCM (camsdk.testing.RingCloud offers one); "
        "without it events are polled",
    )
    events: str = Field(
        default="auto", pattern="^(auto|push|poll)$",
        description="auto: push when a push channel is configured, polling while it is silent; "
        "poll: polling only",
    )
    push_health: float = Field(
        default=90.0, gt=0, le=3600,
        description="seconds without a byte from the push channel before it counts as silent",
    )
    poll_interval: float = Field(
        default=5.0, gt=0, le=600, description="seconds between polls of active dings"
    )
    poll_cap: float = Field(
        default=120.0, gt=0, le=3600,
        description="longest wait between polls after errors (capped exponential backoff)",
    )
    live_max: float = Field(
        default=600.0, gt=0, le=3600,
        description="hard maximum of one live view session; a new one follows (Discontinuity)",
    )
    ping_interval: float = Field(
        default=5.0, gt=0, le=60, description="seconds between live view keep-alive pings"
    )
    snapshot_spacing: float = Field(
        default=10.0, ge=0, le=3600,
        description="least seconds between two on-demand snapshot requests of one device "
        "(Ring throttles them; battery devices drain)",
    )
    code_spacing: float = Field(
        default=60.0, ge=0, le=3600,
        description="least seconds between two requests for a 2FA code of one account",
    )
    ice_host: str | None = Field(
        default=None,
        description="gather ICE candidates on this address only (tests: 127.0.0.1)",
    )

    @field_validator(*_SCHEMES)
    @classmethod
    def _endpoint(cls, value: str | None, info: Any) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        allowed = _SCHEMES[info.field_name]
        if parts.scheme not in allowed or not parts.hostname:
            raise ValueError(f"must be a {' or '.join(allowed)} URL with a host")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("must not carry credentials, a query or a fragment")
        return value.rstrip("/")

    @field_validator("token_store")
    @classmethod
    def _store(cls, value: Any) -> Any:
        if value is not None and not all(
            hasattr(value, name) for name in ("load", "save", "delete", "claim")
        ):
            raise ValueError("token_store must be a camsdk.cloud TokenStore")
        return value

    def hosts(self) -> frozenset[str]:
        """Every host these endpoints name (lower-case)."""
        found = set()
        for name in _SCHEMES:
            value = getattr(self, name)
            if value:
                host = urlsplit(value).hostname
                if host:
                    found.add(host.lower())
        return frozenset(found)

    def to_query(self, *, exclude: Iterable[str] = ()) -> dict[str, str]:
        """The explicitly given options as query text, never the store object."""
        return super().to_query(exclude={*exclude, "token_store"})
