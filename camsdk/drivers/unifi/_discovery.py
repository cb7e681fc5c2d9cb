"""Finding UniFi OS consoles on the LAN: Ubiquiti's discovery protocol (UDP 10001).

A probe is the four bytes ``01 00 00 00`` sent to the broadcast address on
port 10001; every Ubiquiti device answers with a version-1 packet: version
(1), command (0), a 16-bit length, then TLVs (type byte, 16-bit length,
value). camsdk reads the address (type 0x02: MAC and IPv4), the host name
(0x0B), the platform (0x0C), the model (0x15) and the firmware (0x03), and
lists only consoles that can run Protect (UDM, UDR, UCK, UNVR, UCG, UX ...),
as ``unifi://<address>`` hub URLs. The target is read from `PROBE_ADDRESS`
and `PROBE_PORT` at call time, so tests point it at a loopback responder.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import AsyncIterator

from camsdk.driver import DiscoveredCamera, udp_probe

__all__ = ["PROBE", "PROBE_ADDRESS", "PROBE_PORT", "parse_answer", "probe"]

PROBE = b"\x01\x00\x00\x00"
PROBE_ADDRESS = "255.255.255.255"
PROBE_PORT = 10001
#: Platforms of consoles that run UniFi Protect.
CONSOLE_PLATFORMS = ("UDM", "UDR", "UCK", "UNVR", "UCG", "UDW", "UX", "ENVR", "EFG", "UCKG2")
_MAX_ANSWERS = 256


def parse_answer(data: bytes, sender: str) -> dict[str, str] | None:
    """The fields of one discovery answer, or ``None`` when it is not one."""
    if len(data) < 4 or data[0] != 1 or data[1] != 0:
        return None
    (length,) = struct.unpack_from(">H", data, 2)
    end = min(len(data), 4 + length)
    fields: dict[str, str] = {}
    offset = 4
    while offset + 3 <= end:
        kind = data[offset]
        (size,) = struct.unpack_from(">H", data, offset + 1)
        value = data[offset + 3:offset + 3 + size]
        offset += 3 + size
        if len(value) != size:
            break
        if kind == 0x02 and size == 10:
            fields["mac"] = value[:6].hex(":")
            fields["address"] = str(ipaddress.IPv4Address(value[6:10]))
        elif kind == 0x01 and size == 6:
            fields.setdefault("mac", value.hex(":"))
        elif kind in (0x03, 0x0B, 0x0C, 0x15):
            name = {0x03: "firmware", 0x0B: "hostname", 0x0C: "platform", 0x15: "model"}[kind]
            fields[name] = value.decode("utf-8", "replace")[:128]
    fields.setdefault("address", sender)
    return fields


def _is_console(fields: dict[str, str]) -> bool:
    platform = (fields.get("platform") or fields.get("model") or "").upper()
    return platform.startswith(CONSOLE_PLATFORMS)


def _console(data: bytes, sender: str) -> list[tuple[str, DiscoveredCamera]]:
    fields = parse_answer(data[:4096], sender)
    if fields is None or not _is_console(fields):
        return []
    camera = DiscoveredCamera(
        url=f"unifi://{fields['address']}", name=fields.get("hostname", ""),
        vendor="Ubiquiti", model=fields.get("model") or fields.get("platform", ""),
        address=fields["address"], types=("unifi-protect-console",), driver="unifi")
    return [(fields["address"], camera)]


def probe(timeout: float) -> AsyncIterator[DiscoveredCamera]:
    """Broadcast one probe (twice: UDP may drop it) and yield consoles until ``timeout``."""
    return udp_probe(
        (PROBE_ADDRESS, PROBE_PORT), PROBE, timeout, _console,
        broadcast=True, max_results=_MAX_ANSWERS,
    )
