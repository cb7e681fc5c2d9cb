"""Logging with secrets scrubbed.

Every logger under ``camsdk`` passes through `RedactingFilter`, which removes
URL passwords, secret-looking query values, and every secret registered with
`register_secret` (passwords of `Credentials` in use), so that a log line can
never carry a camera password, whoever formats it.
"""

from __future__ import annotations

import logging
import threading

from ._url import redact_text

__all__ = ["RedactingFilter", "get_logger", "register_secret", "scrub", "scrub_exception"]

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
    """

    def clean(value: object) -> object:
        return redact_text(value, (*_snapshot, *secrets)) if isinstance(value, str) else value

    try:
        exc.args = tuple(clean(a) for a in exc.args)
        if isinstance(exc, OSError):
            exc.filename = clean(exc.filename)
            exc.filename2 = clean(exc.filename2)
            exc.strerror = clean(exc.strerror)  # type: ignore[assignment]
    except (AttributeError, TypeError):  # read-only attributes on exotic exceptions
        pass
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


def get_logger(name: str) -> logging.Logger:
    """A ``camsdk.*`` logger whose records are scrubbed before any handler sees them.

    Logger filters apply only to records made by that very logger, so each
    module's logger gets the filter, not just the package's root logger.
    """
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
