"""`ReolinkDevice`: a simulated Reolink camera, NVR or Home Hub on 127.0.0.1.

It answers the JSON API (``/cgi-bin/api.cgi`` and ``/api.cgi``: Login with
token leases and a session cap, GetDevInfo, GetLocalLink, GetNetPort,
GetChannelstatus, GetAbility, GetEnc, GetRtspUrl, GetMdState, GetAiState,
PtzCtrl, GetPtzPreset, SetPtzPreset, Snap, Logout) on an `HttpDevice`,
serves ``<codec>Preview_<NN>_<profile>`` on an `RtspServer` with Digest
auth, optionally sends ONVIF notifications for its states (an
`OnvifDevice`), and answers the LAN discovery probe on loopback::

    async with ReolinkDevice(channels=4, battery=[3]) as nvr:
        async with camsdk.hub(nvr.url, credentials=camsdk.Credentials("admin", "reolink-sim")):
            ...
        nvr.set_state(0, "people", True)
"""

from ._device import ONVIF_TOPICS, ReolinkDevice
from ._state import AI_TYPES, Account, SimChannel

__all__ = ["AI_TYPES", "ONVIF_TOPICS", "Account", "ReolinkDevice", "SimChannel"]
