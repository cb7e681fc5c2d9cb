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
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlsplit, urlunsplit

from ._errors import ConfigurationError

__all__ = ["CameraURL", "redact_url", "redact_text"]

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*$")
# An invalid scheme is quoted in the error only when it cannot be part of a userinfo.
_SHOWN_SCHEME_RE = re.compile(r"^[a-z0-9+.-]{1,32}$")
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
        """Parse ``url``; raise `ConfigurationError` (with a redacted URL) when malformed.

        Special characters in a user name or password must be percent-encoded
        (``@`` as ``%40``, ``/`` as ``%2F``, ``?`` as ``%3F``, ``#`` as ``%23``).
        A URL whose ``@`` ends up after the host (in the path, a query key or
        the fragment) most likely holds such a password unencoded: it is
        refused rather than guessed at, and the error shows it masked.
        """
        if not isinstance(url, str):
            raise ConfigurationError(f"camera URL must be a string, not {type(url).__name__}")
        text = url.strip()

        def malformed(problem: str) -> ConfigurationError:
            return ConfigurationError(problem, url=_redact_unparsed(text))

        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            raise malformed("camera URL contains control characters")
        if "://" not in text:
            raise malformed("camera URL needs a scheme, e.g. rtsp://host/path")
        scheme_part = text.split("://", 1)[0].lower()
        if not _SCHEME_RE.match(scheme_part):
            named = f" {scheme_part!r}" if _SHOWN_SCHEME_RE.match(scheme_part) else ""
            raise malformed(f"invalid URL scheme{named}")
        # Not raised inside the except clause: urllib's error quotes the text it choked
        # on (the password, when it is not encoded) and would ride along as __context__.
        split = _split(text)
        if split is None or split[0].netloc.endswith(":"):
            raise malformed("camera URL is malformed (bad host or port)")
        parts, port = split
        query = tuple(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
        if scheme_part != "file" and (
            "@" in parts.path or "@" in parts.fragment or any("@" in k for k, _ in query)
        ):
            raise malformed(
                "camera URL has an '@' after its host: percent-encode '@', '/', '?' and '#' "
                "in the user name and password (%40, %2F, %3F, %23)"
            )
        host = parts.hostname or ""
        if scheme_part != "file" and not host and not parts.path.strip("/"):
            raise malformed("camera URL has no host")
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


def _split(text: str) -> tuple[SplitResult, int | None] | None:
    """``urlsplit`` and the port, or ``None`` when urllib finds the host or port malformed."""
    try:
        parts = urlsplit(text)
        return parts, parts.port
    except ValueError:
        return None


def _redact_unparsed(text: str) -> str:
    """A URL as it may be shown when it is (or may be) malformed.

    Nothing of it can be trusted to sit where it belongs, so everything up to
    its last ``@`` (any user name and password, however mangled) and every
    query and fragment are masked; scheme, host and path remain.
    """
    scheme, sep, rest = text.partition("://")
    if not sep or not _SHOWN_SCHEME_RE.match(scheme.lower()):
        scheme, sep, rest = "", "", text
    delimiters = [i for i in (rest.find("?"), rest.find("#")) if i >= 0]
    at = rest.rfind("@")
    if at >= 0:
        # An '@' after a '?' or '#' may sit in a query value: then the rest is query too.
        tail = "" if delimiters and min(delimiters) < at else rest[at + 1 :]
        rest = _MASK + "@" + tail if tail else _MASK
        delimiters = [i for i in (rest.find("?"), rest.find("#")) if i >= 0]
    if delimiters:
        rest = rest[: min(delimiters) + 1] + _MASK
    shown = f"{scheme}{sep}{rest}"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)


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
