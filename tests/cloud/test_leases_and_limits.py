"""Leases of live sessions, the account's rate limiter and coalescing, and login flows.

Time is a fake clock here (`FakeTime`): an hour of leases or a penalty of a
minute passes in milliseconds and exactly, with no sleeps used to wait.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any, ClassVar

import anyio
import pytest

import camsdk
from camsdk import ConfigurationError, Discontinuity, MediaPacket, RateLimitedError
from camsdk.cloud import (
    Challenge,
    Coalescer,
    LeasedSource,
    LeaseTerms,
    LoginFlow,
    MemoryTokenStore,
    RateLimiter,
    TokenSet,
    retry_after,
)
from camsdk.driver import StreamInfo
from camsdk.drivers.virtual import VirtualDriver

pytestmark = pytest.mark.anyio

INFO = StreamInfo(codec="h264", width=16, height=16, fps=15.0, time_base=Fraction(1, 90000))


class FakeTime:
    """Virtual time for ``participants`` tasks: it jumps to the next wake-up once all sleep."""

    def __init__(self, participants: int = 1) -> None:
        self.now = 0.0
        self.participants = participants
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._order += 1
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), self._order, future))
        self._advance()
        await future

    def done(self) -> None:
        """A participant left: the others need not wait for it any more."""
        self.participants -= 1
        self._advance()

    def _advance(self) -> None:
        if not self._sleepers or len(self._sleepers) < self.participants:
            return
        wake, _, future = heapq.heappop(self._sleepers)
        self.now = max(self.now, wake)
        future.set_result(None)


class Ticking:
    """A packet source that yields one packet per fake second, for ``seconds``."""

    live = True
    finite = False
    info = INFO

    def __init__(self, time: FakeTime, seconds: int) -> None:
        self._time = time
        self._seconds = seconds
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[MediaPacket]:
        try:
            for n in range(self._seconds):
                await self._time.sleep(1.0)
                if self.closed:
                    return
                yield MediaPacket(b"\x00\x00\x00\x01\x65", n * 90000, n * 90000,
                                  INFO.time_base, True)
        finally:
            self._time.done()

    async def aclose(self) -> None:
        # Closing this source is the last act of whoever closes it (the lease keeper
        # ending a refused lease, or the test's cleanup): it leaves the clock.
        if not self.closed:
            self.closed = True
            self._time.done()


async def test_a_lease_is_extended_before_every_expiry_for_an_hour() -> None:
    time = FakeTime(participants=2)
    extends: list[float] = []

    async def extend(terms: LeaseTerms) -> LeaseTerms:
        extends.append(time.now)
        return LeaseTerms(lasts=300.0, handle=len(extends))

    stops: list[Any] = []

    async def stop(terms: LeaseTerms) -> None:
        stops.append(terms.handle)

    inner = Ticking(time, 3600)
    source = LeasedSource(inner, LeaseTerms(lasts=300.0, handle=0), extend=extend, stop=stop,
                          renew_before=60.0, clock=time.clock, sleep=time.sleep)
    count = 0
    try:
        # A live session that ends (here: the simulated hour is over) asks for a new one.
        with pytest.raises(camsdk.StreamEndedError):
            async for _ in source:
                count += 1
    finally:
        await source.aclose()
    # Every 240 s (300 s leases renewed 60 s early) over the hour: 15 extensions.
    assert extends == [240.0 * k for k in range(1, 16)]
    assert count == 3600, "no packet was lost to an expiry"
    assert stops == [15] and inner.closed


async def test_a_lease_that_cannot_be_extended_ends_to_be_regenerated() -> None:
    time = FakeTime(participants=2)

    async def refuse(terms: LeaseTerms) -> None:
        return None

    source = LeasedSource(Ticking(time, 3600), LeaseTerms(lasts=300.0), extend=refuse,
                          renew_before=60.0, clock=time.clock, sleep=time.sleep)
    try:
        with pytest.raises(camsdk.StreamEndedError, match="would not extend"):
            async for _ in source:
                pass
    finally:
        await source.aclose()
    assert 239.0 <= time.now <= 241.0


async def test_a_hard_maximum_ends_the_session_whatever_the_extensions() -> None:
    time = FakeTime(participants=2)

    async def extend(terms: LeaseTerms) -> LeaseTerms:
        return LeaseTerms(lasts=300.0)

    source = LeasedSource(Ticking(time, 3600), LeaseTerms(lasts=300.0), extend=extend,
                          hard_max=600.0, clock=time.clock, sleep=time.sleep)
    try:
        with pytest.raises(camsdk.StreamEndedError, match="maximum"):
            async for _ in source:
                pass
    finally:
        await source.aclose()
    assert 599.0 <= time.now <= 601.0


class LeasedCamera(VirtualDriver):
    """A virtual camera whose stream is a one-second lease the vendor never extends."""

    schemes: ClassVar[tuple[str, ...]] = ("leased",)
    leases = 0

    async def open_stream(self, profile: str) -> LeasedSource:
        LeasedCamera.leases += 1
        inner = await super().open_stream(profile)
        return LeasedSource(inner, LeaseTerms(lasts=1.0), extend=None, renew_before=0.0)


async def test_consumers_see_a_regenerated_lease_as_a_discontinuity_not_an_end() -> None:
    camsdk.register_driver("leased", LeasedCamera)
    LeasedCamera.leases = 0
    config = {"backoff_base": 0.01, "backoff_cap": 0.02}
    with anyio.fail_after(15):
        async with camsdk.open("leased://lease1?size=160x120&fps=30&gop=15",
                               config=config) as cam, cam.stream() as stream:
            async with stream.packets(audio=False) as packets:
                last_dts = -1
                markers = 0
                async for item in packets:
                    if isinstance(item, Discontinuity):
                        if item.reason == "reconnect":
                            markers += 1
                            if markers == 2:
                                break
                        continue
                    assert item.dts is not None and item.dts > last_dts
                    last_dts = item.dts
    assert LeasedCamera.leases >= 2


# -- rate limits -------------------------------------------------------------------------


async def test_the_bucket_spaces_requests_instead_of_refusing_them() -> None:
    time = FakeTime()
    limiter = RateLimiter(rate=2.0, burst=2, clock=time.clock, sleep=time.sleep)
    for _ in range(6):
        await limiter.acquire()
    # Two at once, then one every half second.
    assert time.now == pytest.approx(2.0)
    assert limiter.waits == 4


async def test_commands_keep_their_own_spacing() -> None:
    time = FakeTime()
    limiter = RateLimiter(rate=100.0, burst=100, spacing={"GenerateStream": 5.0},
                          clock=time.clock, sleep=time.sleep)
    await limiter.acquire("GenerateStream")
    await limiter.acquire("GetDevices")
    assert time.now == 0.0
    await limiter.acquire("GenerateStream")
    assert time.now == pytest.approx(5.0)


async def test_a_slow_down_answer_holds_every_request_of_the_account() -> None:
    time = FakeTime()
    limiter = RateLimiter(rate=100.0, burst=100, clock=time.clock, sleep=time.sleep)
    limiter.penalize(retry_after({"retry-after": "30"}))
    with pytest.raises(RateLimitedError) as info:
        await limiter.acquire(max_wait=10.0)
    assert info.value.retry_after == pytest.approx(30.0)
    assert time.now == 0.0, "refused at once: no hot retry, no waiting past the bound"
    await limiter.acquire(max_wait=60.0)
    assert time.now == pytest.approx(30.0)


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after({"retry-after": "12"}) == 12.0
    assert retry_after({}) == 60.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}, default=5.0) == 5.0


async def test_identical_requests_in_flight_are_made_once() -> None:
    coalescer: Coalescer[list[str]] = Coalescer()
    calls = 0
    gate = asyncio.Event()

    async def device_list() -> list[str]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return ["porch", "garden"]

    waiting = [asyncio.ensure_future(coalescer.run("devices", device_list)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiting)
    assert calls == 1 and coalescer.shared == 9
    assert all(r == ["porch", "garden"] for r in results)


# -- login flows -------------------------------------------------------------------------


class TwoStepLogin:
    """A password, then an SMS code: the shape of most consumer clouds."""

    def __init__(self, *, account: str, credentials: Any = None, **options: Any) -> None:
        self.account = account
        self.closed = False

    async def begin(self) -> TokenSet | Challenge:
        return Challenge(kind="sms", destination="+1 ***-***-0123", message="code sent")

    async def answer(self, code: str) -> TokenSet | Challenge:
        if code != "123456":
            raise camsdk.AuthenticationError("wrong code")
        return TokenSet(scheme="acmecloud", account=self.account, access_token="a",
                        refresh_token="r")

    async def aclose(self) -> None:
        self.closed = True


async def test_a_login_waits_on_its_challenge_then_stores_the_tokens() -> None:
    store = MemoryTokenStore()
    steps = TwoStepLogin(account="home")
    flow = LoginFlow("acmecloud", "home", steps, store)
    await flow.start()
    assert not flow.done and flow.challenge is not None and flow.challenge.kind == "sms"
    assert await store.load("acmecloud", "home") is None
    with pytest.raises(camsdk.AuthenticationError):
        await flow.complete("000000")
    assert not flow.done
    await flow.complete("123456")
    assert flow.done and flow.challenge is None and steps.closed
    stored = await store.load("acmecloud", "home")
    assert stored is not None and stored.refresh_token is not None


async def test_a_flow_not_waiting_for_a_code_refuses_one() -> None:
    flow = LoginFlow("acmecloud", "home", TwoStepLogin(account="home"), MemoryTokenStore())
    with pytest.raises(ConfigurationError):
        await flow.complete("123456")


async def test_login_refuses_a_scheme_without_a_cloud_login() -> None:
    with pytest.raises(ConfigurationError, match="no cloud login"):
        await camsdk.cloud.login("virtual", account="x", store=MemoryTokenStore())


