"""A loopback responder for Dahua's ``DHDiscover.search`` (UDP, DHIP framing)."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable
from typing import Any, cast

__all__ = ["DiscoveryResponder"]

_HEADER = 32


def _frame(payload: bytes) -> bytes:
    size = len(payload)
    return struct.pack("<I", _HEADER) + b"DHIP" + bytes(8) + struct.pack("<QQ", size, size) + (
        payload
    )


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, answer: Callable[[], dict[str, Any]], seen: list[str]) -> None:
        self._answer = answer
        self._seen = seen
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if len(data) < _HEADER or data[4:8] != b"DHIP":
            return
        try:
            message = json.loads(data[_HEADER:])
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("method") != "DHDiscover.search":
            return
        self._seen.append("DHDiscover.search")
        reply = {"method": "client.notifyDevInfo", "params": {"deviceInfo": self._answer()}}
        if self.transport is not None:
            self.transport.sendto(_frame(json.dumps(reply).encode()), addr)


class DiscoveryResponder:
    """Answers discovery probes on 127.0.0.1 with ``info()`` as ``deviceInfo``."""

    def __init__(self, info: Callable[[], dict[str, Any]]) -> None:
        self._info = info
        self._transport: asyncio.DatagramTransport | None = None
        #: Probes answered.
        self.probes: list[str] = []

    async def start(self) -> None:
        """Listen on a free loopback UDP port."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self._info, self.probes), local_addr=("127.0.0.1", 0)
        )
        self._transport = transport

    @property
    def target(self) -> tuple[str, int]:
        """``(host, port)`` to point `probe` at."""
        assert self._transport is not None, "not started"
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def close(self) -> None:
        """Stop answering."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
