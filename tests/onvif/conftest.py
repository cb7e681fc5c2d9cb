"""Fixtures of the ONVIF tests.

- ``loopback_only`` (autouse): any TCP connect or UDP send to an address
  that is not loopback fails the test. Tests and the simulator only ever
  talk to 127.0.0.1; a probe that leaked to the real multicast group, or a
  hostile document that made the parser fetch something, would trip it.
- ``soap``: a `SoapReplay` over a respx mock that refuses unknown requests.
- ``onvif_device``: a running `OnvifDevice` simulator with default settings.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import respx

from camsdk.testing._onvif_device import OnvifDevice

from ._helpers import PASSWORD, USER, SoapReplay


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and socketpairs stay on this machine
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse (and record) every connect or datagram to a non-loopback address."""
    refused: list[Any] = []
    originals = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}

    def guard(name: str) -> Callable[..., Any]:
        original = originals[name]

        def checked(self: socket.socket, *args: Any) -> Any:
            address = args[-1]
            if not _loopback(address):
                refused.append(address)
                raise PermissionError(f"test tried to reach {address!r}: loopback only")
            return original(self, *args)

        return checked

    for name in originals:
        monkeypatch.setattr(socket.socket, name, guard(name))
    yield refused
    assert not refused, f"non-loopback traffic attempted: {refused}"


@pytest.fixture
def soap() -> Iterator[SoapReplay]:
    """A `SoapReplay` over a respx mock that refuses any request it does not know."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield SoapReplay(router)


@pytest.fixture
async def onvif_device() -> AsyncIterator[OnvifDevice]:
    """A default simulated device (WS-Security or Digest, Media1+Media2, PTZ, events)."""
    async with OnvifDevice(username=USER, password=PASSWORD) as device:
        yield device
