"""Camera URLs: parse, validate and redact.

A `CameraURL` keeps the password out of every printed form: ``str()`` and
``repr()`` give ``rtsp://user:***@host/path``. Drivers read query options
through `CameraURL.options`, and the facade rejects options no driver declared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from ._errors import ConfigurationError

__all__ = ["CameraURL", "redact_url", "redact_text"]

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*$")
_MASK = "***"


@dataclass(frozen=True, slots=True)
class CameraURL:
    """A parsed camera URL. Immutable; the password never appears in its text forms."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: tuple[tuple[str, str], ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    fragment: str = ""

    @classmethod
    def parse(cls, url: str) -> CameraURL:
        """Parse ``url``; raise `ConfigurationError` (with a redacted URL) when malformed."""
        if not isinstance(url, str):
            raise ConfigurationError(f"camera URL must be a string, not {type(url).__name__}")
        text = url.strip()
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise ConfigurationError("camera URL contains control characters", url=redact_url(text))
        if "://" not in text:
            raise ConfigurationError(
                "camera URL needs a scheme, e.g. rtsp://host/path", url=redact_url(text)
            )
        scheme_part = text.split("://", 1)[0].lower()
        if not _SCHEME_RE.match(scheme_part):
            raise ConfigurationError(f"invalid URL scheme {scheme_part!r}", url=redact_url(text))
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError(
                "camera URL is malformed (bad host or port)", url=redact_url(text)
            ) from exc
        host = parts.hostname or ""
        if scheme_part != "file" and not host and not parts.path.strip("/"):
            raise ConfigurationError("camera URL has no host", url=redact_url(text))
        try:
            query = tuple(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
        except ValueError as exc:  # pragma: no cover - parse_qsl is lenient
            raise ConfigurationError("camera URL query is malformed", url=redact_url(text)) from exc
        return cls(
            scheme=scheme_part,
            host=host,
            port=port,
            path=parts.path,
            query=query,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            fragment=parts.fragment,
        )

    @property
    def options(self) -> dict[str, str]:
        """Query options as a dict (the last value wins when a key repeats)."""
        return dict(self.query)

    @property
    def netloc_host(self) -> str:
        """Host as it appears in a URL (IPv6 in brackets) plus ``:port`` when set."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port is not None else host

    def with_options(self, options: Mapping[str, Any]) -> CameraURL:
        """Return a copy whose query is ``options``."""
        return CameraURL(
            self.scheme,
            self.host,
            self.port,
            self.path,
            tuple((k, str(v)) for k, v in options.items()),
            self.username,
            self.password,
            self.fragment,
        )

    def without_credentials(self) -> CameraURL:
        """Return a copy with no user name or password."""
        return CameraURL(
            self.scheme, self.host, self.port, self.path, self.query, None, None, self.fragment
        )

    def unsafe_str(self, *, scheme: str | None = None, include_query: bool = True) -> str:
        """The full URL **including the password**, for handing to a transport. Never log it."""
        return self._render(scheme=scheme, redact=False, include_query=include_query)

    def redacted(self) -> str:
        """The URL with the password replaced by ``***``."""
        return self._render(scheme=None, redact=True, include_query=True)

    def _render(self, *, scheme: str | None, redact: bool, include_query: bool) -> str:
        userinfo = ""
        if self.username is not None:
            userinfo = quote(self.username, safe="")
            if self.password is not None:
                userinfo += ":" + (_MASK if redact else quote(self.password, safe=""))
            userinfo += "@"
        query = ""
        if include_query and self.query:
            query = "&".join(
                f"{quote(k, safe='')}={_MASK if redact and _secret_key(k) else quote(v, safe=':,')}"
                for k, v in self.query
            )
        return urlunsplit(
            (scheme or self.scheme, userinfo + self.netloc_host, self.path, query, self.fragment)
        )

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"CameraURL({self.redacted()!r})"


_SECRET_KEYS = frozenset(
    {"password", "pass", "pwd", "passwd", "token", "access_token", "key", "apikey", "api_key",
     "secret", "auth", "authorization", "sig", "signature", "user_password", "client_secret"}
)


def _secret_key(key: str) -> bool:
    k = key.lower()
    return k in _SECRET_KEYS or k.endswith(("password", "token", "secret"))


# userinfo in any URL-looking text: scheme://user:pass@
_USERINFO_RE = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^\s@/]*)(?=@)")
_QUERY_SECRET_RE = re.compile(
    r"(?P<pre>[?&;](?:[A-Za-z_]*(?:password|passwd|pwd|token|secret|key|auth|sig|signature)"
    r"[A-Za-z_]*)=)(?P<val>[^&\s#'\"]+)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Redact credentials in a URL string without parsing it strictly (safe on garbage)."""
    return redact_text(url)


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove URL passwords, secret query values and any of ``secrets`` from free text."""
    out = _USERINFO_RE.sub(lambda m: m.group("pre") + _MASK, text)
    out = _QUERY_SECRET_RE.sub(lambda m: m.group("pre") + _MASK, out)
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe=""), quote(secret)}:
                out = out.replace(form, _MASK)
    return out
