"""Where camsdk meets aiortc: the lazy import, and three narrow hooks into it.

Imported only when a WebRTC session is built, so ``import camsdk`` never
imports aiortc. aiortc has no API for what a pass-through tap needs, so
camsdk adds three hooks, each installed once, each inert for peer
connections camsdk did not configure:

- **Pass-through decoding.** aiortc's receiver depacketises RTP, runs its
  jitter buffer, NACKs and PLIs, then hands each complete encoded frame to
  a decoder chosen by ``get_decoder(codec)``. camsdk marks the codec objects
  of its own receivers (`tap_receiver`), and for marked codecs
  ``get_decoder`` returns `PassThroughDecoder`, which hands the encoded frame
  on unchanged. Everything before the decoder stays aiortc's.
- **Host addresses for ICE.** aioice gathers host candidates on every
  interface (and never on loopback). `gathering_on` restricts gathering to
  the given addresses for the duration of one ``setLocalDescription``, through
  a context variable read by a wrapper of aioice's ``get_host_addresses``;
  without it aioice's own choice stands.
- **RTCP sender reports.** aiortc keeps the wall-clock/RTP pair of a sender
  report to itself; `tap_receiver` wraps the receiver's RTCP handler to see
  them, and its RTP handler once, to learn the first RTP timestamp and SSRC.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import DriverUnavailableError

__all__ = [
    "INSTALL_HINT",
    "PacketTrack",
    "PassThroughDecoder",
    "ReceiverTap",
    "close_peer_connection",
    "decode_nothing",
    "gathering_on",
    "install_hooks",
    "require_aiortc",
    "tap_receiver",
]

INSTALL_HINT = "pip install camsdk[webrtc]"

# Marks a codec object of a camsdk receiver: its frames bypass aiortc's decoders.
_PASS_THROUGH = "_camsdk_pass_through"

_host_addresses: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "camsdk_webrtc_host_addresses", default=None
)
_installed = False


def require_aiortc(*, scheme: str | None = None, url: str | None = None) -> None:
    """Import aiortc and install the hooks, or raise `DriverUnavailableError` with the hint."""
    try:
        import aiortc  # noqa: F401
    except ImportError as exc:
        raise DriverUnavailableError(
            f"WebRTC needs aiortc, which is not installed ({INSTALL_HINT})",
            scheme=scheme, url=url, hint=INSTALL_HINT,
        ) from exc
    install_hooks()


def install_hooks() -> None:
    """Install the decoder and gathering hooks (idempotent; see the module docstring)."""
    global _installed
    if _installed:
        return
    import aioice.ice
    import aiortc.rtcrtpreceiver as receiver_module

    module: Any = receiver_module

    real_get_decoder = module.get_decoder

    def get_decoder(codec: Any) -> Any:
        if getattr(codec, _PASS_THROUGH, False):
            return PassThroughDecoder()
        return real_get_decoder(codec)

    real_host_addresses = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = _host_addresses.get()
        if chosen is None:
            return list(real_host_addresses(use_ipv4, use_ipv6))
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    module.get_decoder = get_decoder
    aioice.ice.get_host_addresses = get_host_addresses
    _installed = True


@contextlib.contextmanager
def gathering_on(addresses: Sequence[str] | None) -> Iterator[None]:
    """Within the block, ICE gathers host candidates only on ``addresses`` (None: aioice's)."""
    token = _host_addresses.set(None if addresses is None else tuple(addresses))
    try:
        yield
    finally:
        _host_addresses.reset(token)


class PassThroughDecoder:
    """Stands in for aiortc's decoder: returns the encoded frame (``data``, ``timestamp``).

    Runs in aiortc's decoder thread; the frame reaches the remote track's
    queue, and ``track.recv()`` returns it instead of a picture.
    """

    def decode(self, encoded_frame: Any) -> list[Any]:
        """The encoded frame itself, undecoded."""
        return [encoded_frame]


@dataclass(slots=True)
class SenderReport:
    """The latest RTCP sender report of a stream: NTP time (UNIX seconds) and RTP time."""

    unix_time: float
    rtp_timestamp: int


# Seconds between the NTP epoch (1900) and the UNIX epoch (1970).
_NTP_UNIX_OFFSET = 2_208_988_800


class ReceiverTap:
    """What camsdk learns from one aiortc receiver beyond its frames."""

    def __init__(self, receiver: Any) -> None:
        self.receiver = receiver
        #: RTP clock of the stream's payload type (from the first packet).
        self.clock_rate: int | None = None
        #: SSRC of the media (from the first RTP packet).
        self.ssrc: int | None = None
        #: RTP timestamp of the first packet; aiortc's frame timestamps count from it.
        self.first_timestamp: int | None = None
        self.report: SenderReport | None = None
        self.reports = 0
        self.plis = 0
        self._last_pli = -1e9

    def wallclock(self, timestamp: int) -> float | None:
        """Capture time of a frame whose aiortc timestamp is ``timestamp``, if a report came."""
        report, first, rate = self.report, self.first_timestamp, self.clock_rate
        if report is None or first is None or not rate:
            return None
        raw = (first + timestamp) & 0xFFFFFFFF
        delta = (raw - report.rtp_timestamp) & 0xFFFFFFFF
        if delta >= 0x80000000:  # RTP time before the report's
            delta -= 0x100000000
        return report.unix_time + delta / rate

    async def send_pli(self, min_interval: float) -> bool:
        """Send an RTCP PLI unless one went out less than ``min_interval`` s ago."""
        now = time.monotonic()
        if self.ssrc is None or now - self._last_pli < min_interval:
            return False
        self._last_pli = now
        self.plis += 1
        # aiortc sends its own PLIs from here (jitter buffer loss); no public API.
        await self.receiver._send_rtcp_pli(self.ssrc)
        return True


def decode_nothing(receiver: Any) -> None:
    """Make ``receiver`` hand its encoded frames on undecoded (call before it starts)."""
    real_receive = receiver.receive

    async def receive(parameters: Any) -> None:
        for codec in parameters.codecs:
            setattr(codec, _PASS_THROUGH, True)
        await real_receive(parameters)

    receiver.receive = receive


def tap_receiver(receiver: Any, on_report: Callable[[], None] | None = None) -> ReceiverTap:
    """Make ``receiver`` pass frames through undecoded and report what it learns.

    Call before the connection starts (aiortc calls ``receive`` once the DTLS
    handshake is done).
    """
    from aiortc.rtp import RtcpSrPacket

    tap = ReceiverTap(receiver)
    decode_nothing(receiver)
    real_receive = receiver.receive
    real_rtcp = receiver._handle_rtcp_packet
    real_rtp = receiver._handle_rtp_packet

    clock_rates: dict[int, int] = {}

    async def receive(parameters: Any) -> None:
        clock_rates.update({c.payloadType: c.clockRate for c in parameters.codecs})
        await real_receive(parameters)

    async def handle_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket) and (tap.ssrc is None or packet.ssrc == tap.ssrc):
            info = packet.sender_info
            tap.report = SenderReport(
                info.ntp_timestamp / (1 << 32) - _NTP_UNIX_OFFSET, info.rtp_timestamp
            )
            tap.reports += 1
            if on_report is not None:
                on_report()
        await real_rtcp(packet)

    async def handle_first_rtp(packet: Any, arrival_time_ms: int) -> None:
        if tap.first_timestamp is None and packet.payload:
            tap.first_timestamp = packet.timestamp
            tap.ssrc = packet.ssrc
            tap.clock_rate = clock_rates.get(packet.payload_type)
            # One packet is all this needs: later packets go straight to aiortc.
            receiver._handle_rtp_packet = real_rtp
        await real_rtp(packet, arrival_time_ms)

    receiver.receive = receive
    receiver._handle_rtcp_packet = handle_rtcp
    receiver._handle_rtp_packet = handle_first_rtp
    return tap


