"""Specification of the socket guard in `camsdk.testing.pytest_plugin`.

Tests may reach loopback and AF_UNIX only: any other destination is refused
before the real connect runs, and the test that tried fails. The refused
cases run in an inner pytest session (pytester, in process); the real socket
calls of that session are replaced by a recording stand-in that reaches
nothing but loopback, so the tests also prove the guard never hands a refused
destination to the real call.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.selector_events
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from camsdk.testing.pytest_plugin import BlockedConnectionError, SocketGuard

pytest_plugins = ["pytester"]

# Documentation addresses (RFC 5737 / RFC 3849): routed nowhere, reached by nobody.
REMOTE = "198.51.100.7"
REMOTE_V6 = "2001:db8::7"
WS_DISCOVERY = "239.255.255.250"

INNER_CONFTEST = """
pytest_plugins = ["camsdk.testing.pytest_plugin"]
"""


class RealCalls:
    """Stands in for the real ``socket.socket`` calls while an inner session runs.

    Records every destination that reached it. Loopback goes on to the real
    call; anything else gets ``ConnectionRefusedError`` without touching the
    network, as if the host had refused.
    """

    def __init__(self) -> None:
        self.reached: list[Any] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, index in (("connect", 0), ("connect_ex", 0), ("sendto", -1)):
            real = getattr(socket.socket, name)
            monkeypatch.setattr(socket.socket, name, self._wrap(real, index))

    def _wrap(self, real: Callable[..., Any], index: int) -> Callable[..., Any]:
        def call(sock: socket.socket, *args: Any) -> Any:
            address = args[index]
            self.reached.append(address)
            if sock.family == socket.AF_UNIX or address[0] in ("127.0.0.1", "::1", "localhost"):
                return real(sock, *args)
            raise ConnectionRefusedError("stand-in: remote destinations are never contacted")

        return call

    def hosts(self) -> set[str]:
        return {a[0] for a in self.reached if isinstance(a, tuple)}


@pytest.fixture
def real_calls(monkeypatch: pytest.MonkeyPatch) -> RealCalls:
    calls = RealCalls()
    calls.install(monkeypatch)
    return calls


@pytest.fixture
def inner(
    pytester: pytest.Pytester, real_calls: RealCalls, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    # Only the camsdk plugin: loading every installed plugin costs a second or two a run.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


def run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "--strict-markers", "-q")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server
    server.close()


# -- refused destinations ----------------------------------------------------------------


def test_a_connect_beyond_loopback_fails_the_test_and_never_reaches_the_host(
    inner: pytest.Pytester, real_calls: RealCalls
) -> None:
    result = run(inner, f"""
import socket

def test_phones_home():
    with socket.socket() as s:
        s.connect(("{REMOTE}", 80))
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*socket guard*{REMOTE}:80 refused*allow_connect*"])
    assert REMOTE not in real_calls.hosts()


