"""The simulated cloud's websockets: live view signalling and the push channel.

**Signalling** (``/ws?...&token=<ticket>``): the ticket must be one the
cloud issued and unused. ``live_view`` makes a `WebRtcAnswerer` (the
virtual scene's H.264 without re-encoding, an Opus tone, and a record of
the audio it receives) answer the offer: ``session_created``, the answer as
``sdp`` (without candidates), each answer candidate as ``ice``; our
candidates arrive as ``ice`` and are added to the peer. ``activate_session``
is answered with a ``camera_connected`` notification and
``camera_started``, ``ping`` with ``pong``; a session that stops pinging for
``ping_timeout`` seconds is closed with reason 6, as Ring does.

**Push** (``/push/listen``, ``Authorization: AidLogin <android id>:<security
token>``): a heartbeat at once and every ``push_heartbeat`` seconds, and
each notification of a device the client's token was registered for with
Ring (``PATCH /clients_api/device``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from camsdk._log import get_logger

if TYPE_CHECKING:  # pragma: no cover
    from ._cloud import RingCloud
    from ._state import SimDevice

__all__ = ["LiveSession", "PushClient", "signalling", "push_listener"]

log = get_logger("camsdk.testing.ring")


class LiveSession:
    """One live view the cloud serves (its answerer records the audio it receives)."""

    def __init__(self, cloud: RingCloud, connection: Any, device: SimDevice) -> None:
        self.cloud = cloud
        self.connection = connection
        self.device = device
        self.session_id = f"sim-session.{uuid.uuid4().hex}"
        self.dialog_id = ""
        self.answerer: Any = None
        self.active = False
        self.last_ping = time.monotonic()
        self.pings = 0
        self.methods: list[str] = []
        self.closed_by_client = False
        self.ended = asyncio.Event()

    async def send(self, method: str, body: dict[str, Any]) -> None:
        """Send ``method`` in this session."""
        payload = {"method": method, "dialog_id": self.dialog_id,
                   "body": {"doorbot_id": self.device.id, "session_id": self.session_id,
                            **body}}
        with contextlib.suppress(Exception):
            await self.connection.send(json.dumps(payload))

    async def close(self, code: int, text: str) -> None:
        """End the session with ``close`` and ``reason``, as Ring does."""
        await self.send("close", {"reason": {"code": code, "text": text}})
        with contextlib.suppress(Exception):
            await self.connection.close()

    async def drop(self) -> None:
        """Stop the media peer abruptly (RTCP BYE), leave the signalling open."""
        if self.answerer is not None:
            await self.answerer.aclose()


async def signalling(cloud: RingCloud, connection: Any) -> None:
    """Serve one signalling connection (see the module docstring)."""
    from camsdk.testing._webrtc_peer import WebRtcAnswerer

    live: LiveSession | None = None
    watchdog: asyncio.Task[None] | None = None
    pending: list[tuple[Any, Any]] = []
    try:
        async for raw in connection:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            method = message.get("method")
            body = message.get("body") or {}
            if live is not None:
                live.methods.append(str(method))
            if method == "live_view" and live is None:
                device = cloud.camera_by_id(body.get("doorbot_id"))
                if device is None:
                    await connection.send(json.dumps({"method": "close", "body": {
                        "reason": {"code": 1, "text": "device not found"}}}))
                    return
                live = LiveSession(cloud, connection, device)
                live.dialog_id = str(message.get("dialog_id", ""))
                live.methods.append("live_view")
                cloud.live_sessions.append(live)
                cloud._notify()
                await live.send("session_created", {})
                live.answerer = WebRtcAnswerer(params=cloud.loop_params, audio="opus",
                                               trickle=True)
                answer = await live.answerer.answer(str(body.get("sdp", "")))
                await live.send("sdp", {"sdp": answer, "type": "answer"})
                async for candidate, _mid, index in live.answerer.local_candidates():
                    await live.send("ice", {"ice": candidate, "mlineindex": index})
                for candidate, index in pending:
                    await live.answerer.add_remote_candidate(candidate, None, index)
                pending.clear()
                watchdog = asyncio.create_task(_watch_pings(live), name="camsdk-sim-ring-ping")
            elif method == "ice":
                candidate = body.get("ice")
                index = body.get("mlineindex")
                if live is None or live.answerer is None:
                    pending.append((candidate, index))
                else:
                    await live.answerer.add_remote_candidate(candidate, None, index)
            elif method == "activate_session" and live is not None:
                live.active = True
                live.last_ping = time.monotonic()
                await live.send("notification", {"is_ok": True, "text": "camera_connected"})
                await live.send("camera_started", {})
                cloud._notify()
            elif method == "ping" and live is not None:
                live.pings += 1
                live.last_ping = time.monotonic()
                await live.send("pong", {})
            elif method == "close" and live is not None:
                live.closed_by_client = True
                return
    except Exception as exc:  # a client that went away mid-message
        log.debug("signalling connection ended: %s", type(exc).__name__)
    finally:
        if watchdog is not None:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        if live is not None:
            live.active = False
            if live.answerer is not None:
                await live.answerer.aclose()
            live.ended.set()
            cloud._notify()


async def _watch_pings(live: LiveSession) -> None:
    timeout = live.cloud.ping_timeout
    while True:
        await asyncio.sleep(timeout / 4)  # the simulated service's watchdog cadence
        if live.active and time.monotonic() - live.last_ping > timeout:
            await live.close(6, "Timeout waiting for ping")
            return


class PushClient:
    """One listener of the push channel and its outgoing queue."""

    def __init__(self, registration: dict[str, str]) -> None:
        self.registration = registration
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()


async def push_listener(cloud: RingCloud, connection: Any, registration: dict[str, str]) -> None:
    """Serve one push connection: heartbeats and notifications."""
    client = PushClient(registration)
    cloud.push_clients.add(client)
    cloud.push_connects += 1
    cloud._notify()
    closed = asyncio.ensure_future(connection.wait_closed())
    try:
        await connection.send(json.dumps({"type": "heartbeat"}))
        while True:
            getter = asyncio.ensure_future(client.queue.get())
            done, _ = await asyncio.wait({getter, closed}, timeout=cloud.push_heartbeat,
                                         return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                getter.cancel()
                return
            if getter not in done:
                getter.cancel()
                await connection.send(json.dumps({"type": "heartbeat"}))
                continue
            message = getter.result()
            if message is None:
                return
            await connection.send(message)
    except Exception:
        return
    finally:
        closed.cancel()
        cloud.push_clients.discard(client)
        cloud._notify()
