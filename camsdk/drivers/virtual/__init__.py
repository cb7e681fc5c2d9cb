"""The built-in ``virtual://`` camera and hub: a simulated device for demos and tests.

``virtual://<name>?fps=15&size=1280x720&events=motion:5s`` is a camera that
streams real H.264 (or HEVC) in real time, emits scripted events, has a PTZ
head and fails on request; ``virtual://<site>?cameras=4`` is a hub listing
``<site>-1`` .. ``<site>-4``. `virtual_device` returns the shared simulated
device of a name, to inject events and faults and to read counters from
tests. See ``docs/drivers/virtual.md``.
"""

from ._device import VirtualDevice, live_device_names, virtual_device
from ._driver import VirtualDriver
from ._hub import VirtualHub
from ._options import Fault, ScriptedEvent, ScriptedMotion, VirtualHubOptions, VirtualOptions
from ._ptz import VirtualPTZ
from ._stream import VirtualStream

__all__ = [
    "Fault",
    "ScriptedEvent",
    "ScriptedMotion",
    "VirtualDevice",
    "VirtualDriver",
    "VirtualHub",
    "VirtualHubOptions",
    "VirtualOptions",
    "VirtualPTZ",
    "VirtualStream",
    "live_device_names",
    "virtual_device",
]
