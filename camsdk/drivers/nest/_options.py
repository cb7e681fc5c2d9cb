"""Options of the ``nest://`` account hub and its cameras (URL query or keywords)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from camsdk.driver import DriverOptions

__all__ = ["GOOGLE", "NestOptions"]

#: Google's endpoints (what the options default to).
GOOGLE = {
    "sdm_url": "https://smartdevicemanagement.googleapis.com/v1",
    "token_url": "https://oauth2.googleapis.com/token",
    "pubsub_url": "https://pubsub.googleapis.com/v1",
    "authorize_url": "https://nestservices.google.com/partnerconnections",
}


class NestOptions(DriverOptions):
    """Options shared by a Nest account (hub) and its cameras."""

    client_id: str | None = Field(
        default=None,
        description="OAuth client id of your Google Cloud project (else the one stored at "
        "login, or the user name of credentials=)",
    )
    client_secret: str | None = Field(
        default=None, repr=False,
        description="OAuth client secret (else the one stored at login, or the password of "
        "credentials=)",
    )
    account: str | None = Field(
        default=None, description="the token store's account name (default: the project id)"
    )
    token_store: Any = Field(
        default=None, exclude=True,
        description="a camsdk.cloud TokenStore, a directory of a FileTokenStore, or 'keyring' "
        "(default: the directory camsdk login uses)",
    )
    subscription: str | None = Field(
        default=None,
        description="Pub/Sub subscription for events: projects/<cloud project>/subscriptions/"
        "<name> (no events without it; re-created when Google deleted it)",
    )
    topic: str | None = Field(
        default=None,
        description="the Device Access topic to (re-)create the subscription on "
        "(default: projects/sdm-prod/topics/enterprise-<project id>)",
    )
    protocol: Literal["auto", "rtsp", "webrtc"] = Field(
        default="auto", description="live stream protocol (auto: what the camera supports)"
    )
    sdm_url: str = Field(default=GOOGLE["sdm_url"], description="SDM API base URL")
    token_url: str = Field(default=GOOGLE["token_url"], description="OAuth token endpoint")
    pubsub_url: str = Field(default=GOOGLE["pubsub_url"], description="Pub/Sub API base URL")
    authorize_url: str = Field(
        default=GOOGLE["authorize_url"],
        description="the Partner Connections Manager (the consent page; login only)",
    )
    redirect_uri: str = Field(
        default="https://www.google.com",
        description="OAuth redirect URI registered for the client (login only)",
    )
    feed_window: float = Field(
        default=180.0, gt=1, le=3600,
        description="seconds without an answer from Pub/Sub before the feed is restarted",
    )
    renew_before: float = Field(
        default=60.0, gt=0, le=240,
        description="seconds before a live stream's expiry to extend (or replace) it",
    )
    image_max_age: float = Field(
        default=30.0, ge=0, le=86400,
        description="an event image older than this is not a snapshot (without max_age=)",
    )
    image_width: int | None = Field(
        default=None, ge=16, le=4096, description="width of downloaded event images"
    )
    command_qpm: int = Field(
        default=5, ge=1, le=600, description="commands of one kind per device per minute"
    )
    project_qpm: int = Field(
        default=10, ge=1, le=6000,
        description="executeCommand and devices.get calls per minute for the project",
    )
    list_qpm: int = Field(
        default=5, ge=1, le=6000, description="devices.list and structures calls per minute"
    )
    webrtc_hosts: tuple[str, ...] | None = Field(
        default=None, description="addresses ICE gathers host candidates on (default: all)"
    )

    @field_validator("sdm_url", "token_url", "pubsub_url", "authorize_url", "redirect_uri")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("webrtc_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(h.strip() for h in value.split(",") if h.strip())
        return value

    @field_validator("subscription")
    @classmethod
    def _subscription(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "projects" or parts[2] != "subscriptions" or not all(
            parts
        ):
            raise ValueError("must be projects/<cloud project>/subscriptions/<name>")
        return "/".join(parts)

    @field_validator("token_store")
    @classmethod
    def _store(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if hasattr(value, "__fspath__"):
            return str(value)
        if not all(callable(getattr(value, n, None)) for n in ("load", "save", "claim")):
            raise ValueError("token_store must be a camsdk.cloud TokenStore or a directory")
        return value

    def overridden_hosts(self) -> frozenset[str]:
        """Hosts of endpoints the caller moved away from Google (their explicit choice)."""
        hosts = set()
        for name, default in GOOGLE.items():
            value = getattr(self, name)
            if value != default:
                hosts.add((urlsplit(value).hostname or "").lower())
        hosts.discard("")
        return frozenset(hosts)

    def to_query(self, *, exclude: Iterable[str] = ()) -> dict[str, str]:
        """The explicitly given options as query text, never the secret or the store object."""
        skip = {*exclude, "client_secret"}
        if self.token_store is not None and not isinstance(self.token_store, str):
            skip.add("token_store")
        return super().to_query(exclude=skip)
