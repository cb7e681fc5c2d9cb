"""Driver registry: a string-only table of schemes, imported on first use.

Built-in drivers and third-party ones are found the same way: the
``camsdk.drivers`` entry-point group (``scheme = "pkg.mod:Class"``) and, for
hubs, ``camsdk.hubs``. The built-ins are also listed in `BUILTIN_DRIVERS` so a
source checkout works without installation. Nothing is imported until a scheme
is used, so ``import camsdk`` never imports a vendor module.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Literal

from ._errors import DriverUnavailableError, UnknownSchemeError

if TYPE_CHECKING:  # pragma: no cover
    from ._driver import CameraDriver, HubDriver
    from ._models import DriverInfo

__all__ = [
    "BUILTIN_DRIVERS",
    "BUILTIN_HUBS",
    "available_drivers",
    "load_driver",
    "load_hub",
    "register_driver",
]

_CORE = "pip install camsdk"

#: scheme -> (target, install hint)
BUILTIN_DRIVERS: dict[str, tuple[str, str]] = {
    "dahua": ("camsdk.drivers.dahua:DahuaDriver", _CORE),
    "file": ("camsdk.drivers.file:FileDriver", _CORE),
    "hls+http": ("camsdk.drivers.hls:HlsDriver", _CORE),
    "hls+https": ("camsdk.drivers.hls:HlsDriver", _CORE),
    "hikvision": ("camsdk.drivers.hikvision:HikvisionDriver", _CORE),
    "nest": ("camsdk.drivers.nest:NestDriver", "pip install camsdk[webrtc]"),
    "http": ("camsdk.drivers.http:HttpDriver", _CORE),
    "https": ("camsdk.drivers.http:HttpDriver", _CORE),
    "onvif": ("camsdk.drivers.onvif:OnvifDriver", _CORE),
    "reolink": ("camsdk.drivers.reolink:ReolinkDriver", _CORE),
    "ring": ("camsdk.drivers.ring:RingDriver", "pip install camsdk[webrtc]"),
    "rtsp": ("camsdk.drivers.rtsp:RtspDriver", _CORE),
    "rtsps": ("camsdk.drivers.rtsp:RtspDriver", _CORE),
    "tapo": ("camsdk.drivers.tapo:TapoDriver", _CORE),
    "unifi": ("camsdk.drivers.unifi:UnifiDriver", _CORE),
    "virtual": ("camsdk.drivers.virtual:VirtualDriver", _CORE),
}

BUILTIN_HUBS: dict[str, tuple[str, str]] = {
    "hikvision": ("camsdk.drivers.hikvision:HikvisionHub", _CORE),
    "dahua": ("camsdk.drivers.dahua:DahuaHub", _CORE),
    "nest": ("camsdk.drivers.nest:NestHub", "pip install camsdk[webrtc]"),
    "onvif": ("camsdk.drivers.onvif:OnvifHub", _CORE),
    "reolink": ("camsdk.drivers.reolink:ReolinkHub", _CORE),
    "ring": ("camsdk.drivers.ring:RingHub", "pip install camsdk[webrtc]"),
    "unifi": ("camsdk.drivers.unifi:UnifiHub", _CORE),
    "virtual": ("camsdk.drivers.virtual:VirtualHub", _CORE),
}

Kind = Literal["driver", "hub"]
_GROUPS: dict[Kind, str] = {"driver": "camsdk.drivers", "hub": "camsdk.hubs"}

_lock = threading.Lock()
_tables: dict[Kind, dict[str, tuple[str | type, str, bool]]] = {
    "driver": {s: (t, h, True) for s, (t, h) in BUILTIN_DRIVERS.items()},
    "hub": {s: (t, h, True) for s, (t, h) in BUILTIN_HUBS.items()},
}
_entry_points_read = False


def _load_tables(
    *, entry_points_too: bool = True
) -> dict[Kind, dict[str, tuple[str | type, str, bool]]]:
    """The scheme tables; ``entry_points_too`` merges installed plugins first.

    Reading entry points scans every installed distribution (tens of ms), so a
    built-in scheme is resolved without it; plugins never replace built-ins.
    """
    global _entry_points_read
    if entry_points_too and not _entry_points_read:
        with _lock:
            if not _entry_points_read:
                for kind, group in _GROUPS.items():
                    for ep in entry_points(group=group):
                        _tables[kind].setdefault(ep.name.lower(), (ep.value, _hint(ep), False))
                _entry_points_read = True
    return _tables


def _hint(ep: EntryPoint) -> str:
    """``pip install <distribution>[extras]`` for a plugin's entry point."""
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", "") if dist is not None else ""
    if not name:
        return ""
    extras = f"[{','.join(ep.extras)}]" if ep.extras else ""
    return f"pip install {name}{extras}"


