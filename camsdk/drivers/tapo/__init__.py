"""The ``tapo://`` camera: TP-Link Tapo's local API, RTSP and ONVIF events.

``tapo://host[:port]`` opens a Tapo camera (port: its HTTPS API, 443 by
default) with the owner's login (``admin`` and the TP-Link cloud password)
and, for streams and events, the camera account the Tapo app sets up. See
``docs/drivers/tapo.md``.

Modules: `_crypto` (password hashes, the secure login's proofs and AES
channel), `_tls` (certificate pinning), `_api` (login variants, session
token, batches, device care), `_model` (defensive readers), `_device`
(opening the shared session, reading the camera once), `_driver`,
`_stream` (privacy-watched RTSP), `_events` (ONVIF PullPoint with Tapo's
items), `_ptz`, `_options`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = ["PROFILES", "TAPO_ITEMS", "TapoDriver", "TapoOptions"]

# Imported on first use: importing the package costs nothing.
__getattr__ = lazy_exports(__name__, {
    "PROFILES": "._driver",
    "TAPO_ITEMS": "._events",
    "TapoDriver": "._driver",
    "TapoOptions": "._options",
})


if TYPE_CHECKING:  # pragma: no cover
    from ._driver import PROFILES as PROFILES
    from ._driver import TapoDriver as TapoDriver
    from ._events import TAPO_ITEMS as TAPO_ITEMS
    from ._options import TapoOptions as TapoOptions
