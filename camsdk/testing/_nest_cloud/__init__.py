"""`NestCloud`: a simulated Google Nest cloud on loopback (OAuth, SDM REST, Pub/Sub, streams).

See `camsdk.testing._nest_cloud._cloud` for what it serves and its faults;
`SimDevice` describes one simulated device.
"""

from ._cloud import NestCloud
from ._devices import SimDevice, default_devices

#: `SimDevice` under the name `camsdk.testing` exports it by.
NestSimDevice = SimDevice

__all__ = ["NestCloud", "NestSimDevice", "SimDevice", "default_devices"]
