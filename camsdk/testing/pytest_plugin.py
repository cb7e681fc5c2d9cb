"""Pytest fixtures that fail a test which leaks a camera, stream, thread, task or socket,
or which talks to anything but this machine.

Enable in your own suite with ``pytest_plugins = ["camsdk.testing.pytest_plugin"]``.
The ``camsdk_leak_check`` fixture is autouse: after each test it checks that

- every `camsdk.Camera` and `camsdk.Hub` created during the test was closed,
  and no stream session is still open,
- no ``camsdk-*`` worker thread (reader, decoder) is still alive,
- no TCP/UDP socket opened during the test is still open (needs psutil),
- for async (anyio) tests: no asyncio task started by the test is still pending.

Waiting for threads to finish uses ``Thread.join`` with a bound, never sleeps.

The ``camsdk_socket_guard`` fixture is autouse too: for the duration of each
test (and of the function-scoped fixtures set up after it) it sees every
outbound connection Python code opens, through ``socket.socket.connect``,
``connect_ex``, ``sendto`` and ``sendmsg`` (UDP datagrams, multicast
included), ``socket.create_connection``, and asyncio's ``create_connection``,
``create_datagram_endpoint`` and ``sock_connect``. Loopback destinations
(127.0.0.0/8, ::1, ``localhost``; the unspecified address, which reaches this
host too) and ``AF_UNIX`` sockets are always allowed. Any other destination,
multicast (WS-Discovery's 239.255.255.250) included, is refused *before* the
real call is made: the call raises `BlockedConnectionError` (a
`PermissionError`) and the test fails, even when the code under test swallows
that error. A test declares the destinations it needs with
``@pytest.mark.allow_connect("host:port", "[v6addr]:port", "host", ...)``
(a host alone allows every port). Host names are checked before they are
resolved, so a refused name never reaches a connect. The
``recorded_connections`` fixture lists every destination attempted,
``(family, host, port)``, so a test can assert it opened none.

A test that drives a native client with its own connection pool (Ray's gRPC
channels to a local test cluster: they stay open across tests by design)
declares it with ``@pytest.mark.loopback_connection_pool("ray")``: the leak
check then ignores sockets *connected to a loopback peer* that the test left
open; every other check (cameras, sessions, threads, tasks, any other
socket, the guard) still runs.

Limits: only connections made through Python's ``socket`` module are seen.
FFmpeg (PyAV) opens its sockets in native code, so an ``rtsp://`` or HLS
stream read by the media pipeline is invisible to the guard, and so is name
resolution (``getaddrinfo`` asks the resolver from C). Connections made by
session-scoped fixtures, or by threads after the test ended, are not checked.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.selector_events
import contextlib
import contextvars
import errno
import functools
import inspect
import ipaddress
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, NoReturn

import pytest

__all__ = [
    "BlockedConnectionError",
    "Destination",
    "SocketGuard",
    "anyio_backend",
    "camsdk_leak_check",
    "camsdk_no_task_leaks",
    "camsdk_socket_guard",
    "recorded_connections",
]

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


_POOL_MARKER = "loopback_connection_pool"


def _to_loopback(entry: tuple[Any, ...]) -> bool:
    """Whether a `_inet_sockets` entry is connected to a loopback peer."""
    raddr = entry[2]
    if not raddr:
        return False
    try:
        address = ipaddress.ip_address(raddr[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return bool((mapped or address).is_loopback)


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
    if request.node.get_closest_marker(_POOL_MARKER) is not None:
        leaked_sockets = {s for s in leaked_sockets if not _to_loopback(s)}
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


# -- socket guard -------------------------------------------------------------------------

#: One destination a test tried to reach: address family, host, port (``None`` for
#: ``AF_UNIX`` paths and for declared hosts without a port).
Destination = tuple[int, str, int | None]

_MARKER = "allow_connect"
_MISSING = object()
_GUARD_KEY = pytest.StashKey["SocketGuard"]()


class BlockedConnectionError(PermissionError):
    """The socket guard refused a connection to a destination the test did not declare."""


def _normalise_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.split("%", 1)[0].rstrip(".")


def _parse_allowed(spec: str) -> tuple[str, int | None]:
    """``"host:port"``, ``"[v6]:port"``, ``"host"`` or ``"host:*"`` -> (host, port or None)."""
    text = spec.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a bare host name or a bare IPv6 address
        host, port_text = text, ""
    if not host:
        raise ValueError(f"allow_connect: {spec!r} names no host")
    if port_text in ("", "*"):
        return _normalise_host(host), None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"allow_connect: bad port in {spec!r}")
    return _normalise_host(host), int(port_text)


@functools.lru_cache(maxsize=1024)
def _is_local(host: str) -> bool:
    """Whether ``host`` (normalised) never leaves this machine."""
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost: it could resolve anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _split_address(family: int, address: Any) -> tuple[str, int | None] | None:
    """(host, port) of an inet socket address; ``None`` for families the guard ignores."""
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
        host = address[0]
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        port = address[1] if len(address) > 1 and isinstance(address[1], int) else None
        return str(host), port
    return None


class SocketGuard:
    """Records outbound connections and refuses those outside the allowed set.

    Install with `install`, remove with `uninstall` (the autouse fixture
    ``camsdk_socket_guard`` does both around every test). Thread-safe.
    """

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed: frozenset[tuple[str, int | None]] = frozenset(
            _parse_allowed(spec) for spec in allowed
        )
        #: Every destination attempted, allowed or not, in order. Connects are listed
        #: each time; datagrams once per destination.
        self.connections: list[Destination] = []
        #: Why each refused attempt was refused.
        self.violations: list[str] = []
        #: Set once the violations were reported, so a test fails once, not twice.
        self.reported = False
        self._datagram_seen: set[Destination] = set()
        self._lock = threading.Lock()
        self._saved: list[tuple[Any, str, Any]] = []
        # Set while a connection to a declared host *name* is being made, so the
        # connect to the address it resolved to is let through: (name, port).
        self._approved: contextvars.ContextVar[tuple[str, int | None] | None] = (
            contextvars.ContextVar(f"camsdk_socket_guard_{id(self)}", default=None)
        )

    # -- decisions -------------------------------------------------------------------------

    def declared(self, name: str, port: int | None) -> bool:
        """Whether the test declared ``name`` (normalised) with this port or any port."""
        return (name, port) in self.allowed or (name, None) in self.allowed

    def permits(self, host: str, port: int | None) -> bool:
        """Whether a connection to ``host``:``port`` is allowed (loopback or declared)."""
        name = _normalise_host(host)
        if _is_local(name) or self.declared(name, port):
            return True
        # Inside a connection to a declared name: the address it resolved to.
        approved = self._approved.get()
        return approved is not None and approved[1] in (None, port)

    def _refuse(self, what: str, host: str, port: int | None) -> NoReturn:
        shown = f"[{host}]" if ":" in host else host
        target = f"{shown}:{port}" if port is not None else shown
        message = (
            f"camsdk socket guard: {what} to {target} refused: tests may reach only "
            f"loopback and AF_UNIX; declare it with @pytest.mark.allow_connect({target!r})"
        )
        with self._lock:
            self.violations.append(message)
        raise BlockedConnectionError(errno.EACCES, message)

    def check(self, what: str, family: int, address: Any, *, datagram: bool = False) -> None:
        """Record a connect or datagram to ``address``; raise if it is not allowed."""
        if family == getattr(socket, "AF_UNIX", None):
            path = address.decode("utf-8", "replace") if isinstance(address, bytes) else address
            self._record((family, str(path), None), datagram)
            return
        split = _split_address(family, address)
        if split is None:
            return  # netlink, packet sockets ...: not network destinations
        host, port = split
        self._record((family, host, port), datagram)
        if not self.permits(host, port):
            self._refuse(what, host, port)

    def check_name(
        self, what: str, family: int, host: Any, port: Any
    ) -> contextlib.AbstractContextManager[None]:
        """Before resolving a host name: refuse it, or approve the connects it resolves to."""
        if not isinstance(host, str | bytes):
            return contextlib.nullcontext()  # no host (sock=...) or a list: checked at connect
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        number = port if isinstance(port, int) else None
        if isinstance(port, str) and port.isdigit():
            number = int(port)
        normalised = _normalise_host(name)
        if _is_local(normalised):
            return contextlib.nullcontext()  # localhost: the addresses it resolves to are checked
        try:
            ipaddress.ip_address(normalised)
        except ValueError:
            pass
        else:
            return contextlib.nullcontext()  # an address: the connect itself is checked
        if not self.declared(normalised, number):
            self._record((family or socket.AF_UNSPEC, name, number), False)
            self._refuse(what, name, number)
        return self._approve(normalised, number)

    @contextlib.contextmanager
    def _approve(self, name: str, port: int | None) -> Iterator[None]:
        token = self._approved.set((name, port))
        try:
            yield
        finally:
            self._approved.reset(token)

    def _record(self, destination: Destination, datagram: bool) -> None:
        with self._lock:
            if datagram:
                if destination in self._datagram_seen:
                    return
                self._datagram_seen.add(destination)
            self.connections.append(destination)

    # -- patching --------------------------------------------------------------------------

    def _patch(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        previous = owner.__dict__.get(name, _MISSING)
        current = getattr(owner, name)
        setattr(owner, name, make(current))
        self._saved.append((owner, name, previous))

    def install(self) -> None:
        """Patch the socket and asyncio entry points (see the module docstring)."""
        guard = self

        def make_connect(real: Any) -> Any:
            @functools.wraps(real)
            def connect(sock: socket.socket, address: Any) -> Any:
                guard.check("connection", sock.family, address)
                return real(sock, address)

            return connect

        def make_sendto(real: Any) -> Any:
            # sendto(data, address) or sendto(data, flags, address)
            @functools.wraps(real)
            def sendto(sock: socket.socket, data: Any, *args: Any) -> Any:
                if args:
                    guard.check("datagram", sock.family, args[-1], datagram=True)
                return real(sock, data, *args)

            return sendto

        def make_sendmsg(real: Any) -> Any:
            # sendmsg(buffers[, ancdata[, flags[, address]]])
            @functools.wraps(real)
            def sendmsg(sock: socket.socket, *args: Any) -> Any:
                if len(args) > 3 and args[3] is not None:
                    guard.check("datagram", sock.family, args[3], datagram=True)
                return real(sock, *args)

            return sendmsg

        def make_create_connection(real: Any) -> Any:
            @functools.wraps(real)
            def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
                host, port = address[0], address[1]
                with guard.check_name("connection", socket.AF_UNSPEC, host, port):
                    return real(address, *args, **kwargs)

            return create_connection

        def make_loop_connection(real: Any) -> Any:
            @functools.wraps(real)
            async def create_connection(
                loop: Any, factory: Any, host: Any = None, port: Any = None, *args: Any,
                **kwargs: Any,
            ) -> Any:
                with guard.check_name("connection", kwargs.get("family", 0), host, port):
                    return await real(loop, factory, host, port, *args, **kwargs)

            return create_connection

        def make_datagram_endpoint(real: Any) -> Any:
            @functools.wraps(real)
            async def create_datagram_endpoint(
                loop: Any, factory: Any, local_addr: Any = None, remote_addr: Any = None,
                *args: Any, **kwargs: Any,
            ) -> Any:
                host, port = remote_addr[:2] if isinstance(remote_addr, tuple) else (None, None)
                with guard.check_name("datagram endpoint", kwargs.get("family", 0), host, port):
                    return await real(loop, factory, local_addr, remote_addr, *args, **kwargs)

            return create_datagram_endpoint

        def make_sock_connect(real: Any) -> Any:
            @functools.wraps(real)
            async def sock_connect(loop: Any, sock: socket.socket, address: Any) -> Any:
                host, port = address[:2] if isinstance(address, tuple) else (None, None)
                with guard.check_name("connection", sock.family, host, port):
                    return await real(loop, sock, address)

            return sock_connect

        self._patch(socket.socket, "connect", make_connect)
        self._patch(socket.socket, "connect_ex", make_connect)
        self._patch(socket.socket, "sendto", make_sendto)
        self._patch(socket.socket, "sendmsg", make_sendmsg)
        self._patch(socket, "create_connection", make_create_connection)
        base = asyncio.base_events.BaseEventLoop
        self._patch(base, "create_connection", make_loop_connection)
        self._patch(base, "create_datagram_endpoint", make_datagram_endpoint)
        selector = asyncio.selector_events.BaseSelectorEventLoop
        self._patch(selector, "sock_connect", make_sock_connect)

    def uninstall(self) -> None:
        """Undo `install` (in reverse order, so stacked guards unwind cleanly)."""
        while self._saved:
            owner, name, previous = self._saved.pop()
            if previous is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(owner, name)
            else:
                setattr(owner, name, previous)

    def report(self) -> str:
        """The refused attempts, one per line (empty when there were none)."""
        with self._lock:
            return "\n".join(dict.fromkeys(self.violations))


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``allow_connect`` marker."""
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(*destinations): let the test connect to these 'host:port' (or 'host') "
        "destinations besides loopback and AF_UNIX (camsdk socket guard)",
    )
    config.addinivalue_line(
        "markers",
        f"{_POOL_MARKER}(name): a native client's pooled connections to loopback peers "
        "(e.g. Ray's gRPC channels) may outlive the test (camsdk leak check)",
    )


