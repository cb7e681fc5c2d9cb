"""Ring's live view signalling: JSON messages on a websocket opened with a ticket.

1. ``POST <app>/api/v1/clap/ticket/request/signalsocket`` -> ``{"ticket": ...}``
   (single use, short-lived; a secret);
2. websocket ``<signalling>/ws?api_version=4.0&auth_type=ring_solutions&
   client_id=ring_site-<uuid>&token=<ticket>``;
3. we send ``live_view`` (``dialog_id``, ``body``: ``doorbot_id``,
   ``stream_options``, the SDP offer), then our ICE candidates as ``ice``
   (``ice``, ``mlineindex``);
4. Ring answers ``session_created`` (``session_id``), ``sdp`` (the answer),
   ``ice`` candidates, ``notification`` (``camera_connected``: we send
   ``camera_options``), ``camera_started``, ``pong``;
5. once the answer is set we send ``activate_session``, then ``ping`` every
   few seconds (no ping for a while and Ring closes the session);
6. either side ends with ``close``, whose ``reason`` has a ``code`` and a
   ``text``: 0 normal, 5 authentication failed (bad or expired ticket,
   unknown session), 6 timeout waiting for ping; others are passed on.

Every message after ``live_view`` carries the ``dialog_id`` and, once known,
the ``session_id``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from camsdk.driver import (
    AuthenticationError,
    CamError,
    DeviceError,
    StreamEndedError,
    StreamStalledError,
)

from ._ws import Socket

__all__ = ["CLOSE_NORMAL", "Signalling", "close_error"]

CLOSE_NORMAL = 0
_CLOSE_AUTH = 5
_CLOSE_PING_TIMEOUT = 6


def close_error(reason: object, *, shown: str) -> CamError:
    """The typed error of a ``close`` message's reason."""
    code: object = None
    text = ""
    if isinstance(reason, Mapping):
        code = reason.get("code")
        text = str(reason.get("text", ""))[:200]
    where: dict[str, Any] = {"scheme": "ring", "url": shown}
    if code == CLOSE_NORMAL:
        return StreamEndedError(f"Ring ended the live view ({text or 'normal close'})", **where)
    if code == _CLOSE_AUTH:
        return AuthenticationError(f"Ring refused the live view session ({text})", **where)
    if code == _CLOSE_PING_TIMEOUT:
        return StreamStalledError(f"Ring closed the live view: no keep-alive arrived ({text})",
                                  **where)
    return DeviceError(f"Ring closed the live view (reason {code}: {text or 'no text'})",
                       code=str(code), **where)


class Signalling:
    """One live view dialog on the signalling websocket (see the module docstring)."""

    def __init__(self, socket: Socket, doorbot_id: int) -> None:
        self.socket = socket
        self.doorbot_id = doorbot_id
        self.dialog_id = str(uuid.uuid4())
        self.session_id: str | None = None
        #: Messages sent by method (tests read them).
        self.sent: dict[str, int] = {}

    async def send(self, method: str, body: Mapping[str, Any] | None = None) -> None:
        """Send ``method`` in this dialog (with the session id once Ring gave one)."""
        payload: dict[str, Any] = {**(body or {}), "doorbot_id": self.doorbot_id}
        if self.session_id is not None:
            payload["session_id"] = self.session_id
        self.sent[method] = self.sent.get(method, 0) + 1
        await self.socket.send(json.dumps(
            {"method": method, "dialog_id": self.dialog_id, "body": payload}))

    async def recv(self, window: float) -> tuple[str, Mapping[str, Any]]:
        """The next message as ``(method, body)``; non-JSON and unknown shapes are skipped."""
        while True:
            raw = await self.socket.recv(window)
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                continue
            if not isinstance(data, Mapping) or not isinstance(data.get("method"), str):
                continue
            body = data.get("body")
            return data["method"], body if isinstance(body, Mapping) else {}

    async def aclose(self) -> None:
        """Close the websocket."""
        await self.socket.aclose()
