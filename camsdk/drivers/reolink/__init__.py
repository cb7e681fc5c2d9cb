"""The ``reolink://`` camera and NVR / Home Hub: Reolink's JSON API on httpx.

``reolink://host[:port]/<channel>`` opens a camera or one NVR channel
(channel 0 when omitted); ``camsdk.hub("reolink://nvr")`` lists every
channel of an NVR or Home Hub; ``camsdk.discover()`` finds devices with
Reolink's LAN broadcast probe. See ``docs/drivers/reolink.md``.

Modules: `_api` (login, token lease, batched commands, errors in bodies),
`_model` (defensive readers of the answers), `_device` (identity, ports and
channels, read once per session), `_driver`, `_hub`, `_events` (state
polling woken by ONVIF notifications), `_ptz`, `_wake` (battery wake
budget), `_discovery`, `_options`.
"""

from typing import TYPE_CHECKING

from camsdk.driver import lazy_exports

__all__ = [
    "AI_KINDS",
    "ReolinkDriver",
    "ReolinkHub",
    "ReolinkHubOptions",
    "ReolinkOptions",
    "WakeBudget",
]

# Imported on first use: opening a camera needs neither the hub nor discovery.
__getattr__ = lazy_exports(__name__, {
    "AI_KINDS": "._events",
    "ReolinkDriver": "._driver",
    "ReolinkHub": "._hub",
    "ReolinkHubOptions": "._options",
    "ReolinkOptions": "._options",
    "WakeBudget": "._wake",
})


if TYPE_CHECKING:  # pragma: no cover
    from ._driver import ReolinkDriver as ReolinkDriver
    from ._events import AI_KINDS as AI_KINDS
    from ._hub import ReolinkHub as ReolinkHub
    from ._options import ReolinkHubOptions as ReolinkHubOptions
    from ._options import ReolinkOptions as ReolinkOptions
    from ._wake import WakeBudget as WakeBudget
