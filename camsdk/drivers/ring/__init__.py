"""The ``ring://`` account hub and its cameras: Ring doorbells, cameras and intercoms.

``camsdk.hub("ring://home")`` lists every camera-like device of the account
whose tokens are stored as ``home``; ``camsdk.open("ring://home/doorbot-123")``
opens one. Log in once with ``camsdk login ring`` (or `camsdk.cloud.login`):
the password grant and Ring's 2FA code; the tokens (which rotate on every
refresh), the install's hardware id and the push registration stay in the
token store. See ``docs/drivers/ring.md``.

Modules: `_options`, `_auth` (OAuth and 2FA), `_api` (the client API),
`_account` (the shared account session), `_devices` (the device list),
`_classify` (events in their three shapes), `_push` (the push channel),
`_events` (push, polling, recovery, dedupe), `_ws` (websockets),
`_signalling`, `_live` and `_sources` (live view and talk over WebRTC), `_media`
(snapshots and recordings), `_driver`, `_hub`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = ["RingAuthenticator", "RingDriver", "RingHub", "RingOptions"]

__getattr__ = lazy_exports(__name__, {
    "RingAuthenticator": "._auth",
    "RingDriver": "._driver",
    "RingHub": "._hub",
    "RingOptions": "._options",
})


if TYPE_CHECKING:  # pragma: no cover
    from ._auth import RingAuthenticator as RingAuthenticator
    from ._driver import RingDriver as RingDriver
    from ._hub import RingHub as RingHub
    from ._options import RingOptions as RingOptions
