"""Serve N camsdk RtspServers on 127.0.0.1 in their own process, for the fleet tests.

``python tests/ray/rtsp_servers.py N`` prints one URL per line, then
``ready``, and serves until its stdin is closed. A process of its own, so
that the Ray workers (other processes) reach it as they would a camera.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from camsdk.testing import RtspServer, generate_source


async def serve(count: int) -> None:
    loop = generate_source(fps=10, gop=10, seconds=1.0, width=320, height=240)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(count):
            server = await stack.enter_async_context(RtspServer(loop))
            print(server.url, flush=True)
        print("ready", flush=True)
        # Serve until the parent closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
