"""Pytest fixtures that fail a test which leaks a camera, stream, thread, task or socket.

Enable in your own suite with ``pytest_plugins = ["camsdk.testing.pytest_plugin"]``.
The ``camsdk_leak_check`` fixture is autouse: after each test it checks that

- every `camsdk.Camera` and `camsdk.Hub` created during the test was closed,
  and no stream session is still open,
- no ``camsdk-*`` worker thread (reader, decoder) is still alive,
- no TCP/UDP socket opened during the test is still open (needs psutil),
- for async (anyio) tests: no asyncio task started by the test is still pending.

Waiting for threads to finish uses ``Thread.join`` with a bound, never sleeps.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

__all__ = ["anyio_backend", "camsdk_leak_check", "camsdk_no_task_leaks"]

_THREAD_GRACE = 5.0


def _inet_sockets() -> set[tuple[Any, ...]]:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is in the test extra
        return set()
    proc = psutil.Process()
    return {
        (c.fd, c.laddr, c.raddr, c.type)
        for c in proc.net_connections(kind="inet")
        if c.status != psutil.CONN_TIME_WAIT
    }


def _camsdk_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("camsdk-") and t.is_alive()}


@pytest.fixture
def anyio_backend() -> str:
    """camsdk runs on asyncio."""
    return "asyncio"


@pytest.fixture(autouse=True)
def camsdk_leak_check(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaked a camera, hub, stream session, worker thread or socket."""
    from camsdk._camera import LIVE_CAMERAS, CameraState
    from camsdk._hub import LIVE_HUBS

    cams_before = set(LIVE_CAMERAS)
    hubs_before = set(LIVE_HUBS)
    threads_before = _camsdk_threads()
    sockets_before = _inet_sockets()
    yield
    problems: list[str] = []
    for cam in set(LIVE_CAMERAS) - cams_before:
        if cam.state is not CameraState.CLOSED or cam._sessions:
            problems.append(f"camera not closed: {cam!r}")
    for hub in set(LIVE_HUBS) - hubs_before:
        problems.append(f"hub not closed: {hub!r}")
    for thread in _camsdk_threads() - threads_before:
        thread.join(_THREAD_GRACE)
        if thread.is_alive():
            problems.append(f"thread still running: {thread.name}")
    leaked_sockets = _inet_sockets() - sockets_before
    if leaked_sockets:
        problems.append(f"sockets left open: {sorted(map(str, leaked_sockets))}")
    if problems:
        pytest.fail("resource leak: " + "; ".join(problems), pytrace=False)


@pytest.fixture
async def camsdk_no_task_leaks() -> AsyncIterator[None]:
    """For async tests: fail if the test left asyncio tasks pending."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    leaked = [
        t
        for t in asyncio.all_tasks() - before
        if t is not current and not t.done() and not _is_runner_task(t)
    ]
    if leaked:
        # Give just-cancelled tasks one chance to finish their cleanup.
        await asyncio.wait(leaked, timeout=1.0)
        leaked = [t for t in leaked if not t.done()]
    if leaked:
        for task in leaked:
            task.cancel()
        pytest.fail(
            "asyncio tasks leaked: " + ", ".join(t.get_name() for t in leaked), pytrace=False
        )


def _is_runner_task(task: asyncio.Task[Any]) -> bool:
    """Tasks of the anyio test runner itself (it runs fixtures in tasks of its own)."""
    coro = task.get_coro()
    module = getattr(getattr(coro, "cr_code", None), "co_filename", "")
    return "anyio" in module or "_pytest" in module


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Add the task-leak check to every anyio test."""
    for item in items:
        if (
            isinstance(item, pytest.Function)
            and item.get_closest_marker("anyio") is not None
            and inspect.iscoroutinefunction(item.obj)
            and "camsdk_no_task_leaks" not in item.fixturenames
        ):
            item.fixturenames.append("camsdk_no_task_leaks")
