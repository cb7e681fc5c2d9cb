"""`RtspSettings`: what one RTSP client needs to know, checked before any I/O."""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from typing import Literal

from camsdk._errors import ConfigurationError
from camsdk._url import redact_url

from ._urls import Origin

__all__ = ["RtspSettings", "Transport"]

Transport = Literal["tcp", "udp", "auto", "http"]
_TRANSPORTS = ("tcp", "udp", "auto", "http")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class RtspSettings:
    """How to reach one RTSP stream and how to behave while reading it.

    ``url`` is an ``rtsp://`` or ``rtsps://`` URL *without* user information;
    credentials go in ``username``/``password`` (the password never appears
    in a repr). ``transport``: RTP interleaved on the RTSP connection
    (``tcp``), over UDP port pairs (``udp``), UDP then TCP when the camera
    refuses UDP or sends nothing within ``udp_timeout`` (``auto``), or
    tunnelled in HTTP (``http``, QuickTime's GET/POST pair). Every request has
    ``request_timeout``; the caller bounds the whole open and the media
    progress with its own deadlines.

    Redirects are followed only to the same host and port as ``url``, or to a
    host in ``allowed_hosts`` (lower-case names or addresses), never from
    ``rtsps`` to ``rtsp``, at most ``max_redirects`` times.

    TLS (``rtsps``): ``tls`` is the context to verify the server with (the
    system CAs when ``None``). ``pinned_sha256`` (64 hex digits) accepts
    exactly the server certificate with that SHA-256 fingerprint, on every
    connection of the session: the pin is then the trust, so neither CAs
    nor names are checked unless ``tls`` asks for that as well.
    """

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    transport: Transport = "tcp"
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    pinned_sha256: str | None = None
    request_timeout: float = 10.0
    allowed_hosts: frozenset[str] = frozenset()
    audio: bool = True
    user_agent: str = "camsdk"
    max_redirects: int = 3
    #: Keepalive period in seconds; ``None``: half the session timeout the server names.
    keepalive: float | None = None
    #: Seconds between RTCP receiver reports.
    report_interval: float = 5.0
    #: UDP: packets held to put reordered ones back in sequence, and for how long.
    reorder_window: int = 64
    reorder_delay: float = 0.05
    #: ``auto``: seconds to wait for the first UDP packet before switching to TCP.
    udp_timeout: float = 2.0
    #: Packets buffered for a slow reader before the socket is paused (TCP) or the
    #: oldest are dropped (UDP).
    max_queue: int = 512
    #: ``http`` transport: the HTTP port (default: the URL's port, else 80/443).
    http_port: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str):
            raise ConfigurationError("RTSP URL must be a string")
        try:
            origin = Origin.parse(self.url)
        except ValueError as exc:
            raise ConfigurationError(f"not a usable RTSP URL: {exc}", url=redact_url(self.url),
                                     scheme=_scheme_of(self.url)) from None
        if origin.has_userinfo:
            raise ConfigurationError(
                "RTSP URL must not carry credentials; pass username and password",
                scheme=origin.scheme, url=redact_url(self.url),
            )
        if self.transport not in _TRANSPORTS:
            raise ConfigurationError(f"transport must be one of {', '.join(_TRANSPORTS)}",
                                     scheme=origin.scheme, url=self.url)
        if (self.username is None) != (self.password is None) and self.username is None:
            raise ConfigurationError("a password needs a username", scheme=origin.scheme,
                                     url=self.url)
        for name in ("request_timeout", "report_interval", "reorder_delay", "udp_timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"{name} must be a positive number",
                                         scheme=origin.scheme, url=self.url)
        if self.keepalive is not None and self.keepalive <= 0:
            raise ConfigurationError("keepalive must be positive", scheme=origin.scheme,
                                     url=self.url)
        if not 0 <= self.max_redirects <= 10:
            raise ConfigurationError("max_redirects must be between 0 and 10",
                                     scheme=origin.scheme, url=self.url)
        if not 1 <= self.reorder_window <= 1024 or not 8 <= self.max_queue <= 100_000:
            raise ConfigurationError("reorder_window or max_queue out of range",
                                     scheme=origin.scheme, url=self.url)
        if self.pinned_sha256 is not None and not _SHA256.fullmatch(self.pinned_sha256):
            raise ConfigurationError("pinned_sha256 must be 64 lower-case hex digits",
                                     scheme=origin.scheme, url=self.url)
        if any(c in self.user_agent for c in "\r\n"):
            raise ConfigurationError("user_agent must be one line", scheme=origin.scheme,
                                     url=self.url)
        if self.username is not None and any(c in self.username for c in '\r\n"'):
            raise ConfigurationError("username must not contain quotes or line breaks",
                                     scheme=origin.scheme, url=self.url)

    @property
    def origin(self) -> Origin:
        """Scheme, host and port the caller named: the only place credentials go."""
        return Origin.parse(self.url)

    @property
    def scheme(self) -> str:
        """``rtsp`` or ``rtsps``."""
        return self.origin.scheme


def _scheme_of(url: str) -> str | None:
    scheme, sep, _ = url.partition("://")
    return scheme.lower()[:16] if sep else None
