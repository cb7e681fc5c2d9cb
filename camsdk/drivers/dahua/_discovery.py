"""Dahua's LAN discovery: ``DHDiscover.search`` over UDP port 37810 (opt-in).

Dahua's own tools find devices by sending a JSON-RPC call,
``{"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}``, behind
the 32-byte DHIP header the devices' binary protocols use (header size 32
little endian, the bytes ``DHIP``, 8 zero bytes of session and id, then the
payload length twice as little-endian 64-bit numbers). Devices answer the
same framing with ``params.deviceInfo`` (``DeviceType``, ``SerialNo``,
``HttpPort``, ``MachineName``, ``Version``, ``DeviceClass`` ...); the answer
needs no credentials, so discovery can never add to a login lockout.

`probe` sends one datagram (repeated once: UDP may drop it) to
`MULTICAST_ADDRESS`:`MULTICAST_PORT` with TTL 1 (this link only) and reads
answers until the timeout. Answers are untrusted: size-capped, parsed as
JSON only after the header, de-duplicated by serial number, capped in
number. The camera URL uses the address the answer came from, not the one
it claims (devices behind NAT claim their inside address). Tests give
``target=`` a loopback responder and never send to the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from camsdk.driver import DiscoveredCamera, get_logger

__all__ = ["MULTICAST_ADDRESS", "MULTICAST_PORT", "dhip_frame", "parse_answer", "probe"]

log = get_logger("camsdk.dahua.discovery")

#: Dahua's discovery multicast group and port (tests replace them with loopback).
MULTICAST_ADDRESS = "239.255.255.251"
MULTICAST_PORT = 37810
MAX_RESULTS = 1024
_MAX_DATAGRAM = 64 * 1024
_HEADER = 32


def dhip_frame(payload: bytes) -> bytes:
    """``payload`` behind the DHIP header (see the module docstring)."""
    size = len(payload)
    header = struct.pack("<I", _HEADER) + b"DHIP" + bytes(8) + struct.pack("<QQ", size, size)
    return header + payload


def probe_message() -> bytes:
    """The ``DHDiscover.search`` datagram."""
    body = json.dumps({"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}})
    return dhip_frame(body.encode())


def _text(info: dict[str, Any], key: str, limit: int = 128) -> str:
    value = info.get(key)
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse_answer(data: bytes, sender: str) -> tuple[str, DiscoveredCamera] | None:
    """``(identity, camera)`` from one answer datagram; None for anything else."""
    if len(data) > _MAX_DATAGRAM or len(data) < _HEADER or data[4:8] != b"DHIP":
        return None
    try:
        message = json.loads(data[_HEADER:].rstrip(b"\x00").decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
    params = message.get("params") if isinstance(message, dict) else None
    info = params.get("deviceInfo") if isinstance(params, dict) else None
    if not isinstance(info, dict):
        return None
    serial = _text(info, "SerialNo")
    model = _text(info, "DeviceType")
    if not serial and not model:
        return None
    port = info.get("HttpPort")
    netloc = f"[{sender}]" if ":" in sender else sender
    if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536 and port != 80:
        netloc += f":{port}"
    kind = _text(info, "DeviceClass", 32)
    camera = DiscoveredCamera(
        url=f"dahua://{netloc}",
        name=_text(info, "MachineName"),
        vendor=_text(info, "Vendor", 64) or "Dahua",
        model=model,
        address=sender,
        types=(kind,) if kind else (),
        driver="dahua",
    )
    return serial or camera.url, camera


class _Answers(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answers: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue(maxsize=4096)
        self.closed = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.answers.put_nowait((data, str(addr[0])))

    def error_received(self, exc: Exception) -> None:
        log.debug("discovery socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "localhost")


async def probe(
    timeout: float, *, target: tuple[str, int] | None = None
) -> AsyncIterator[DiscoveredCamera]:
    """Yield Dahua devices that answer a ``DHDiscover.search`` within ``timeout`` seconds."""
    host, port = target if target is not None else (MULTICAST_ADDRESS, MULTICAST_PORT)
    loop = asyncio.get_running_loop()
    loopback = _loopback(host)
    transport, protocol = await loop.create_datagram_endpoint(
        _Answers, local_addr=("127.0.0.1" if loopback else "0.0.0.0", 0), family=socket.AF_INET
    )
    message = probe_message()
    repeat: asyncio.TimerHandle | None = None
    try:
        if not loopback:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
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
                    data, sender = await protocol.answers.get()
            except TimeoutError:
                break
            found = parse_answer(data, sender)
            if found is not None and found[0] not in seen:
                seen.add(found[0])
                yield found[1]
    finally:
        if repeat is not None:
            repeat.cancel()
        transport.close()
        with contextlib.suppress(Exception):
            await asyncio.shield(protocol.closed)
