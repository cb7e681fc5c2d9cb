"""Device-supplied URLs: rewrite them to the address the caller gave, refuse the rest.

Used by every driver that reads URLs out of device answers (ONVIF XAddrs and
stream URIs, vendor stream and snapshot paths).

A device behind NAT or a port forward reports its *internal* address in
service XAddrs, stream URIs, snapshot URIs and subscription addresses
(``http://192.168.1.64/onvif/media_service``). camsdk never follows such a
URL to another host: it keeps the path and query and puts back the host the
caller named, unless that host is listed in
``CameraConfig.allow_redirect_hosts``. Port mapping:

- HTTP(S) URLs get the caller's port: behind a forward, the port the caller
  reached the device's web server on is the only one known to work. A URL on
  the caller's own host keeps its port, unless that port is the one the
  device reports for its device service (``device_port``) while the caller
  reached that service on another: then the forward is known and applied;
- RTSP URLs keep the reported port unless the ``rtsp_port`` option says
  where RTSP is forwarded to (then every stream URL uses it).

A caller who asked for HTTPS never sees a service URL downgraded to HTTP.
Schemes that read local data (``file:``, ``data:``, ``concat:`` ...) are
refused whatever the host. Credentials embedded in a URL are split off and
returned separately, so the URL itself can be shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from ._errors import CameraProtocolError

__all__ = ["DeviceUrlPolicy", "ResolvedURL", "UrlKind"]

UrlKind = Literal["service", "snapshot", "stream"]

_SCHEMES: dict[UrlKind, frozenset[str]] = {
    "service": frozenset({"http", "https"}),
    "snapshot": frozenset({"http", "https"}),
    # Some encoders hand out RTSP-over-HTTP or HTTP MJPEG URIs for streams.
    "stream": frozenset({"rtsp", "rtsps", "http", "https"}),
}


@dataclass(frozen=True, slots=True)
class ResolvedURL:
    """A device URL after the policy: ``url`` has no userinfo; credentials are apart."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    rewritten: bool = False


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True, slots=True)
class DeviceUrlPolicy:
    """Where device-supplied URLs may point (see the module docstring)."""

    host: str
    port: int
    https: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    rtsp_port: int | None = None
    #: For error messages: the caller's URL, redacted.
    shown: str = ""
    #: The port the device believes its device service is on (from its XAddr).
    device_port: int | None = None
    #: The camera URL's scheme, for errors.
    scheme: str = "onvif"

    def resolve(self, uri: str, kind: UrlKind) -> ResolvedURL:
        """Check and rewrite ``uri`` (module docstring); `CameraProtocolError` if refused."""
        raw = uri.strip()
        scheme = raw.split(":", 1)[0].lower() if ":" in raw else ""
        if scheme not in _SCHEMES[kind]:
            shown = f"{scheme}:" if scheme else "a relative"
            raise CameraProtocolError(
                f"device handed back {shown} URI for its {kind}; only "
                f"{'/'.join(sorted(_SCHEMES[kind]))} are accepted",
                scheme=self.scheme,
                url=self.shown or None,
            )
        try:
            parts = urlsplit(raw)
            reported_port = parts.port
        except ValueError as exc:
            raise CameraProtocolError(
                f"device handed back a malformed {kind} URI",
                scheme=self.scheme,
                url=self.shown or None,
            ) from exc
        host = (parts.hostname or "").lower()
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        target_host, port, rewritten = host, reported_port, False
        web = scheme in ("http", "https")
        if not host or (host != self.host.lower() and host not in self.allowed_hosts):
            target_host, rewritten = self.host, True
            if web:
                port = self.port
        elif web and host == self.host.lower() and self.device_port not in (None, self.port):
            effective = reported_port or (443 if scheme == "https" else 80)
            if effective == self.device_port:
                port, rewritten = self.port, True
        if scheme in ("rtsp", "rtsps") and self.rtsp_port is not None:
            port = self.rtsp_port
        if kind == "service" and self.https and scheme == "http":
            # Never downgrade: the caller chose TLS for the credentials' sake.
            scheme, port, rewritten = "https", self.port if rewritten else port, True
        netloc = _bracket(target_host) + (f":{port}" if port is not None else "")
        url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
        return ResolvedURL(url, username, password, rewritten)

    def service(self, uri: str) -> str:
        """A service XAddr or subscription address, rewritten (credentials dropped)."""
        return self.resolve(uri, "service").url
