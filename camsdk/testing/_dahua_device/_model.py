"""What a simulated Dahua device is: its identity, channels and their stream formats.

`DeviceModel` holds the answers the CGI serves; `DeviceModel.for_kind` makes
the three families the simulator plays: an IP camera (``ipc``), a recorder
with N channels (``nvr``) and a VTO door station (``vto``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

__all__ = ["ChannelModel", "DeviceModel", "Kind", "make_jpeg"]

Kind = Literal["ipc", "nvr", "vto"]


@dataclass(slots=True)
class ChannelModel:
    """One channel: its title, whether it is connected, and its main/sub formats."""

    title: str
    connected: bool = True
    main_enabled: bool = True
    compression: str = "H.264"
    width: int = 320
    height: int = 240
    fps: int = 15
    audio: str | None = "G.711A"
    third: bool = False


@dataclass(slots=True)
class DeviceModel:
    """The device's identity and channels (1-based ``channels[n - 1]``)."""

    kind: Kind = "ipc"
    model: str = "IPC-HDW5231R-ZE"
    serial: str = "SIM0000DAHUA001"
    firmware: str = "2.800.0000016.0.R,build:2021-07-06"
    name: str = "Front Door"
    vendor: str = "Dahua"
    mac: str = "3c:ef:8c:00:00:01"
    channels: list[ChannelModel] = field(default_factory=list)

    @property
    def device_class(self) -> str:
        """``IPC``, ``NVR`` or ``VTO``, as ``getDeviceClass`` answers."""
        return self.kind.upper()

    @classmethod
    def for_kind(cls, kind: Kind, channels: int = 1) -> DeviceModel:
        """A typical device of ``kind`` with ``channels`` channels."""
        if kind == "nvr":
            return cls(
                kind="nvr", model="DHI-NVR5216-16P-4KS2E", serial="SIM0000DAHUANVR",
                firmware="4.001.0000000.3.R,build:2022-03-08", name="Recorder",
                channels=[ChannelModel(f"Camera {n}") for n in range(1, channels + 1)],
            )
        if kind == "vto":
            return cls(
                kind="vto", model="DHI-VTO2202F-P", serial="SIM0000DAHUAVTO",
                firmware="4.300.0000001.0.R,build:2021-09-15", name="Doorbell",
                vendor="Dahua", channels=[ChannelModel("Doorbell", audio="G.711Mu")],
            )
        return cls(channels=[ChannelModel(f"Channel {n}") for n in range(1, channels + 1)])


@functools.lru_cache(maxsize=8)
def make_jpeg(width: int, height: int) -> bytes:
    """A small real JPEG (a gradient), encoded with PyAV."""
    import av
    import numpy as np

    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    picture = np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1)
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    return b"".join(bytes(p) for p in packets)
