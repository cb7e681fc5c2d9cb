"""`camsdk.discover`: opt-in network discovery across drivers.

Discovery sends packets onto the local network, so it only ever runs when the
caller asks for it. Each driver that implements ``discover`` contributes;
results are de-duplicated by URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection

from ._errors import CamError, UnsupportedCapabilityError
from ._log import get_logger
from ._models import DiscoveredCamera

__all__ = ["discover"]

log = get_logger("camsdk.discovery")


async def discover(
    timeout: float = 3.0, *, schemes: Collection[str] | None = None
) -> AsyncIterator[DiscoveredCamera]:
    """Yield cameras found on the local network within ``timeout`` seconds.

    ``schemes`` limits which drivers search (default: every driver that can).
    """
    from ._registry import _load_tables, load_driver

    queue: asyncio.Queue[DiscoveredCamera | None] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []

    async def run(scheme: str) -> None:
        try:
            cls = load_driver(scheme)
            if not cls.overrides("discover"):
                return
            async with asyncio.timeout(timeout):
                async for found in cls.discover(timeout):
                    await queue.put(found)
        except (TimeoutError, UnsupportedCapabilityError):
            pass
        except CamError as exc:
            log.debug("discovery by %s failed: %s", scheme, exc)
        finally:
            await queue.put(None)

    wanted = sorted(schemes) if schemes is not None else sorted(_load_tables()["driver"])
    for scheme in wanted:
        tasks.append(asyncio.get_running_loop().create_task(run(scheme)))
    seen: set[str] = set()
    pending = len(tasks)
    try:
        while pending:
            item = await queue.get()
            if item is None:
                pending -= 1
                continue
            if item.url not in seen:
                seen.add(item.url)
                yield item
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
