"""Live views: one WebRTC peer per device session, shared by the stream and ``cam.talk()``.

A `LiveView` is Ring's signalling (`_signalling`) around a
`camsdk.driver.webrtc.WebRtcSession` offering H.264 to receive and Opus both
ways (two-way audio rides on the same peer). It is reference-counted
(`acquire_live`, `release_live`): the stream's packet source and a talk
channel (`_sources`) each hold it, and the last to let go closes it (the
stream session closes its source when the last consumer leaves, so the peer
goes with it). A ``close`` from Ring ends it with the typed error of its
reason, which its users raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from camsdk.driver import (
    CameraClosedError,
    CameraProtocolError,
    CamError,
    get_logger,
    register_secret,
    webrtc,
)

from ._devices import RingDevice
from ._signalling import CLOSE_NORMAL, Signalling, close_error
from ._ws import open_socket

if TYPE_CHECKING:  # pragma: no cover
    from ._account import RingSession

__all__ = ["LiveView", "acquire_live", "release_live"]

log = get_logger("camsdk.drivers.ring.live")

_TICKET_PATH = "/api/v1/clap/ticket/request/signalsocket"
# A live view this close to its hard maximum is not handed to a new user.
_REUSE_MARGIN = 5.0


class LiveView:
    """One live view of one device (see the module docstring). No I/O until `start`."""

    def __init__(self, session: RingSession, device: RingDevice) -> None:
        assert device.id is not None
        self.session = session
        self.device = device
        self.shown = f"{session.shown}/{device.key}"
        ice = session.options.ice_host
        self.rtc = webrtc.WebRtcSession(
            host_addresses=(ice,) if ice else None, audio_codecs=("opus",),
            answer_fixes=(webrtc.answer_direction_within_offer, webrtc.h264_profile_from_offer),
            scheme="ring", url=self.shown,
        )
        self.signalling: Signalling | None = None
        self.users = 0
        self.started = time.monotonic()
        self.ended: CamError | None = None
        self._answered = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing: asyncio.Task[None] | None = None
        self.pongs = 0

    def __repr__(self) -> str:
        return f"<LiveView {self.shown} users={self.users}>"

    @property
    def age(self) -> float:
        """Seconds since the live view was asked for."""
        return time.monotonic() - self.started

    # -- opening ----------------------------------------------------------------------------

    async def _ticket(self) -> str:
        api = self.session.api
        data = (await api.request("POST", api.url("app", _TICKET_PATH),
                                  action="live view ticket")).json()
        ticket = data.get("ticket") if isinstance(data, dict) else None
        if not isinstance(ticket, str) or not ticket or len(ticket) > 4096:
            raise CameraProtocolError("Ring sent no live view ticket", scheme="ring",
                                      url=self.shown)
        register_secret(ticket)
        return ticket

    async def start(self, timeout: float) -> None:
        """Ticket, signalling, offer, answer, connection: within ``timeout``."""
        options, config = self.session.options, self.session.config
        assert self.device.id is not None
        try:
            async with asyncio.timeout(timeout):
                ticket = await self._ticket()
                url = (f"{options.signalling_url}/ws?api_version=4.0&auth_type=ring_solutions"
                       f"&client_id=ring_site-{uuid.uuid4()}&token={quote(ticket, safe='')}")
                socket = await open_socket(url, action="live view signalling", shown=self.shown,
                                           hosts=options.hosts(), timeout=config.connect_timeout,
                                           verify_tls=config.verify_tls)
                self.signalling = Signalling(socket, self.device.id)
                offer = await self.rtc.create_offer(trickle=True, audio="sendrecv")
                await self.signalling.send("live_view", {
                    "stream_options": {"audio_enabled": True, "video_enabled": True},
                    "sdp": offer, "type": "offer"})
                self._spawn(self._read(), "camsdk-ring-signalling")
                async for candidate in self.rtc.local_candidates():
                    await self.signalling.send("ice", {"ice": candidate.candidate,
                                                       "mlineindex": candidate.sdp_mline_index})
                await self._wait_answer()
                await self.rtc.wait_connected()
        except TimeoutError:
            from camsdk.driver import CameraTimeoutError

            raise CameraTimeoutError(f"the live view did not start within {timeout:g} s",
                                     scheme="ring", url=self.shown) from None

    async def _wait_answer(self) -> None:
        while not self._answered.is_set():
            if self.ended is not None:
                raise self.ended
            waiter = asyncio.ensure_future(self._answered.wait())
            done, _ = await asyncio.wait({waiter, *self._tasks},
                                         return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                if self.ended is None:
                    self.ended = CameraProtocolError("the signalling ended before an answer",
                                                     scheme="ring", url=self.shown)
        if self.ended is not None:
            raise self.ended

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the dialog -------------------------------------------------------------------------

    async def _read(self) -> None:
        signalling = self.signalling
        assert signalling is not None
        window = max(self.session.options.ping_interval * 4, 10.0)
        try:
            while True:
                method, body = await signalling.recv(window)
                if method == "session_created":
                    session_id = body.get("session_id")
                    if isinstance(session_id, str) and session_id:
                        signalling.session_id = session_id[:512]
                elif method == "sdp":
                    await self._on_answer(body)
                elif method == "ice":
                    candidate = body.get("ice")
                    index = body.get("mlineindex")
                    await self.rtc.add_remote_candidate(
                        candidate if isinstance(candidate, str) else None,
                        sdp_mline_index=index if isinstance(index, int) else None)
                elif method == "notification":
                    if body.get("text") == "camera_connected":
                        await signalling.send("camera_options", {"stealth_mode": False})
                elif method == "pong":
                    self.pongs += 1
                elif method == "close":
                    self._end(close_error(body.get("reason"), shown=self.shown))
                    return
        except asyncio.CancelledError:
            raise
        except CamError as exc:
            self._end(exc)

    async def _on_answer(self, body: Any) -> None:
        sdp = body.get("sdp")
        if not isinstance(sdp, str):
            raise CameraProtocolError("Ring's answer has no SDP", scheme="ring", url=self.shown)
        await self.rtc.accept_answer(sdp)
        assert self.signalling is not None
        await self.signalling.send("activate_session")
        self._spawn(self._ping(), "camsdk-ring-ping")
        self._answered.set()

    async def _ping(self) -> None:
        interval = self.session.options.ping_interval
        with contextlib.suppress(CamError):
            while self.signalling is not None and self.ended is None:
                await asyncio.sleep(interval)  # Ring's keep-alive cadence, not a synchronisation
                await self.signalling.send("ping")

    def _end(self, error: CamError) -> None:
        """Ring (or the signalling connection) ended the live view: say why to every user."""
        if self.ended is None:
            self.ended = error
            log.info("%s: live view ended: %s", self.shown, error)
            # Close the peer so a reader blocked on media wakes and reports ``ended``.
            self._spawn(self.rtc.aclose(), "camsdk-ring-live-end")

    # -- closing ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Say ``close`` to Ring (best effort), stop the tasks, close the peer. Idempotent.

        The closing runs in a task of its own that a cancelled caller does not
        stop (a stream session cancelled while it closes its source must not
        leave a half-closed peer connection behind); the account session
        waits for it when it closes.
        """
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(
                self._close(), name="camsdk-ring-live-close")
            closing = self.session.closing
            closing.add(self._closing)
            self._closing.add_done_callback(closing.discard)
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        if self.ended is None:
            self.ended = CameraClosedError("the live view was closed", scheme="ring",
                                           url=self.shown)
            if self.signalling is not None:
                with contextlib.suppress(CamError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.signalling.send(
                            "close", {"reason": {"code": CLOSE_NORMAL, "text": ""}})
        for task in list(self._tasks):
            if task.get_name() != "camsdk-ring-live-end":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.signalling is not None:
            await self.signalling.aclose()
        await self.rtc.aclose()


async def acquire_live(session: RingSession, device: RingDevice, timeout: float) -> LiveView:
    """A running live view of ``device`` (shared), started if none can be reused."""
    lock = session.live_locks.setdefault(device.key, asyncio.Lock())
    async with lock:
        limit = session.options.live_max - _REUSE_MARGIN
        for view in session.live.get(device.key, []):
            if view.ended is None and view.age < limit:
                view.users += 1
                return view
        view = LiveView(session, device)
        session.live.setdefault(device.key, []).append(view)
        try:
            await view.start(timeout)
        except BaseException:
            _forget(session, view)
            await view.aclose()
            raise
        view.users += 1
        return view


def _forget(session: RingSession, view: LiveView) -> None:
    views = session.live.get(view.device.key, [])
    if view in views:
        views.remove(view)
    if not views:
        session.live.pop(view.device.key, None)


async def release_live(session: RingSession, view: LiveView) -> None:
    """One user less; the last one closes the live view."""
    view.users -= 1
    if view.users <= 0:
        _forget(session, view)
        await view.aclose()
