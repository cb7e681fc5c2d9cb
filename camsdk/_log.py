"""Logging with secrets scrubbed.

Every logger under ``camsdk`` passes through `RedactingFilter`, which removes
URL passwords, secret-looking query values, and every secret registered with
`register_secret` (passwords of `Credentials` in use), so that a log line can
never carry a camera password, whoever formats it.

The libraries camsdk reaches devices through log too: httpx logs every
request URL at INFO, httpcore and websockets log connections and handshakes
at DEBUG, and a vendor's session token may sit in a URL's query. Their
loggers (`FOREIGN_LOGGERS`) get the same filter as soon as this module is
imported, for every record whoever made the request.
"""

from __future__ import annotations

import logging
import threading

from ._url import redact_text

__all__ = [
    "FOREIGN_LOGGERS",
    "RedactingFilter",
    "get_logger",
    "register_secret",
    "scrub",
    "scrub_exception",
]

_secrets: set[str] = set()
_lock = threading.Lock()
_snapshot: tuple[str, ...] = ()


def register_secret(secret: str) -> None:
    """Remember ``secret`` so it is scrubbed from every camsdk log record."""
    global _snapshot
    if not secret or len(secret) < 3:
        # Very short secrets would scrub ordinary words; URL redaction still applies.
        return
    with _lock:
        if secret not in _secrets:
            _secrets.add(secret)
            _snapshot = tuple(sorted(_secrets, key=len, reverse=True))


def scrub(text: str) -> str:
    """``text`` without URL credentials and without any registered secret."""
    return redact_text(text, _snapshot)


def scrub_exception(exc: BaseException, secrets: tuple[str, ...] = ()) -> BaseException:
    """Remove secrets from a foreign exception's text in place, then return it.

    Translated errors keep their cause (``raise ... from exc``); PyAV and OS
    errors carry the URL, password included, in ``args`` and ``filename``, so
    the cause is scrubbed before it is chained and can be printed by anyone.
    The exceptions it was raised from (``__cause__``, ``__context__``, group
    members) are scrubbed too: a traceback prints every one of them.
    """
    known = (*_snapshot, *secrets)

    def clean(value: object) -> object:
        return redact_text(value, known) if isinstance(value, str) else value

    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        try:
            current.args = tuple(clean(a) for a in current.args)
            if isinstance(current, OSError):
                current.filename = clean(current.filename)
                current.filename2 = clean(current.filename2)
                current.strerror = clean(current.strerror)  # type: ignore[assignment]
            message = getattr(current, "message", None)
            if isinstance(message, str):  # CamError keeps its text there
                current.message = redact_text(message, known)  # type: ignore[attr-defined]
        except (AttributeError, TypeError):  # read-only attributes on exotic exceptions
            pass
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
    return exc


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()

#: Loggers of the HTTP and websocket libraries under camsdk's device clients.
#: A logger's filter sees only its own records, so every child is named.
FOREIGN_LOGGERS: tuple[str, ...] = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "websockets",
    "websockets.client",
    "websockets.server",
)


def get_logger(name: str) -> logging.Logger:
    """A ``camsdk.*`` logger whose records are scrubbed before any handler sees them.

    Logger filters apply only to records made by that very logger, so each
    module's logger gets the filter, not just the package's root logger.
    """
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def _scrub_foreign_loggers() -> None:
    """Put the filter on the device libraries' loggers, and on any child they made already."""
    roots = {name.split(".", 1)[0] for name in FOREIGN_LOGGERS}
    existing = [
        name for name in list(logging.root.manager.loggerDict)
        if name.split(".", 1)[0] in roots
    ]
    for name in (*FOREIGN_LOGGERS, *existing):
        get_logger(name)


_scrub_foreign_loggers()
