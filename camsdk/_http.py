"""Shared HTTP plumbing for the httpx-based drivers and sinks."""

from __future__ import annotations

import ssl
import threading

__all__ = ["tls_context"]

_contexts: dict[bool, ssl.SSLContext] = {}
_lock = threading.Lock()


def tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process and mode, shared by every client.

    Building one loads the CA bundle (tens of ms); an ``httpx.AsyncClient``
    made with ``verify=True`` would pay that for every camera it connects.
    """
    with _lock:
        context = _contexts.get(verify)
        if context is None:
            import httpx

            context = _contexts[verify] = httpx.create_ssl_context(verify=verify)
        return context
