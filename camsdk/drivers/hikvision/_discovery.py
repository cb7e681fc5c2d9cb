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

import uuid
from collections.abc import AsyncIterator

from camsdk.driver import DiscoveredCamera, get_logger, udp_probe
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


def probe(
    timeout: float, *, target: tuple[str, int] | None = None
) -> AsyncIterator[DiscoveredCamera]:
    """Yield Hikvision devices answering an SADP inquiry within ``timeout`` seconds."""
    host, port = target if target is not None else (MULTICAST_ADDRESS, MULTICAST_PORT)
    probe_id = str(uuid.uuid4()).upper()

    def parse(data: bytes, sender: str) -> list[tuple[str, DiscoveredCamera]]:
        found = parse_probe_match(data, sender, probe_id)
        return [found] if found is not None else []

    # Devices answer to the group on the SADP port: listen there, in the group.
    return udp_probe(
        (host, port), probe_message(probe_id), timeout, parse,
        listen_port=port, join_group=True, max_results=MAX_RESULTS, max_datagram=_MAX_DATAGRAM,
    )
