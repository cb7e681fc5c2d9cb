"""ONVIF device management: service addresses, identity, scopes.

``GetServices`` is asked first because it is the only way to learn about a
Media2 service (H.265 profiles); old firmware without it falls back to
``GetCapabilities``. Every XAddr passes the caller's `UrlPolicy` (devices
behind NAT report internal addresses). Identity comes from
``GetDeviceInformation`` and the name and location from ``GetScopes``; any
of their elements may be missing and then stay empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from camsdk.driver import CameraProtocolError, DeviceError, UnsupportedCapabilityError, get_logger
from camsdk.driver import xml as x

from ._ns import NS
from ._soap import SoapSession, gather_pair

__all__ = [
    "DeviceIdentity",
    "DeviceServices",
    "ScopeInfo",
    "get_identity",
    "get_services",
    "parse_scopes",
]

log = get_logger("camsdk.onvif.device")

_SERVICE_KEYS = {
    "http://www.onvif.org/ver10/device/wsdl": "device",
    "http://www.onvif.org/ver10/media/wsdl": "media",
    "http://www.onvif.org/ver20/media/wsdl": "media2",
    "http://www.onvif.org/ver20/ptz/wsdl": "ptz",
    "http://www.onvif.org/ver10/events/wsdl": "events",
    "http://www.onvif.org/ver20/imaging/wsdl": "imaging",
}


@dataclass(frozen=True, slots=True)
class DeviceServices:
    """Where a device's services live (already rewritten by the URL policy)."""

    device: str
    media: str | None = None
    media2: str | None = None
    ptz: str | None = None
    events: str | None = None
    imaging: str | None = None
    #: ``WSPullPointSupport`` as reported; None when the device did not say.
    pullpoint: bool | None = None


@dataclass(frozen=True, slots=True)
class ScopeInfo:
    """What WS-Discovery / GetScopes scopes say about a device."""

    name: str = ""
    location: str = ""
    hardware: str = ""
    vendor: str = ""


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """``GetDeviceInformation`` plus scopes."""

    vendor: str
    model: str
    firmware: str
    serial: str
    hardware_id: str
    scopes: ScopeInfo
    raw_scopes: tuple[str, ...]


def parse_scopes(items: list[str] | tuple[str, ...]) -> ScopeInfo:
    """Name, location, hardware and vendor from ``onvif://www.onvif.org/<key>/<value>`` scopes."""
    found: dict[str, list[str]] = {}
    for item in items:
        prefix = "onvif://www.onvif.org/"
        if not item.lower().startswith(prefix):
            continue
        key, _, value = item[len(prefix) :].partition("/")
        if value:
            found.setdefault(key.lower(), []).append(unquote(value).strip())
    vendor = next(
        (found[k][0] for k in ("mfr", "mfrname", "manufacturer", "vendor") if k in found), ""
    )
    return ScopeInfo(
        name=found.get("name", [""])[0],
        location=", ".join(v for v in found.get("location", []) if v),
        hardware=found.get("hardware", [""])[0],
        vendor=vendor,
    )


async def get_services(session: SoapSession, *, auth: bool = True) -> DeviceServices:
    """Service XAddrs from ``GetServices``, or ``GetCapabilities`` on old firmware."""
    try:
        answer = await session.call(
            session.device_url,
            "GetServices",
            "<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>",
            action=f"{NS['tds']}/GetServices",
            auth=auth,
        )
    except (UnsupportedCapabilityError, DeviceError) as exc:
        log.debug("%s: GetServices failed (%s); using GetCapabilities", session.shown, exc)
        return await _from_capabilities(session, auth)
    found: dict[str, str] = {}
    pullpoint: bool | None = None
    for service in x.findall(answer, "Service"):
        key = _SERVICE_KEYS.get(x.text(service, "Namespace").rstrip("/"))
        xaddr = x.text(service, "XAddr")
        if key is None or not xaddr or key in found:
            continue
        found[key] = xaddr
        if key == "events":
            caps = x.find(service, "Capabilities", "Capabilities")
            pullpoint = x.parse_bool(x.attr(caps, "WSPullPointSupport"))
    if not found:
        return await _from_capabilities(session, auth)
    return _services(session, found, pullpoint)


async def _from_capabilities(session: SoapSession, auth: bool) -> DeviceServices:
    answer = await session.call(
        session.device_url,
        "GetCapabilities",
        "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
        action=f"{NS['tds']}/GetCapabilities",
        auth=auth,
    )
    caps = x.find(answer, "Capabilities")
    if caps is None:
        raise CameraProtocolError(
            "GetCapabilities answer has no Capabilities", scheme="onvif", url=session.shown
        )
    found = {
        key: x.text(caps, element, "XAddr")
        for key, element in (
            ("device", "Device"),
            ("media", "Media"),
            ("ptz", "PTZ"),
            ("events", "Events"),
            ("imaging", "Imaging"),
        )
    }
    # Some firmware lists Media2 under the Extension element.
    for node in x.iter_named(caps, "Media2"):
        found.setdefault("media2", x.text(node, "XAddr"))
    pullpoint = x.parse_bool(x.text(caps, "Events", "WSPullPointSupport"))
    return _services(session, {k: v for k, v in found.items() if v}, pullpoint)


def _services(
    session: SoapSession, found: dict[str, str], pullpoint: bool | None
) -> DeviceServices:
    device_xaddr = found.get("device")
    if device_xaddr:
        session.learn_device_port(device_xaddr)
    resolved: dict[str, str | None] = {}
    for key in ("media", "media2", "ptz", "events", "imaging"):
        xaddr = found.get(key)
        resolved[key] = session.policy.service(xaddr) if xaddr else None
    return DeviceServices(
        device=session.device_url,
        media=resolved["media"],
        media2=resolved["media2"],
        ptz=resolved["ptz"],
        events=resolved["events"],
        imaging=resolved["imaging"],
        pullpoint=pullpoint,
    )


async def get_identity(session: SoapSession) -> DeviceIdentity:
    """``GetDeviceInformation`` and ``GetScopes`` (concurrently); missing elements stay empty."""
    info, items = await gather_pair(_device_information(session), _scopes(session))
    return DeviceIdentity(
        vendor=x.text(info, "Manufacturer"),
        model=x.text(info, "Model"),
        firmware=x.text(info, "FirmwareVersion"),
        serial=x.text(info, "SerialNumber"),
        hardware_id=x.text(info, "HardwareId"),
        scopes=parse_scopes(items),
        raw_scopes=items,
    )


async def _device_information(session: SoapSession) -> Element:
    return await session.call(
        session.device_url,
        "GetDeviceInformation",
        "<tds:GetDeviceInformation/>",
        action=f"{NS['tds']}/GetDeviceInformation",
    )


async def _scopes(session: SoapSession) -> tuple[str, ...]:
    try:
        answer = await session.call(
            session.device_url,
            "GetScopes",
            "<tds:GetScopes/>",
            action=f"{NS['tds']}/GetScopes",
        )
    except (UnsupportedCapabilityError, DeviceError) as exc:
        # Scopes only add a name and a location; their absence is no failure.
        log.debug("%s: GetScopes failed (%s)", session.shown, exc)
        return ()
    items = (x.text(scope, "ScopeItem") for scope in x.findall(answer, "Scopes"))
    return tuple(item for item in items if item)
