"""The ``unifi://`` console hub and its cameras: UniFi Protect on UniFi OS consoles.

``camsdk.hub("unifi://console")`` lists every Protect camera of a console;
``camsdk.open("unifi://console/<camera id or name>")`` opens one. Both APIs:
the Integration API with ``api_key=`` (preferred when given) and the local
user's private API otherwise; one login per console per process, kept in a
token store across restarts; the console's self-signed certificate pinned on
first use. See ``docs/drivers/unifi.md``.

Modules: `_options`, `_store` (session and pin kept; pinning is the kit's),
`_session` (login, requests, bootstrap), `_model` (JSON records),
`_integration`, `_codec` (binary websocket packets), `_ws` (the console's
websockets on the kit's `DeviceWebSocket`), `_classify` (event kinds and
lifecycle), `_events` (the shared websocket loop), `_ptz`, `_discovery`,
`_driver`, `_hub`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = [
    "CertificateChangedError",
    "UnifiDriver",
    "UnifiHub",
    "UnifiOptions",
    "UpdatePacket",
    "decode_packet",
    "encode_packet",
]

__getattr__ = lazy_exports(__name__, {
    "CertificateChangedError": "camsdk.driver",
    "UnifiDriver": "._driver",
    "UnifiHub": "._hub",
    "UnifiOptions": "._options",
    "UpdatePacket": "._codec",
    "decode_packet": "._codec",
    "encode_packet": "._codec",
})


if TYPE_CHECKING:  # pragma: no cover
    from camsdk.driver import CertificateChangedError as CertificateChangedError

    from ._codec import UpdatePacket as UpdatePacket
    from ._codec import decode_packet as decode_packet
    from ._codec import encode_packet as encode_packet
    from ._driver import UnifiDriver as UnifiDriver
    from ._hub import UnifiHub as UnifiHub
    from ._options import UnifiOptions as UnifiOptions
