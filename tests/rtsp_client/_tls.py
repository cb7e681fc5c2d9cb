"""A throwaway self-signed certificate for RTSPS tests, naming 127.0.0.1."""

from __future__ import annotations

import ssl

from camsdk.testing import self_signed_tls


def tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting only that server's certificate)."""
    certificate = self_signed_tls("127.0.0.1", addresses=["127.0.0.1"])
    return certificate.server, certificate.client_context()