def register_driver(
    scheme: str,
    target: str | type[CameraDriver[Any]] | type[HubDriver[Any]],
    *,
    hub: bool = False,
    requires: str = "",
) -> None:
    """Register a driver (or with ``hub=True`` a hub driver) for ``scheme``.

    ``target`` is a class or a ``"package.module:Class"`` string imported on
    first use; ``requires`` is the install hint shown when it cannot be
    imported. A registration replaces any earlier one for the same scheme.
    """
    tables = _load_tables(entry_points_too=False)
    with _lock:
        tables["hub" if hub else "driver"][scheme.lower()] = (target, requires, False)


def _resolve(kind: Kind, scheme: str, url: str | None) -> type:
    tables = _load_tables(entry_points_too=False)
    entry = tables[kind].get(scheme.lower())
    if entry is None:
        entry = _load_tables()[kind].get(scheme.lower())
    if entry is None:
        known = ", ".join(sorted(tables[kind])) or "none"
        what = "hub driver" if kind == "hub" else "driver"
        raise UnknownSchemeError(
            f"no {what} for scheme {scheme!r} (known: {known})", scheme=scheme, url=url
        )
    target, hint, _ = entry
    if isinstance(target, type):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        message = f"driver for {scheme!r} ({target}) cannot be imported: {exc}"
        if hint:
            message += f"; install it with: {hint}"
        raise DriverUnavailableError(message, scheme=scheme, url=url, hint=hint or None) from exc
    if not isinstance(cls, type):
        raise DriverUnavailableError(f"{target} is not a class", scheme=scheme, url=url)
    with _lock:
        tables[kind][scheme.lower()] = (cls, hint, entry[2])
    return cls


def load_driver(scheme: str, url: str | None = None) -> type[CameraDriver[Any]]:
    """Import and return the camera driver class for ``scheme``."""
    from ._driver import CameraDriver

    cls = _resolve("driver", scheme, url)
    if not issubclass(cls, CameraDriver):
        raise DriverUnavailableError(f"{cls!r} is not a CameraDriver", scheme=scheme, url=url)
    return cls


def load_hub(scheme: str, url: str | None = None) -> type[HubDriver[Any]]:
    """Import and return the hub driver class for ``scheme``."""
    from ._driver import HubDriver

    cls = _resolve("hub", scheme, url)
    if not issubclass(cls, HubDriver):
        raise DriverUnavailableError(f"{cls!r} is not a HubDriver", scheme=scheme, url=url)
    return cls


def available_drivers() -> dict[str, DriverInfo]:
    """Every known camera scheme and what its driver declares.

    This imports each driver to read its declared capabilities; a driver that
    cannot be imported is listed with ``available=False`` and its install hint.
    """
    from ._models import Capability, DriverInfo

    result: dict[str, DriverInfo] = {}
    tables = _load_tables()
    for scheme in sorted(tables["driver"]):
        target, hint, builtin = tables["driver"][scheme]
        name = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
        try:
            cls = load_driver(scheme)
        except DriverUnavailableError as exc:
            result[scheme] = DriverInfo(
                scheme=scheme,
                target=name,
                available=False,
                requires=hint,
                error=str(exc),
                builtin=builtin,
            )
            continue
        caps = cls.declared_capabilities
        if scheme in tables["hub"]:
            caps |= Capability.HUB
        result[scheme] = DriverInfo(
            scheme=scheme,
            target=name,
            display_name=cls.display_name or cls.__name__,
            capabilities=caps,
            requires=cls.requires or hint,
            builtin=builtin,
        )
    return result
