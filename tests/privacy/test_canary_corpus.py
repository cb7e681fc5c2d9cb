"""The redaction promise at scale: a camera password never shows, whatever goes wrong.

A deterministic corpus of over 10,000 camera URLs and credentials, each with
its own canary password (two marked halves, ``Cnry...`` and ``Yrnc...``, with
special characters around and between them), is pushed down error paths
that need no network: parsing, unknown options and schemes, malformed ports,
cameras that refuse the password or never answer, HTTP devices (respx) that
answer 401 or 500 or cannot be reached, RTSP to a closed loopback port, and
the ``camsdk`` command. Neither half of a canary may appear in any exception
of the chain (``str``, ``repr``, the formatted traceback), in a camera's
``repr`` or ``url``, in any ``camsdk`` log record, in any audit record or in
the command's output.

Passwords go into URLs percent-encoded (the correct form) and also raw, as a
hurried user pastes them. A raw ``@ / ? #`` in a user name or password makes
the URL ambiguous; camsdk refuses such a URL rather than guess, and shows it
masked. In a raw *query* value, ``&`` and ``#`` end the value by definition
(RFC 3986), so no parser can know what follows belongs to the password: raw
query passwords leave those two out (the encoded forms cover them).

The cheap paths run over the whole corpus; paths that connect run on samples.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import random
import re
import socket
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import camsdk
import camsdk._log
from camsdk import cli
from camsdk._errors import CamError
from camsdk._url import CameraURL
from camsdk.privacy import MemoryAuditSink

pytestmark = pytest.mark.anyio

SEED = 20240601
CORPUS_SIZE = 10_240
FAST = "size=160x120&fps=30&gop=15"
WAIT = 10.0
#: Either half of any canary, in any letter case.
CANARY = re.compile(r"cnry|yrnc", re.IGNORECASE)

SPECIALS = (
    "@", ":", "/", "?", "#", "%", "%40", "+", " ", "é", "密码", "🔑", "&", "=", ";", "\\", "'",
    '"', "%25", "%2F", "!", "$", "*", "[", "]", "~", ",", "\t", "%20", "@@", "://",
)
USERS = ("admin", "root", "user.name", "admin@site", "ops+cam", "Ünïcode", "", "svc_" + "u" * 60)
HOSTS = (
    "cam.local", "192.168.1.64", "10.0.0.5", "[::1]", "[fe80::1%25eth0]", "[2001:db8::7]",
    "camera-01.example.com", "localhost",
)
PORTS = ("", ":554", ":8554", ":80", ":65535")
BAD_PORTS = (":99999", ":abc", ":-1", ":5x4", ":1.5")
PATHS = ("", "/", "/stream1", "/Streaming/Channels/101", "/cam/realmonitor", "/video.mjpg",
         "/live.m3u8")
SCHEMES = ("rtsp", "rtsps", "http", "https", "onvif", "virtual", "nosuch", "RTSP")
QUERY_KEYS = ("password", "token", "pwd", "passwd", "access_token", "api_key", "auth", "secret",
              "user_password", "Password", "TOKEN", "client_secret", "sig")
PLACEMENTS = ("userinfo", "userinfo-raw", "query", "query-raw", "credentials", "both")


# -- the corpus -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One camera URL (and maybe `camsdk.Credentials`) carrying one canary password."""

    index: int
    scheme: str
    username: str
    password: str
    host: str
    port: str
    path: str
    query: str  # options that are not secret: "", "?channel=1" ...
    placement: str  # where the password goes, one of PLACEMENTS
    secret_key: str  # the query key of the query placements

    def url(
        self, *, scheme: str | None = None, host: str | None = None, port: str | None = None,
        path: str | None = None, query: str | None = None,
    ) -> str:
        """The URL, optionally with its scheme, host, port, path or plain query replaced."""
        where = self.placement
        user = quote(self.username, safe="")
        hostport = f"{self.host if host is None else host}{self.port if port is None else port}"
        if where in ("userinfo", "both"):
            netloc = f"{user}:{quote(self.password, safe='')}@{hostport}"
        elif where == "userinfo-raw":
            netloc = f"{self.username}:{self.password}@{hostport}"
        elif self.username and self.index % 2:
            netloc = f"{user}@{hostport}"
        else:
            netloc = hostport
        plain = self.query if query is None else query
        if where == "query":
            plain += f"{'&' if plain else '?'}{self.secret_key}={quote(self.password, safe='')}"
        elif where == "query-raw":
            raw = self.password.replace("&", "").replace("#", "")
            plain += f"{'&' if plain else '?'}{self.secret_key}={raw}"
        return f"{scheme or self.scheme}://{netloc}{self.path if path is None else path}{plain}"

    @property
    def credentials(self) -> camsdk.Credentials | None:
        if self.placement in ("credentials", "both"):
            return camsdk.Credentials(self.username or "admin", self.password)
        return None

    def virtual_url(self, name: str, options: str = "") -> str:
        query = f"?{FAST}&{options}" if options else f"?{FAST}"
        return self.url(scheme="virtual", host=name, port="", path="", query=query)

    def __repr__(self) -> str:  # pytest shows failing cases: say which, not the password
        return f"Case(#{self.index}, {self.placement}, {self.scheme})"


