"""Serve the virtual camera's encoded loop over RTSP on 127.0.0.1, in its own process.

Used by the benchmarks so that the server's CPU is not counted as camsdk's:
``python benchmarks/serve_rtsp.py 1920x1080 15 15 3000000`` prints the URL on
the first line of stdout and serves until its stdin is closed.
"""

from __future__ import annotations

import asyncio
import sys

from camsdk.drivers.virtual._scene import LoopParams, encoded_loop
from camsdk.testing import RtspServer


async def serve(size: str, fps: int, gop: int, bitrate: int) -> None:
    width, height = (int(v) for v in size.split("x"))
    loop = encoded_loop(LoopParams(width=width, height=height, fps=fps, gop=gop, bitrate=bitrate))
    async with RtspServer(loop) as server:
        print(server.url, flush=True)
        # Serve until the parent closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    size, fps, gop, bitrate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(serve(size, fps, gop, bitrate))
