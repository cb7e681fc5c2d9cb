"""WS-Discovery: find ONVIF cameras on the local network (opt-in, ``camsdk.discover``).

`probe` sends a WS-Discovery ``Probe`` for ``dn:NetworkVideoTransmitter``
as one UDP datagram (repeated once, as UDP may drop it) to `MULTICAST_ADDRESS`
:`MULTICAST_PORT` with a multicast TTL of 1, so it never leaves the local
link, and reads ``ProbeMatches`` answered to its own socket until the
timeout. The target is read from the module constants at call time, or
given as ``target=``: tests point it at a loopback responder
(`camsdk.testing.OnvifDevice.discovery_target`) and never send to the
network.

Answers are untrusted datagrams: parsed with the hardened XML parser,
matched to our probe by ``RelatesTo``, capped in number, de-duplicated by
endpoint. The URL of a camera uses the XAddr whose host is the address the
answer came from (devices list several, some unreachable); when none is,
the sender's address replaces the XAddr's host.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit

from camsdk.driver import DiscoveredCamera, get_logger, udp_probe
from camsdk.driver import xml as x

from ._device import parse_scopes

__all__ = ["MULTICAST_ADDRESS", "MULTICAST_PORT", "parse_probe_matches", "probe", "probe_message"]

log = get_logger("camsdk.onvif.discovery")

#: WS-Discovery's IPv4 multicast group and port (tests replace them with loopback).
MULTICAST_ADDRESS = "239.255.255.250"
MULTICAST_PORT = 3702
#: At most this many cameras from one probe: a flood of answers is not a network.
MAX_RESULTS = 1024
DEFAULT_PATH = "/onvif/device_service"

_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"


def probe_message(message_id: str) -> bytes:
    """A WS-Discovery Probe for ONVIF NetworkVideoTransmitters."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        f'xmlns:a="{_WSA}" xmlns:d="{_WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">'
        "<s:Header>"
        f'<a:Action s:mustUnderstand="1">{_WSD}/Probe</a:Action>'
        f"<a:MessageID>{message_id}</a:MessageID>"
        f"<a:ReplyTo><a:Address>{_WSA}/role/anonymous</a:Address></a:ReplyTo>"
        '<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>'
        "</s:Header>"
        "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>"
        "</s:Envelope>"
    ).encode()


def _camera_url(xaddrs: list[str], sender: str) -> str | None:
    candidates = []
    for xaddr in xaddrs:
        try:
            parts = urlsplit(xaddr)
            port = parts.port
        except ValueError:
            continue
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            candidates.append((parts, port))
    if not candidates:
        return None
    parts, port = next(((p, port) for p, port in candidates if p.hostname == sender), candidates[0])
    https = parts.scheme.lower() == "https"
    host = sender or parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != (443 if https else 80):
        netloc += f":{port}"
    query = {}
    if parts.path and parts.path != DEFAULT_PATH:
        query["path"] = parts.path
    if https:
        query["https"] = "1"
    return f"onvif://{netloc}" + ("?" + urlencode(query, safe="/") if query else "")


def parse_probe_matches(
    data: bytes, sender: str, message_id: str | None = None
) -> list[tuple[str, DiscoveredCamera]]:
    """``(endpoint, camera)`` for each ProbeMatch in a datagram; [] for anything else."""
    try:
        root = x.parse(data)
    except x.XmlError as exc:
        log.debug("ignoring a malformed discovery answer from %s: %s", sender, exc)
        return []
    header = x.find(root, "Header")
    relates = x.text(header, "RelatesTo")
    if message_id is not None and relates and relates != message_id:
        return []  # an answer to somebody else's probe
    found = []
    for match in x.iter_named(root, "ProbeMatch"):
        endpoint = x.text(match, "EndpointReference", "Address")
        xaddrs = x.text(match, "XAddrs").split()
        scopes = tuple(x.text(match, "Scopes").split())
        types = tuple(x.text(match, "Types").split())
        url = _camera_url(xaddrs, sender)
        if url is None:
            continue
        info = parse_scopes(scopes)
        found.append(
            (
                endpoint or url,
                DiscoveredCamera(
                    url=url,
                    name=info.name,
                    vendor=info.vendor,
                    model=info.hardware,
                    address=sender,
                    scopes=scopes,
                    types=types,
                    driver="onvif",
                ),
            )
        )
    return found


def probe(
    timeout: float, *, target: tuple[str, int] | None = None
) -> AsyncIterator[DiscoveredCamera]:
    """Yield ONVIF cameras that answer a WS-Discovery probe within ``timeout`` seconds."""
    host, port = target if target is not None else (MULTICAST_ADDRESS, MULTICAST_PORT)
    message_id = f"urn:uuid:{uuid.uuid4()}"

    def parse(data: bytes, sender: str) -> list[tuple[str, DiscoveredCamera]]:
        return parse_probe_matches(data, sender, message_id)

    return udp_probe(
        (host, port), probe_message(message_id), timeout, parse, max_results=MAX_RESULTS
    )