def make_password(rng: random.Random, index: int) -> str:
    first = f"Cnry{index:05d}{rng.randrange(16**4):04x}"
    second = f"Yrnc{index:05d}"

    def specials(most: int) -> str:
        return "".join(rng.choice(SPECIALS) for _ in range(rng.randint(0, most)))

    style = rng.choice(("plain", "specials", "specials", "specials", "unicode", "long", "percent"))
    if style == "plain":
        return first + second
    if style == "specials":
        return specials(3) + first + rng.choice(SPECIALS) + specials(2) + second + specials(3)
    if style == "unicode":
        return rng.choice(("é", "密码", "🔑", "Ω")) + first + rng.choice(("密码", "🔑é")) + second
    if style == "long":
        return first + "x" * rng.randint(200, 2000) + second
    return first + "%40" + second + "%"


def make_case(rng: random.Random, index: int) -> Case:
    password = make_password(rng, index)
    scheme = rng.choice(SCHEMES)
    virtual = scheme == "virtual"
    return Case(
        index=index,
        scheme=scheme,
        username=rng.choice(USERS),
        password=password,
        host=rng.choice(("cam-1", "porch", "x")) if virtual else rng.choice(HOSTS),
        port="" if virtual else rng.choice(PORTS),
        path="" if virtual else rng.choice(PATHS),
        query=rng.choice(("", "?channel=1", "?a=1&b=2")),
        placement=PLACEMENTS[index % len(PLACEMENTS)],
        secret_key=rng.choice(QUERY_KEYS),
    )


@functools.cache
def corpus() -> tuple[Case, ...]:
    rng = random.Random(SEED)
    return tuple(make_case(rng, i) for i in range(CORPUS_SIZE))


def sample(n: int, *, salt: int, placements: Iterable[str] = PLACEMENTS) -> list[Case]:
    allowed = set(placements)
    rng = random.Random(SEED + salt)
    return rng.sample([c for c in corpus() if c.placement in allowed], n)


# -- where a password could show --------------------------------------------------------


