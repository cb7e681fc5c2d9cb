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

import json
import struct
from collections.abc import AsyncIterator
from typing import Any

from camsdk.driver import DiscoveredCamera, udp_probe

__all__ = ["MULTICAST_ADDRESS", "MULTICAST_PORT", "dhip_frame", "parse_answer", "probe"]

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


def probe(
    timeout: float, *, target: tuple[str, int] | None = None
) -> AsyncIterator[DiscoveredCamera]:
    """Yield Dahua devices that answer a ``DHDiscover.search`` within ``timeout`` seconds."""
    host, port = target if target is not None else (MULTICAST_ADDRESS, MULTICAST_PORT)

    def parse(data: bytes, sender: str) -> list[tuple[str, DiscoveredCamera]]:
        found = parse_answer(data, sender)
        return [found] if found is not None else []

    return udp_probe(
        (host, port), probe_message(), timeout, parse,
        max_results=MAX_RESULTS, max_datagram=_MAX_DATAGRAM,
    )
