"""SADP discovery: find Hikvision devices on the local link (opt-in, ``camsdk.discover``).

Hikvision's Search Active Devices Protocol is XML over UDP: a ``Probe``
(``<Types>inquiry</Types>`` and a UUID) sent to `MULTICAST_ADDRESS`:
`MULTICAST_PORT`, answered by every device with a ``ProbeMatch`` (model,
serial, MAC, IPv4 address, HTTP port, firmware, channel counts, whether it
is activated). Devices answer to the multicast group, so the probe listens
on the SADP port and joins the group (TTL 1: it never leaves the link);
where that port is taken it still hears unicast answers.

Answers are untrusted datagrams: parsed with the hardened XML parser,
matched to our probe by UUID when they echo it, capped in number, de-
duplicated by serial or MAC. The camera URL uses the address the answer
came from, not the one written inside it. Tests point the probe at a
loopback responder (`target=`, or the module constants) and never send to
the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
import uuid
from collections.abc import AsyncIterator

from camsdk.driver import DiscoveredCamera, get_logger
from camsdk.driver import xml as x

__all__ = ["MULTICAST_ADDRESS", "MULTICAST_PORT", "parse_probe_match", "probe", "probe_message"]

log = get_logger("camsdk.hikvision.discovery")

#: SADP's IPv4 multicast group and port (tests replace them with loopback).
MULTICAST_ADDRESS = "239.255.255.250"
MULTICAST_PORT = 37020
#: At most this many devices from one probe: a flood of answers is not a network.
MAX_RESULTS = 1024
_MAX_DATAGRAM = 16 * 1024


def probe_message(probe_id: str) -> bytes:
    """An SADP inquiry."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{probe_id}</Uuid><Types>inquiry</Types></Probe>"
    ).encode()


def parse_probe_match(
    data: bytes, sender: str, probe_id: str | None = None
) -> tuple[str, DiscoveredCamera] | None:
    """``(identity, camera)`` of one ``ProbeMatch`` datagram; None for anything else."""
    if len(data) > _MAX_DATAGRAM:
        return None
    try:
        root = x.parse(data)
    except x.XmlError as exc:
        log.debug("ignoring a malformed SADP answer from %s: %s", sender, exc)
        return None
    if x.local(root.tag) != "ProbeMatch":
        return None
    echoed = x.text(root, "Uuid")
    if probe_id is not None and echoed and echoed.upper() != probe_id.upper():
        return None  # an answer to somebody else's probe
    serial = x.text(root, "DeviceSN")[:100]
    mac = x.text(root, "MAC")[:32].lower()
    model = x.text(root, "DeviceDescription")[:100]
    port_text = x.text(root, "HttpPort")
    port = int(port_text) if port_text.isdigit() and 0 < int(port_text) < 65536 else 80
    host = sender or x.text(root, "IPv4Address")
    if not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port != 80:
        netloc += f":{port}"
    scopes = tuple(
        f"{name}:{value}"
        for name, value in (
            ("serial", serial), ("mac", mac),
            ("firmware", x.text(root, "SoftwareVersion")[:64]),
            ("activated", x.text(root, "Activated")[:8].lower()),
            ("analog_channels", x.text(root, "AnalogChannelNum")[:8]),
            ("digital_channels", x.text(root, "DigitalChannelNum")[:8]),
        )
        if value
    )
    camera = DiscoveredCamera(
        url=f"hikvision://{netloc}/1",
        name=model,
        vendor="Hikvision",
        model=model,
        address=sender,
        scopes=scopes,
        types=(x.text(root, "DeviceType")[:32] or "sadp",),
        driver="hikvision",
    )
    return (serial or mac or camera.url), camera


class _Answers(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue(maxsize=4096)
        self.closed = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((data, str(addr[0])))

    def error_received(self, exc: Exception) -> None:
        log.debug("SADP socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost")


def _multicast_socket(group: str, port: int) -> socket.socket:
    """A socket on the SADP port in the group (answers go there), or an ephemeral one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
            membership = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton("0.0.0.0"))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        except OSError:
            sock.close()
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            sock.bind(("0.0.0.0", 0))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def probe(
    timeout: float, *, target: tuple[str, int] | None = None
) -> AsyncIterator[DiscoveredCamera]:
    """Yield Hikvision devices answering an SADP inquiry within ``timeout`` seconds."""
    host, port = target if target is not None else (MULTICAST_ADDRESS, MULTICAST_PORT)
    loop = asyncio.get_running_loop()
    if _loopback(host):
        transport, protocol = await loop.create_datagram_endpoint(
            _Answers, local_addr=("127.0.0.1", 0), family=socket.AF_INET)
    else:
        transport, protocol = await loop.create_datagram_endpoint(
            _Answers, sock=_multicast_socket(host, port))
    probe_id = str(uuid.uuid4()).upper()
    message = probe_message(probe_id)
    repeat: asyncio.TimerHandle | None = None
    try:
        transport.sendto(message, (host, port))
        repeat = loop.call_later(
            min(0.25, timeout / 4),
            lambda: None if transport.is_closing() else transport.sendto(message, (host, port)),
        )
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while len(seen) < MAX_RESULTS:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    data, sender = await protocol.queue.get()
            except TimeoutError:
                break
            found = parse_probe_match(data, sender, probe_id)
            if found is not None and found[0] not in seen:
                seen.add(found[0])
                yield found[1]
    finally:
        if repeat is not None:
            repeat.cancel()
        transport.close()
        with contextlib.suppress(Exception):
            await asyncio.shield(protocol.closed)
