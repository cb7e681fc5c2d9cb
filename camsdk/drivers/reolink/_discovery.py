"""Reolink LAN discovery: the UDP broadcast probe the Reolink client apps send.

Reolink does not document it; the community knows it from the client apps
(and one Home Assistant custom integration reads it): a 4-byte probe
``aa aa 00 00`` broadcast to UDP port 2000 is answered by every Reolink
camera and NVR on the link with a 388-byte datagram, sent to port 3000
(broadcast) or back to the probe's source port depending on firmware. The
answer echoes the probe at bytes 104..108 (our check that it is an answer
at all); the other fields are read as *best effort*, each a NUL-terminated
ASCII string: the device's name at 132, its MAC at 164, its P2P UID at 228
and a type string at 58 (``IPC`` on some models). The camera URL always
uses the address the datagram came from, never the one inside it.

`probe` listens on port 3000 and sends the probe from that same socket, so
both reply styles reach it; it runs only when the caller asks
(``camsdk.discover``), sends two probes, and keeps at most `MAX_RESULTS`
answers. Tests give ``target=`` and ``listen=`` on loopback and never
broadcast.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from camsdk.driver import DiscoveredCamera, is_loopback_host, udp_probe

__all__ = ["PROBE", "PROBE_PORT", "REPLY_PORT", "REPLY_SIZE", "parse_reply", "probe"]

PROBE = bytes((0xAA, 0xAA, 0x00, 0x00))
PROBE_PORT = 2000
REPLY_PORT = 3000
REPLY_SIZE = 388
BROADCAST = "255.255.255.255"
MAX_RESULTS = 1024
_ECHO = slice(104, 108)


def _text(data: bytes, start: int, length: int) -> str:
    raw = data[start:start + length].split(b"\0", 1)[0]
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return ""
    return text if text.isprintable() else ""


def parse_reply(data: bytes, sender: str) -> DiscoveredCamera | None:
    """The camera in one answer datagram, or ``None`` when it is not an answer."""
    if len(data) != REPLY_SIZE or data[_ECHO] != PROBE:
        return None
    name = _text(data, 132, 32)
    mac = _text(data, 164, 18) or data[80:86].hex(":").upper()
    uid = _text(data, 228, 32)
    kind = _text(data, 58, 18)
    host = f"[{sender}]" if ":" in sender else sender
    scopes = tuple(s for s in (f"mac:{mac}" if mac else "", f"uid:{uid}" if uid else "") if s)
    return DiscoveredCamera(
        url=f"reolink://{host}", name=name, vendor="Reolink", model=kind, address=sender,
        scopes=scopes, driver="reolink",
    )


def probe(
    timeout: float,
    *,
    target: tuple[str, int] | None = None,
    listen: tuple[str, int] | None = None,
) -> AsyncIterator[DiscoveredCamera]:
    """Yield Reolink devices that answer within ``timeout`` seconds (module docstring)."""
    host, port = target if target is not None else (BROADCAST, PROBE_PORT)

    def parse(data: bytes, sender: str) -> list[tuple[str, DiscoveredCamera]]:
        camera = parse_reply(data, sender)
        return [(camera.url, camera)] if camera is not None else []

    # Port 3000 where it is free (answers broadcast there); where another app
    # holds it, devices that answer the probe's own port still reach us.
    return udp_probe(
        (host, port), PROBE, timeout, parse,
        local=listen, listen_port=REPLY_PORT, broadcast=not is_loopback_host(host),
        max_results=MAX_RESULTS,
    )