def assert_clean(case: Case | str, where: str, text: str) -> None:
    found = CANARY.search(text)
    if found:
        start = max(0, found.start() - 60)
        pytest.fail(f"{case!r}: canary in {where}: ...{text[start:found.end() + 60]!r}")


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception reachable through causes, contexts and groups."""
    seen: dict[int, BaseException] = {}
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen[id(current)] = current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
    return list(seen.values())


def assert_exception_clean(case: Case, exc: BaseException) -> None:
    for link in exception_chain(exc):
        name = type(link).__name__
        assert_clean(case, f"str({name})", str(link))
        assert_clean(case, f"repr({name})", repr(link))
        if isinstance(link, CamError):
            assert_clean(case, f"{name}.url", link.url or "")
    assert_clean(case, "traceback", "".join(traceback.format_exception(exc)))


def assert_camera_clean(case: Case, cam: camsdk.Camera) -> None:
    for where, text in (("repr(cam)", repr(cam)), ("str(cam)", str(cam)), ("cam.url", cam.url),
                        ("driver url", repr(cam._driver.url))):
        assert_clean(case, where, text)


def assert_audit_clean(case: Case, sink: MemoryAuditSink) -> None:
    for record in sink.records:
        assert_clean(case, "audit record", repr(record))


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the ``camsdk`` logger tree, at DEBUG; checked after the test."""
    caplog.set_level(logging.DEBUG, logger="camsdk")
    yield caplog
    for record in caplog.records:
        where = f"log record {record.name}"
        assert_clean("logs", where, record.getMessage())
        assert_clean("logs", where + " exc_text", record.exc_text or "")
    assert_clean("logs", "formatted log", caplog.text)


@contextlib.contextmanager
def forgetting_registered_secrets() -> Iterator[None]:
    """Forget the passwords a case registered for log scrubbing once the case is done.

    `camsdk.open` registers each password it sees so log records are scrubbed
    of it. An application has a handful; ten thousand would make every
    registration re-sort the lot. Forgetting them keeps each case as it is in
    real use (its own password registered) and the corpus quick.
    """
    registry = camsdk._log
    with registry._lock:
        before, snapshot = set(registry._secrets), registry._snapshot
    try:
        yield
    finally:
        with registry._lock:
            registry._secrets.intersection_update(before)
            registry._snapshot = snapshot


def expect_error(case: Case, call: Any, *args: Any, **kwargs: Any) -> BaseException:
    """Run ``call``; it must raise a camsdk error, whose chain must not show the canary."""
    with forgetting_registered_secrets():
        try:
            call(*args, **kwargs)
        except CamError as exc:
            assert_exception_clean(case, exc)
            return exc
    pytest.fail(f"{case!r}: {getattr(call, '__name__', call)} raised nothing")


# -- the corpus itself ------------------------------------------------------------------


def test_the_corpus_has_over_ten_thousand_varied_cases() -> None:
    cases = corpus()
    assert len(cases) >= 10_000
    assert len({c.password for c in cases}) == len(cases)
    assert {c.placement for c in cases} == set(PLACEMENTS)
    passwords = "".join(c.password for c in cases)
    for char in ("@", ":", "/", "?", "#", "%", "%40", "+", " ", "é", "密码", "🔑"):
        assert char in passwords, char
    assert max(len(c.password) for c in cases) > 1000
    assert {"[::1]", "[fe80::1%25eth0]"} <= {c.host for c in cases}
    assert {"password", "token", "pwd"} <= {c.secret_key for c in cases}
    assert any(c.credentials is not None and "@" in c.credentials.username for c in cases)


def test_every_case_carries_its_canary_where_it_says() -> None:
    for case in corpus()[:500]:
        url = case.url()
        in_url = bool(CANARY.search(url))
        assert in_url is (case.placement != "credentials"), case
        assert (case.credentials is not None) is (case.placement in ("credentials", "both"))


# -- parsing and opening, the whole corpus ----------------------------------------------


def test_parsing_never_shows_the_password(logs: pytest.LogCaptureFixture) -> None:
    for case in corpus():
        try:
            parsed = CameraURL.parse(case.url())
        except CamError as exc:
            assert_exception_clean(case, exc)
            continue
        for where, text in (("str", str(parsed)), ("repr", repr(parsed)),
                            ("redacted", parsed.redacted())):
            assert_clean(case, f"{where}(CameraURL)", text)


def test_an_unknown_option_error_never_shows_the_password(
    logs: pytest.LogCaptureFixture,
) -> None:
    for case in corpus():
        error = expect_error(case, camsdk.open, case.url(), credentials=case.credentials, bogus=1)
        assert isinstance(error, camsdk.ConfigurationError)


