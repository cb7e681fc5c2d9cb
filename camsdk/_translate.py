"""The one place foreign exceptions become camsdk errors, and deadlines on driver calls.

Drivers should raise camsdk errors themselves; whatever escapes them (httpx,
PyAV, OS, XML, or a plain bug) is mapped here, for facade calls and for the
packets of a stream alike, keeping the original as ``__cause__`` after its
text was scrubbed of secrets.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

from ._errors import (
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    CamError,
    StreamError,
)
from ._log import scrub_exception
from ._url import redact_text

__all__ = ["call_with_deadline", "translate_error"]

T = TypeVar("T")


def translate_error(
    exc: BaseException, *, scheme: str, url: str, action: str = "", strict: bool = False
) -> BaseException:
    """Map ``exc`` onto the camsdk tree; camsdk errors just get ``scheme`` and ``url``.

    ``strict=True`` maps *anything* (a driver bug included) to a `StreamError`,
    for the stream session, whose reconnect rules need a camsdk error.
    Returns ``exc`` itself when it is already a camsdk error or unknown and
    not ``strict``.
    """
    if isinstance(exc, CamError):
        if exc.scheme is None:
            exc.scheme = scheme
        if exc.url is None:
            exc.url = url
        return exc
    scrub_exception(exc)
    text = redact_text(str(exc))[:300]
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError | httpx.InvalidURL):
        from ._device_http import ErrorMapping

        return ErrorMapping(scheme, url).translate(exc, action or "request")
    av = sys.modules.get("av")
    if av is not None and isinstance(exc, av.error.FFmpegError):
        from ._pipeline._reader import translate_av_error

        err = translate_av_error(exc, url=url)
        if isinstance(err, CamError):
            err.scheme = scheme
        return err
    if isinstance(exc, TimeoutError):
        return CameraTimeoutError("operation timed out", scheme=scheme, url=url)
    if isinstance(exc, OSError):
        return CameraUnreachableError(f"connection failed: {text}", scheme=scheme, url=url)
    if type(exc).__name__ in {"ParseError", "XMLSyntaxError", "DefusedXmlException", "XmlError"}:
        return CameraProtocolError(f"malformed XML from device: {text}", scheme=scheme, url=url)
    if strict and isinstance(exc, Exception):
        return StreamError(
            f"stream source failed ({type(exc).__name__}: {text})", scheme=scheme, url=url
        )
    return exc


async def call_with_deadline(
    awaitable: Awaitable[T], timeout: float, *, scheme: str, url: str
) -> T:
    """Await a driver call under a deadline, translating foreign errors (see `translate_error`)."""
    try:
        async with asyncio.timeout(timeout):
            return await awaitable
    except CamError as exc:
        # A driver's error may have been raised while handling a foreign one
        # that quotes the URL: scrub the whole chain, the traceback prints it.
        scrub_exception(exc)
        raise translate_error(exc, scheme=scheme, url=url) from None
    except TimeoutError as exc:
        raise CameraTimeoutError(
            f"no answer within {timeout:g} s", scheme=scheme, url=url
        ) from exc
    except Exception as exc:
        err = translate_error(exc, scheme=scheme, url=url)
        if err is exc:
            raise
        raise err from exc
