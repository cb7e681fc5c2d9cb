"""The ``hikvision://`` camera and NVR hub: Hikvision ISAPI over the driver kit.

``hikvision://host[:port]/<channel>`` opens one channel (``/101``-style
stream ids work too); ``camsdk.hub("hikvision://nvr.local")`` lists every
channel of an NVR or DVR; ``camsdk.discover()`` finds devices with SADP.
See ``docs/drivers/hikvision.md``.

Modules: `_options`, `_documents` (ISAPI documents read), `_api` (requests,
lockout care, the shared session), `_driver`, `_hub`, `_alerts` (alert
parsing and `EventKind` mapping), `_alert_stream` (one alert stream per
device), `_events` (start/end activities per camera), `_ptz`, `_talk`,
`_discovery`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = [
    "HikvisionDriver",
    "HikvisionHub",
    "HikvisionHubOptions",
    "HikvisionOptions",
    "classify",
]

# Imported on first use: opening a camera needs neither the hub nor the events code.
__getattr__ = lazy_exports(__name__, {
    "HikvisionDriver": "._driver",
    "HikvisionHub": "._hub",
    "HikvisionHubOptions": "._options",
    "HikvisionOptions": "._options",
    "classify": "._alerts",
})


if TYPE_CHECKING:  # pragma: no cover
    from ._alerts import classify as classify
    from ._driver import HikvisionDriver as HikvisionDriver
    from ._hub import HikvisionHub as HikvisionHub
    from ._options import HikvisionHubOptions as HikvisionHubOptions
    from ._options import HikvisionOptions as HikvisionOptions
