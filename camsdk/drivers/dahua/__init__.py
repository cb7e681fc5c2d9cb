"""The ``dahua://`` camera and hub: Dahua, Amcrest and Lorex devices over CGI and RPC2.

``dahua://host[:port]/<channel>`` opens one channel of an IP camera, NVR or
door station; ``camsdk.hub("dahua://nvr")`` lists every channel of a
recorder; ``camsdk.discover()`` finds devices with ``DHDiscover.search``.
See ``docs/drivers/dahua.md``.

Modules: `_text` (CGI bodies), `_api` (requests and error bodies), `_device`
(identity, channels, formats), `_session` (one login per device), `_rpc2`,
`_events` (parsing and the code table), `_event_source` (one event
connection per device), `_ptz`, `_talk`, `_discovery`, `_options`,
`_driver`, `_hub`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = ["DahuaDriver", "DahuaHub", "DahuaHubOptions", "DahuaOptions", "classify"]

# Imported on first use: opening a camera needs neither the hub nor the events code.
__getattr__ = lazy_exports(__name__, {
    "DahuaDriver": "._driver",
    "DahuaHub": "._hub",
    "DahuaHubOptions": "._options",
    "DahuaOptions": "._options",
    "classify": "._events",
})


if TYPE_CHECKING:  # pragma: no cover
    from ._driver import DahuaDriver as DahuaDriver
    from ._events import classify as classify
    from ._hub import DahuaHub as DahuaHub
    from ._options import DahuaHubOptions as DahuaHubOptions
    from ._options import DahuaOptions as DahuaOptions