def test_an_unknown_scheme_error_never_shows_the_password(
    logs: pytest.LogCaptureFixture,
) -> None:
    unknown = 0
    for case in corpus():
        error = expect_error(case, camsdk.open, case.url(scheme="nosuchcam"),
                             credentials=case.credentials)
        unknown += isinstance(error, camsdk.UnknownSchemeError)
    assert unknown > len(corpus()) // 2


def test_a_malformed_port_error_never_shows_the_password(logs: pytest.LogCaptureFixture) -> None:
    for case in corpus():
        bad_port = BAD_PORTS[case.index % len(BAD_PORTS)]
        error = expect_error(case, camsdk.open, case.url(port=bad_port, host="cam.local"),
                             credentials=case.credentials)
        assert isinstance(error, camsdk.ConfigurationError)


async def test_an_opened_camera_never_shows_the_password(logs: pytest.LogCaptureFixture) -> None:
    opened = 0
    for case in corpus()[::2]:
        with forgetting_registered_secrets():
            try:
                cam = camsdk.open(case.url(), credentials=case.credentials)
            except CamError as exc:
                assert_exception_clean(case, exc)
                continue
            try:
                assert_camera_clean(case, cam)
            finally:
                await cam.aclose()
            opened += 1
    assert opened > 1000


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.text(max_size=12),
    suffix=st.text(max_size=12),
    scheme=st.sampled_from(("rtsp", "http", "onvif", "virtual")),
    placement=st.sampled_from(("userinfo", "userinfo-raw", "query", "credentials")),
)
def test_any_text_around_the_canary_is_kept_out_of_errors(
    prefix: str, suffix: str, scheme: str, placement: str
) -> None:
    case = Case(0, scheme, "admin", f"{prefix}Cnry{suffix}Yrnc", "cam", "", "/s", "",
                placement, "token")
    expect_error(case, camsdk.open, case.url(), credentials=case.credentials, bogus=1)


# -- cameras that fail to connect, samples ----------------------------------------------


async def test_a_refused_password_never_shows(logs: pytest.LogCaptureFixture) -> None:
    refused = 0
    for case in sample(300, salt=1):
        sink = MemoryAuditSink()
        insecure = case.index % 2 == 0
        with forgetting_registered_secrets(), anyio.fail_after(WAIT):
            try:
                cam = camsdk.open(
                    case.virtual_url("auth-refused", "fail=auth"),
                    credentials=case.credentials,
                    audit=sink,
                    config={"verify_tls": not insecure},
                )
            except CamError as exc:  # a raw password can make the URL unusable
                assert_exception_clean(case, exc)
                continue
            with pytest.raises(camsdk.AuthenticationError) as info:
                await cam.connect()
            assert_exception_clean(case, info.value)
            assert_camera_clean(case, cam)
            await cam.aclose()
            refused += 1
        assert_audit_clean(case, sink)
        assert bool(sink.records) is insecure  # the tls.insecure record names the camera
    assert refused > 100


async def test_a_camera_that_never_answers_never_shows_the_password(
    logs: pytest.LogCaptureFixture,
) -> None:
    timed_out = 0
    for case in sample(20, salt=2, placements=("userinfo", "credentials", "both")):
        with forgetting_registered_secrets(), anyio.fail_after(WAIT):
            try:
                cam = camsdk.open(
                    case.virtual_url("no-answer", "fail=timeout"),
                    credentials=case.credentials,
                    config={"connect_timeout": 0.01},
                )
            except CamError as exc:  # a raw password can make the URL unusable
                assert_exception_clean(case, exc)
                continue
            with pytest.raises(camsdk.CameraTimeoutError) as info:
                await cam.connect()
            assert_exception_clean(case, info.value)
            assert_camera_clean(case, cam)
            await cam.aclose()
            timed_out += 1
    assert timed_out > 10


async def test_a_denied_principal_never_sees_the_password(logs: pytest.LogCaptureFixture) -> None:
    for case in sample(100, salt=3, placements=("userinfo", "credentials", "both")):
        sink = MemoryAuditSink()
        with forgetting_registered_secrets(), anyio.fail_after(WAIT):
            async with camsdk.open(
                case.virtual_url("denied"),
                credentials=case.credentials,
                principal=camsdk.Principal("stranger"),
                audit=sink,
            ) as cam:
                with pytest.raises(camsdk.AccessDeniedError) as info:
                    await cam.snapshot()
                assert_exception_clean(case, info.value)
                assert_camera_clean(case, cam)
        [record] = sink.records
        assert record["allowed"] is False
        assert_audit_clean(case, sink)


