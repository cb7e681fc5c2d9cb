"""The simulated device's SADP responder: ``Probe`` in, ``ProbeMatch`` out (loopback only)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._device import HikvisionDevice

__all__ = ["SadpResponder"]


class SadpResponder(asyncio.DatagramProtocol):
    """Answers SADP inquiries with a ``ProbeMatch`` (loopback only)."""

    def __init__(self, device: HikvisionDevice) -> None:
        self.device = device
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        from camsdk.driver import xml as x

        try:
            root = x.parse(data)
        except x.XmlError:
            return
        if x.local(root.tag) != "Probe" or self.transport is None:
            return
        device = self.device
        device.sadp_probes += 1
        device._notify()
        answer = (
            '<?xml version="1.0" encoding="UTF-8"?><ProbeMatch>'
            f"<Uuid>{x.text(root, 'Uuid')}</Uuid><Types>inquiry</Types>"
            f"<DeviceType>{'NVR' if device.kind == 'nvr' else 'IPC'}</DeviceType>"
            f"<DeviceDescription>{device.model}</DeviceDescription>"
            f"<DeviceSN>{device.serial}</DeviceSN><CommandPort>8000</CommandPort>"
            f"<HttpPort>{device.http.port}</HttpPort><MAC>44-19-b6-00-00-01</MAC>"
            f"<IPv4Address>{device.host}</IPv4Address><IPv4SubnetMask>255.0.0.0</IPv4SubnetMask>"
            "<IPv4Gateway>0.0.0.0</IPv4Gateway><DHCP>false</DHCP>"
            f"<AnalogChannelNum>0</AnalogChannelNum>"
            f"<DigitalChannelNum>{len(device.channels)}</DigitalChannelNum>"
            f"<SoftwareVersion>{device.firmware}build 231110</SoftwareVersion>"
            "<Activated>true</Activated></ProbeMatch>"
        )
        self.transport.sendto(answer.encode(), addr)

    def connection_lost(self, exc: Exception | None) -> None:
        closed = self.device._udp_closed
        if closed is not None and not closed.done():
            closed.set_result(None)