async def close_peer_connection(pc: Any, timeout: float) -> None:
    """Close ``pc``, then stop its senders and receivers again.

    aiortc's connect task can start a sender or receiver while ``close`` runs
    (it checks for closing only once); stopping again is harmless otherwise
    and ends the RTCP tasks and decoder threads such a late start made.
    """
    async with asyncio.timeout(timeout):
        await pc.close()
        await asyncio.sleep(0)  # let a connect task that was about to start things do so
        for transceiver in pc.getTransceivers():
            await transceiver.receiver.stop()
            await transceiver.sender.stop()


class _Ended:
    """Queued by `PacketTrack.stop` so a waiting ``recv`` ends."""


def _make_packet_track() -> type:
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class _PacketTrack(MediaStreamTrack):
        """An outgoing track fed with encoded packets (``av.Packet``); aiortc sends them as is.

        aiortc's sender calls `recv` in a loop and packetises a returned
        ``av.Packet`` without encoding it. The queue is small: `push` waits
        for room, so a sender never buffers without bound.
        """

        def __init__(self, kind: str, maxsize: int) -> None:
            super().__init__()
            self.kind = kind
            self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=maxsize)

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            item = await self._queue.get()
            if isinstance(item, _Ended):
                raise MediaStreamError
            return item

        async def push(self, packet: Any) -> None:
            if self.readyState != "live":
                raise MediaStreamError
            await self._queue.put(packet)

        def stop(self) -> None:
            if self.readyState == "live":
                with contextlib.suppress(asyncio.QueueFull):
                    while not self._queue.empty():
                        self._queue.get_nowait()
                    self._queue.put_nowait(_Ended())
            super().stop()

    return _PacketTrack


_track_class: type | None = None


def PacketTrack(kind: str, maxsize: int = 8) -> Any:
    """A new outgoing track that sends encoded packets (see ``_PacketTrack``)."""
    global _track_class
    if _track_class is None:
        _track_class = _make_packet_track()
    return _track_class(kind, maxsize)
