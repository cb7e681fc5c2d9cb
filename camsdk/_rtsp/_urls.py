"""Where requests may go: the caller's origin, redirect rules, control URLs.

Credentials and requests go only to the scheme, host and port the caller
named (plus hosts the caller explicitly allowed). A device may redirect
within that origin; anything else is refused before any connection is made.
Control URLs from the SDP that name another host are rewritten onto the
caller's origin (devices behind NAT announce internal addresses), never
followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from camsdk._errors import RedirectRefusedError
from camsdk._url import redact_url

__all__ = ["DEFAULT_PORTS", "Origin", "RedirectPolicy", "resolve_control"]

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}
_MAX_URL = 4096


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host (lower case, IPv6 without brackets) and effective port of a URL."""

    scheme: str
    host: str
    port: int
    has_userinfo: bool = False

    @classmethod
    def parse(cls, url: str) -> Origin:
        """Parse an absolute ``rtsp``/``rtsps`` URL; `ValueError` when it is not one."""
        if len(url) > _MAX_URL:
            raise ValueError("URL too long")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
            raise ValueError("URL has spaces or control characters")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise ValueError(f"scheme must be rtsp or rtsps, not {scheme[:16]!r}")
        host = (parts.hostname or "").lower()
        if not host:
            raise ValueError("URL has no host")
        port = parts.port  # raises ValueError when out of range
        return cls(scheme, host, port or DEFAULT_PORTS[scheme],
                   parts.username is not None or "@" in parts.netloc)

    @property
    def netloc(self) -> str:
        """``host:port`` as written in a URL (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def same_place(self, other: Origin) -> bool:
        """Same scheme, host and port."""
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)


def rebase(url: str, origin: Origin) -> str:
    """``url`` with its scheme, host and port replaced by ``origin``'s (path and query kept)."""
    parts = urlsplit(url)
    return urlunsplit((origin.scheme, origin.netloc, parts.path or "/", parts.query, ""))


class RedirectPolicy:
    """Decides whether a redirect is followed; counts redirects and detects loops.

    Allowed: the caller's own origin (same host and port; a scheme upgrade to
    ``rtsps`` on it is fine), or any port of a host in ``allowed_hosts``. Never
    a downgrade from ``rtsps``; never more than ``max_redirects``; never a URL
    already visited.
    """

    def __init__(self, start_url: str, allowed_hosts: frozenset[str], max_redirects: int) -> None:
        self.origin = Origin.parse(start_url)
        self.allowed_hosts = frozenset(h.lower().strip("[]") for h in allowed_hosts)
        self.max_redirects = max_redirects
        self.visited = [start_url]

    def follow(self, current_url: str, location: str) -> str:
        """The absolute URL to go to next, or `RedirectRefusedError`."""
        shown = redact_url(location[:512])
        scheme = urlsplit(current_url).scheme.lower()

        def refuse(why: str) -> RedirectRefusedError:
            return RedirectRefusedError(
                f"redirect refused: {why}", scheme=scheme, url=redact_url(current_url),
                location=shown,
            )

        if not location or any(ord(c) < 0x21 or ord(c) == 0x7F for c in location):
            raise refuse("the Location header is empty or malformed")
        target = urljoin(current_url, location.strip())
        try:
            where = Origin.parse(target)
        except ValueError as exc:
            raise refuse(str(exc)) from None
        if where.has_userinfo:
            raise refuse("the target carries user information")
        current = Origin.parse(current_url)
        if current.scheme == "rtsps" and where.scheme != "rtsps":
            raise refuse("it downgrades rtsps to rtsp")
        same_origin = where.host == self.origin.host and where.port == self.origin.port
        if not same_origin and where.host not in self.allowed_hosts:
            raise refuse(
                "it names another host or port (allow a host with "
                "CameraConfig.allow_redirect_hosts)"
            )
        if target in self.visited:
            raise refuse("redirect loop")
        if len(self.visited) > self.max_redirects:
            raise refuse(f"more than {self.max_redirects} redirects")
        self.visited.append(target)
        return target

    def permits(self, origin: Origin) -> bool:
        """Whether requests (and credentials) may go to ``origin``."""
        return (
            (origin.host == self.origin.host and origin.port == self.origin.port)
            or origin.host in self.allowed_hosts
        )


def resolve_control(base: str, control: str | None, origin: Origin) -> str:
    """The absolute URL of an SDP ``a=control`` value, pinned to ``origin``.

    ``*`` or nothing means the base itself; an absolute URL is kept but moved
    onto ``origin`` when it names another scheme, host or port; a path
    (``/x``) replaces the base's path; anything else is appended to the base
    with exactly one ``/`` between them, which is what cameras expect (also
    when the base has a query, as Dahua's does).
    """
    if control is None or control.strip() in ("", "*"):
        url = base
    else:
        control = control.strip()
        if "://" in control[:16]:
            url = control
        elif control.startswith("/"):
            parts = urlsplit(base)
            url = urlunsplit((parts.scheme, parts.netloc, "", "", "")) + control
        elif base.endswith("/"):
            url = base + control
        else:
            url = base + "/" + control
    if len(url) > _MAX_URL or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValueError("control URL has spaces or control characters")
    try:
        where = Origin.parse(url)
    except ValueError:
        raise ValueError("control URL is not an rtsp URL") from None
    if not where.same_place(origin) or where.has_userinfo:
        url = rebase(url, origin)
    return url