# -- HTTP devices (respx), samples ------------------------------------------------------


def http_case_url(case: Case) -> str:
    scheme = "https" if case.index % 2 else "http"
    return case.url(scheme=scheme, host="cam.local", port="", path="/snapshot.jpg")


def basic_token(case: Case) -> str:
    user = case.username or "admin"
    return base64.b64encode(f"{user}:{case.password}".encode()).decode()


def unauthorized(request: httpx.Request) -> httpx.Response:
    return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="cam"'}, text="denied")


def server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text=f"internal error handling {request.url}")


def unreachable(request: httpx.Request) -> httpx.Response:
    # Foreign errors may quote the URL they failed on, secret query values included.
    raise httpx.ConnectError(f"[Errno 111] Connection refused: {request.url}", request=request)


def slow(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (unauthorized, camsdk.AuthenticationError),
        (server_error, camsdk.CameraProtocolError),
        (unreachable, camsdk.CameraUnreachableError),
        (slow, camsdk.CameraTimeoutError),
    ],
    ids=["401", "500", "connect-error", "read-timeout"],
)
async def test_an_http_device_failure_never_shows_the_password(
    answer: Any, error: type[Exception], logs: pytest.LogCaptureFixture
) -> None:
    cases = sample(50, salt=4, placements=("userinfo", "query", "query-raw", "credentials", "both"))
    failed = 0
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=answer)
        for case in cases:
            with forgetting_registered_secrets(), anyio.fail_after(WAIT):
                try:
                    cam = camsdk.open(http_case_url(case), credentials=case.credentials)
                except CamError as exc:
                    assert_exception_clean(case, exc)
                    continue
                with pytest.raises(error) as info:
                    await cam.connect()
                assert_exception_clean(case, info.value)
                assert_camera_clean(case, cam)
                await cam.aclose()
                failed += 1
            assert basic_token(case) not in logs.text
        assert router.calls.call_count >= failed > 30


# -- RTSP to a closed port, a small sample ----------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_rtsp_to_a_closed_port_never_shows_the_password(
    closed_port: int, logs: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("camsdk.drivers.rtsp")
    refused = 0
    for case in sample(20, salt=5):
        url = case.url(scheme="rtsp", host="127.0.0.1", port=f":{closed_port}", path="/stream")
        with forgetting_registered_secrets(), anyio.fail_after(WAIT):
            try:
                cam = camsdk.open(url, credentials=case.credentials,
                                  config={"connect_timeout": 2.0})
            except CamError as exc:
                assert_exception_clean(case, exc)
                continue
            with pytest.raises(camsdk.CameraConnectionError) as info:
                await cam.connect()
            assert_exception_clean(case, info.value)
            assert_camera_clean(case, cam)
            await cam.aclose()
            refused += 1
    assert refused > 5


# -- the camsdk command, a sample -------------------------------------------------------


def cli_url(case: Case) -> str:
    kind = case.index % 3
    if kind == 0:
        return case.virtual_url("cli-auth", "fail=auth")
    if kind == 1:
        return case.url(scheme="nosuchcam")
    return case.url(host="cam.local", port=BAD_PORTS[case.index % len(BAD_PORTS)])


def test_the_command_never_prints_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
) -> None:
    for case in sample(200, salt=6):
        argv = ["info", cli_url(case)]
        if case.credentials is not None:
            monkeypatch.setenv("CAMSDK_PASSWORD", case.password)
            argv += ["--user", case.credentials.username]
        with forgetting_registered_secrets():
            status = cli.main(argv)
        out, err = capsys.readouterr()
        assert status != 0, case
        assert_clean(case, "stdout", out)
        assert_clean(case, "stderr", err)