def _declared(node: pytest.Item) -> list[str]:
    specs: list[str] = []
    for marker in node.iter_markers(_MARKER):
        for spec in marker.args:
            if not isinstance(spec, str):
                raise TypeError(f"allow_connect takes 'host:port' strings, not {spec!r}")
            specs.append(spec)
    return specs


@pytest.fixture(autouse=True)
def camsdk_socket_guard(request: pytest.FixtureRequest) -> Iterator[SocketGuard]:
    """Refuse (and fail the test on) connections beyond loopback unless declared."""
    guard = SocketGuard(_declared(request.node))
    request.node.stash[_GUARD_KEY] = guard
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
    if guard.violations and not guard.reported:
        guard.reported = True
        pytest.fail(guard.report(), pytrace=False)


@pytest.fixture
def recorded_connections(camsdk_socket_guard: SocketGuard) -> list[Destination]:
    """Every destination the test tried to reach so far: ``(family, host, port)``."""
    return camsdk_socket_guard.connections


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test itself (not only its teardown) when it tried to leave the machine."""
    try:
        return (yield)
    finally:
        guard = item.stash.get(_GUARD_KEY, None)
        if guard is not None and guard.violations and not guard.reported:
            guard.reported = True
            pytest.fail(guard.report(), pytrace=False)
