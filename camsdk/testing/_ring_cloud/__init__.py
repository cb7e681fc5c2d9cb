"""`RingCloud`: a simulated Ring cloud on loopback (OAuth with 2FA, devices, events, live view).

See `camsdk.testing._ring_cloud._cloud` for what it serves and the faults it
injects; `SimDevice` describes one of its devices.
"""

from ._cloud import RingCloud
from ._state import SimDevice

#: `SimDevice` under the name `camsdk.testing` exports it by.
RingSimDevice = SimDevice

__all__ = ["RingCloud", "RingSimDevice", "SimDevice"]
