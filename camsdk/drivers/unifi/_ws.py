"""The console's websockets, on the kit's `DeviceWebSocket`.

``wss://`` only, to the console's host, with the session's pinned TLS
context (or the system CAs), its cookie and CSRF token or its API key in
the handshake, messages up to `MAX_MESSAGE`, and liveness by bytes received
(``options.liveness`` seconds without one is a half-open connection: a
`StreamStalledError`, and the event loop reconnects).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from camsdk.driver import DeviceWebSocket, StreamStalledError

if TYPE_CHECKING:  # pragma: no cover
    from ._session import ConsoleSession

__all__ = ["MAX_MESSAGE", "open_socket"]

#: Largest websocket message accepted (a bootstrap-sized update is far smaller).
MAX_MESSAGE = 4 * 1024 * 1024


async def open_socket(session: ConsoleSession, path: str, *, window: float, action: str
                      ) -> DeviceWebSocket:
    """Open ``wss://<console><path>`` as ``session``."""

    def stalled() -> StreamStalledError:
        return StreamStalledError(
            f"{action}: no byte from the console for {window:g} s (half-open connection?)",
            scheme="unifi", url=session.shown)

    return await DeviceWebSocket.connect(
        f"wss://{session.netloc}{path}", scheme="unifi", shown_url=session.shown,
        allowed_hosts={session.host}, config=session.config, verify=session.ssl_context,
        headers=session.auth_headers(), max_size=MAX_MESSAGE, idle_timeout=window,
        on_idle=stalled, require_tls=True, action=action,
    )