def test_a_test_that_swallows_the_refusal_still_fails(
    inner: pytest.Pytester, real_calls: RealCalls
) -> None:
    result = run(inner, f"""
import contextlib, socket

def test_hides_the_error():
    with socket.socket() as s, contextlib.suppress(OSError):
        s.connect_ex(("{REMOTE}", 443))
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{REMOTE}:443 refused*"])
    assert REMOTE not in real_calls.hosts()


def test_the_refusal_is_a_permission_error_raised_at_the_call(inner: pytest.Pytester) -> None:
    result = run(inner, f"""
import socket
import pytest
from camsdk.testing.pytest_plugin import BlockedConnectionError

def test_sees_the_error():
    with socket.socket() as s, pytest.raises(PermissionError) as info:
        s.connect(("{REMOTE}", 80))
    assert isinstance(info.value, BlockedConnectionError)
""")
    # The call raised where it was made (no DID NOT RAISE, no failed assert), and the
    # test still fails because of the attempt.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{REMOTE}:80 refused*"])
    result.stdout.no_fnmatch_line("*DID NOT RAISE*")
    result.stdout.no_fnmatch_line("*AssertionError*")


def test_ipv6_destinations_are_refused(inner: pytest.Pytester, real_calls: RealCalls) -> None:
    result = run(inner, f"""
import socket

def test_v6():
    with socket.socket(socket.AF_INET6) as s:
        s.connect(("{REMOTE_V6}", 80, 0, 0))
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*[[]{REMOTE_V6}[]]:80 refused*"])
    assert REMOTE_V6 not in real_calls.hosts()


def test_multicast_datagrams_are_refused(inner: pytest.Pytester, real_calls: RealCalls) -> None:
    result = run(inner, f"""
import socket

def test_ws_discovery_probe():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"<Probe/>", ("{WS_DISCOVERY}", 3702))
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*datagram to {WS_DISCOVERY}:3702 refused*"])
    assert WS_DISCOVERY not in real_calls.hosts()


def test_host_names_are_refused_before_they_are_resolved(
    inner: pytest.Pytester, real_calls: RealCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[Any] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return real_getaddrinfo("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = run(inner, """
import socket

def test_sync_name():
    socket.create_connection(("camera.example", 554), timeout=1)
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*camera.example:554 refused*"])
    assert "camera.example" not in lookups


def test_asyncio_connections_are_refused_before_they_are_resolved(
    inner: pytest.Pytester, real_calls: RealCalls
) -> None:
    result = run(inner, f"""
import asyncio

def test_open_connection_by_name():
    async def main():
        await asyncio.open_connection("camera.example", 80)
    asyncio.run(main())

def test_open_connection_by_address():
    async def main():
        await asyncio.open_connection("{REMOTE}", 80)
    asyncio.run(main())

def test_datagram_endpoint():
    async def main():
        await asyncio.get_running_loop().create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("{WS_DISCOVERY}", 3702))
    asyncio.run(main())
""")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random([
        "*camera.example:80 refused*",
        f"*{REMOTE}:80 refused*",
        f"*{WS_DISCOVERY}:3702 refused*",
    ])
    assert not {REMOTE, WS_DISCOVERY} & real_calls.hosts()


# -- allowed destinations ----------------------------------------------------------------


def test_loopback_is_allowed(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    with socket.create_connection(("localhost", port), timeout=5):
        pass


def test_af_unix_is_allowed(tmp_path: Any) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)


def test_recorded_connections_lists_loopback_connects(
    listener: socket.socket, recorded_connections: list[tuple[int, str, int | None]]
) -> None:
    port = listener.getsockname()[1]
    assert recorded_connections == []
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    assert recorded_connections == [(socket.AF_INET, "127.0.0.1", port)]


@pytest.mark.anyio
async def test_recorded_connections_lists_asyncio_loopback_connects(
    listener: socket.socket, recorded_connections: list[tuple[int, str, int | None]]
) -> None:
    port = listener.getsockname()[1]
    with anyio.fail_after(5):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()
    assert (socket.AF_INET, "127.0.0.1", port) in recorded_connections


def test_a_declared_destination_is_let_through(
    inner: pytest.Pytester, real_calls: RealCalls
) -> None:
    result = run(inner, f"""
import socket
import pytest

@pytest.mark.allow_connect("{REMOTE}:80", "[{REMOTE_V6}]:443", "{WS_DISCOVERY}")
def test_declared(recorded_connections):
    for family, address in ((socket.AF_INET, ("{REMOTE}", 80)),
                            (socket.AF_INET6, ("{REMOTE_V6}", 443, 0, 0))):
        with socket.socket(family) as s, pytest.raises(ConnectionRefusedError):
            s.connect(address)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(ConnectionRefusedError):
            s.sendto(b"probe", ("{WS_DISCOVERY}", 3702))
    assert [c[1] for c in recorded_connections] == ["{REMOTE}", "{REMOTE_V6}", "{WS_DISCOVERY}"]
""")
    result.assert_outcomes(passed=1)
    # The guard handed the declared destinations to the real calls.
    assert {REMOTE, REMOTE_V6, WS_DISCOVERY} <= real_calls.hosts()


def test_a_declaration_covers_only_its_port(inner: pytest.Pytester, real_calls: RealCalls) -> None:
    result = run(inner, f"""
import socket
import pytest

@pytest.mark.allow_connect("{REMOTE}:80")
def test_other_port():
    with socket.socket() as s:
        s.connect(("{REMOTE}", 8080))
""")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{REMOTE}:8080 refused*"])
    assert REMOTE not in real_calls.hosts()


# The inner session runs in this process, so this test's own guard sees the name too.
@pytest.mark.allow_connect("camera.example:554")
def test_a_declared_host_name_lets_its_resolved_address_through(
    inner: pytest.Pytester, real_calls: RealCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "camera.example":  # resolves to a remote address, without DNS
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (REMOTE, int(port)))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result = run(inner, """
import asyncio
import asyncio.base_events
import asyncio.selector_events
import socket
import pytest

@pytest.mark.allow_connect("camera.example:554")
def test_by_name():
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("camera.example", 554), timeout=1)
    async def main():
        await asyncio.open_connection("camera.example", 554)
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(main())
""")
    result.assert_outcomes(passed=1)
    assert REMOTE in real_calls.hosts()


def test_the_allow_connect_marker_is_registered(inner: pytest.Pytester) -> None:
    result = inner.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.allow_connect(*destinations)*"])


# -- the guard object --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("10.0.0.5", False),
        ("192.168.1.64", False),
        ("fe80::1%eth0", False),
        (WS_DISCOVERY, False),
        ("ff02::c", False),
        ("camera.local", False),
    ],
)
def test_only_loopback_is_allowed_by_default(host: str, allowed: bool) -> None:
    assert SocketGuard().permits(host, 80) is allowed


def test_a_refused_check_records_and_raises_without_calling_anything() -> None:
    guard = SocketGuard()
    with pytest.raises(BlockedConnectionError):
        guard.check("connection", socket.AF_INET, (REMOTE, 80))
    assert guard.connections == [(socket.AF_INET, REMOTE, 80)]
    assert len(guard.violations) == 1


def test_uninstalling_puts_back_what_was_there() -> None:
    patched = [
        (socket.socket, ("connect", "connect_ex", "sendto", "sendmsg")),
        (socket, ("create_connection",)),
        (asyncio.base_events.BaseEventLoop, ("create_connection", "create_datagram_endpoint")),
        (asyncio.selector_events.BaseSelectorEventLoop, ("sock_connect",)),
    ]

    def state() -> list[Any]:
        return [owner.__dict__.get(name) for owner, names in patched for name in names]

    before = state()
    guard = SocketGuard()
    guard.install()
    assert state() != before
    guard.uninstall()
    assert state() == before


def test_a_bad_declaration_is_an_error() -> None:
    with pytest.raises(ValueError, match="bad port"):
        SocketGuard(["camera.example:http"])
