"""The push channel: where Ring's notifications arrive without polling.

Ring delivers dings and motion as Firebase Cloud Messaging (FCM) pushes to
the client device it registered: the client checks in with Google (an
Android id and a security token), registers for Ring's sender id (an FCM
token), tells Ring the token (``PATCH /clients_api/device`` with
``push_notification_token``, ``pn_service: fcm``, ``pn_dict_version:
2.0.0``) and keeps a connection to Google's MCS endpoint open, which
carries the notifications and heartbeats.

camsdk does not depend on an FCM client (receiving FCM as an Android client
means Google's check-in and its unofficial MCS protocol; the Python library
that does it, ``firebase-messaging``, brings protobuf and more). This
module speaks a simple stand-in with the same shape, which
`camsdk.testing.RingCloud` serves and an FCM bridge could serve too:

- ``POST <push_url>/register`` with the sender id -> ``token``,
  ``android_id``, ``security_token`` (the registration; kept with the tokens
  in ``TokenSet.extra["push"]`` so a restart reuses it);
- a websocket ``<push_url>/listen`` authenticated with ``Authorization:
  AidLogin <android_id>:<security_token>``, carrying JSON messages
  ``{"type": "heartbeat"}`` and ``{"type": "notification", "id": <persistent
  id>, "message": <Ring's notification>}``.

A real FCM client plugs in here: it would register the same way and yield
the same notification payloads.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from camsdk.driver import (
    AuthenticationError,
    CameraProtocolError,
    get_logger,
    register_secret,
)

from ._ws import Socket, open_socket

if TYPE_CHECKING:  # pragma: no cover
    from ._account import RingSession

__all__ = ["RING_SENDER_ID", "PushChannel"]

log = get_logger("camsdk.drivers.ring.push")

#: The FCM sender id of Ring's Android app.
RING_SENDER_ID = "876313859327"
_MAX_REGISTRATION = 16 * 1024


def _listen_url(push_url: str) -> str:
    parts = urlsplit(push_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/listen", "", ""))


def _registration(text: str) -> dict[str, str] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), str) and data[k] for k in ("token", "android_id", "security_token")
    ):
        return None
    return {k: data[k] for k in ("token", "android_id", "security_token")}


class PushChannel:
    """One connection of the push channel (see the module docstring)."""

    def __init__(self, session: RingSession, socket: Socket, registration: Mapping[str, str]
                 ) -> None:
        self.session = session
        self._socket = socket
        self.registration = dict(registration)

    @classmethod
    async def open(cls, session: RingSession, *, ring_knows: bool) -> PushChannel:
        """Register (once per install), tell Ring the token (unless ``ring_knows``), connect."""
        push_url = session.options.push_url
        if push_url is None:  # pragma: no cover - callers check
            raise CameraProtocolError("no push channel is configured", scheme="ring",
                                      url=session.shown)
        registration = _registration(session.account.tokens.extra.get("push", ""))
        if registration is None:
            registration = await cls._register(session, push_url)
        register_secret(registration["security_token"])
        register_secret(registration["token"])
        if not ring_knows:
            await session.api.request(
                "PATCH", session.api.url("api", "/clients_api/device"), action="push registration",
                json={"device": {"os": "android", "push_notification_token": registration["token"],
                                 "metadata": {"api_version": 11, "pn_dict_version": "2.0.0",
                                              "pn_service": "fcm"}}},
            )
        auth = f"AidLogin {registration['android_id']}:{registration['security_token']}"
        try:
            socket = await open_socket(
                _listen_url(push_url), action="push channel", shown=session.shown,
                hosts=session.options.hosts(), timeout=session.config.connect_timeout,
                headers={"Authorization": auth}, verify_tls=session.config.verify_tls,
            )
        except AuthenticationError as exc:
            # The push service forgot this registration (not Ring refusing the account):
            # make a new one on the next attempt.
            await session.account.remember(push="")
            raise CameraProtocolError("the push service refused the registration; "
                                      "registering again", scheme="ring",
                                      url=session.shown) from exc
        return cls(session, socket, registration)

    @staticmethod
    async def _register(session: RingSession, push_url: str) -> dict[str, str]:
        answer = await session.api.http.post(
            f"{push_url}/register", action="push check-in", auth=False, check=True,
            max_bytes=_MAX_REGISTRATION,
            json={"sender_id": RING_SENDER_ID, "app": "com.ringapp",
                  "hardware_id": session.hardware_id},
        )
        registration = _registration(answer.text)
        if registration is None:
            raise CameraProtocolError("the push channel's registration is incomplete",
                                      scheme="ring", url=session.shown)
        register_secret(registration["security_token"])
        # Kept with the tokens: a restart listens again without a new registration.
        await session.account.remember(push=json.dumps(registration))
        log.info("%s: registered for push notifications", session.shown)
        return registration

    async def messages(self, window: float) -> AsyncIterator[Mapping[str, Any]]:
        """Messages until the channel fails; `StreamStalledError` after ``window`` s of silence."""
        while True:
            raw = await self._socket.recv(window)
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                log.debug("push channel: a message that is not JSON, skipped")
                continue
            if isinstance(data, Mapping):
                yield data

    async def aclose(self) -> None:
        """Close the connection."""
        await self._socket.aclose()
