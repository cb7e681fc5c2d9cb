"""The ``onvif://`` camera and NVR hub: ONVIF Profile S/T over SOAP 1.2 on httpx.

``onvif://host[:port]?profile=<name or token>`` opens a camera;
``camsdk.hub("onvif://nvr")`` lists one camera per video source of an NVR;
``camsdk.discover()`` finds cameras with WS-Discovery. The SOAP client is
written for the operations camsdk needs (no WSDL engine), so connecting costs
a few round trips and no schema loading. See ``docs/drivers/onvif.md``.

Modules: `_soap` (HTTP, WS-Security, Digest, clock), `_envelope` (messages
and faults), `_xml` (hardened parsing), `_urls` (NAT rewriting and scheme
checks), `_device`, `_media`, `_ptz`, `_events`, `_discovery`, `_endpoint`
(the connect sequence), `_options`, `_driver`, `_hub`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = ["OnvifDriver", "OnvifHub", "OnvifHubOptions", "OnvifOptions", "classify"]

# Imported on first use: opening a camera needs neither the hub nor the events code.
__getattr__ = lazy_exports(__name__, {
    "OnvifDriver": "._driver",
    "OnvifHub": "._hub",
    "OnvifHubOptions": "._options",
    "OnvifOptions": "._options",
    "classify": "._events",
})


if TYPE_CHECKING:  # pragma: no cover
    from ._driver import OnvifDriver as OnvifDriver
    from ._events import classify as classify
    from ._hub import OnvifHub as OnvifHub
    from ._options import OnvifHubOptions as OnvifHubOptions
    from ._options import OnvifOptions as OnvifOptions
