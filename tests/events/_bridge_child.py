"""A bridge in its own process, for the last-will test: ``_bridge_child.py PORT PREFIX``.

The test kills this process with SIGKILL; the broker must then publish the
camera's last will (``offline``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parent)]

from _fakes import FakeCamera  # noqa: E402

from camsdk.sinks.mqtt import MqttBridge  # noqa: E402


async def main(port: int, prefix: str) -> None:
    cam = FakeCamera("doomed")
    bridge = MqttBridge(
        [cam],
        hostname="127.0.0.1",
        port=port,
        prefix=prefix,
        discovery_prefix=None,
        publish_snapshots=False,
    )
    async with bridge:
        await bridge.wait_connected()
        print("connected", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
