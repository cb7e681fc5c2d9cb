"""The ``nest://`` account hub and its cameras: Google Nest through the SDM API.

``camsdk.hub("nest://<project id>")`` lists the cameras of a Device Access
project; ``camsdk.open("nest://<project id>/<device>")`` opens one. Log in
once with ``camsdk login nest://<project id> --option client_id=...
--option client_secret=...`` (OAuth with PKCE); the tokens are kept in a
`camsdk.cloud` token store and refreshed once for every camera of the
account. Live streams are leases (RTSP or WebRTC), events come from Cloud
Pub/Sub over REST, snapshots from event images and clip previews. See
``docs/drivers/nest.md``.

Modules: `_options`, `_oauth` (login, refresh, dead grants), `_quota`
(Google's per-minute quotas), `_account` (the shared account: tokens,
requests, errors, audit), `_model` (devices and traits), `_streams`
(leases), `_messages` (event messages to events), `_events` (the Pub/Sub
feed), `_media` (event images and clip previews), `_driver`, `_hub`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = ["NestDriver", "NestHub", "NestOptions"]

__getattr__ = lazy_exports(__name__, {
    "NestDriver": "._driver",
    "NestHub": "._hub",
    "NestOptions": "._options",
})


if TYPE_CHECKING:  # pragma: no cover
    from ._driver import NestDriver as NestDriver
    from ._hub import NestHub as NestHub
    from ._options import NestOptions as NestOptions
