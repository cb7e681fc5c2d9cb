"""A simulated Dahua / Amcrest / Lorex device for tests and benchmarks (see `_device`)."""

from ._device import DahuaDevice
from ._events import EmittedEvent, EventBus
from ._model import ChannelModel, DeviceModel

__all__ = ["ChannelModel", "DahuaDevice", "DeviceModel", "EmittedEvent", "EventBus"]
