"""`DeviceAuth` Digest: stale nonces answered again (not a wrong password), ``nc`` counting up."""

from __future__ import annotations

import re
from collections.abc import Callable

import anyio
import httpx
import pytest

from camsdk.driver import AuthenticationError, Credentials, DeviceAuth
from camsdk.testing import HttpDevice, Response

from ._helpers import client_for

pytestmark = pytest.mark.anyio

CREDS = Credentials("admin", "pw-Digest-1")


def _field(header: str, name: str) -> str:
    match = re.search(rf'{name}="?([^",]*)"?', header)
    assert match is not None, f"no {name} in {header}"
    return match.group(1)


def _challenge(nonce: str, *, stale: bool = False) -> httpx.Response:
    extra = ", stale=true" if stale else ""
    return httpx.Response(401, headers={"WWW-Authenticate": (
        f'Digest realm="cam", qop="auth", nonce="{nonce}", algorithm=MD5{extra}')})


class ScriptedDevice:
    """Answers each request with the next scripted response; records what was sent."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self._answers = list(answers)
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self._answers.pop(0)(request)


def _fixed(response: httpx.Response) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: response


async def _get(device: ScriptedDevice, auth: DeviceAuth, times: int = 1) -> list[int]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(device), auth=auth,
                                 base_url="http://cam") as client:
        return [(await client.get("/ISAPI/System/status")).status_code for _ in range(times)]


async def test_a_stale_nonce_is_answered_again_with_the_new_one() -> None:
    device = ScriptedDevice(_fixed(_challenge("n1")), _fixed(_challenge("n2", stale=True)),
                            _fixed(httpx.Response(200)))
    auth = DeviceAuth("admin", "pw")
    assert await _get(device, auth) == [200]
    last = device.sent[-1].headers["authorization"]
    assert _field(last, "nonce") == "n2" and _field(last, "nc") == "00000001"
    assert auth.stale_retries == 1


async def test_a_fresh_signature_refused_is_final() -> None:
    device = ScriptedDevice(_fixed(_challenge("n1")), _fixed(_challenge("n2")))
    assert await _get(device, DeviceAuth("admin", "wrong")) == [401]
    assert len(device.sent) == 2  # asked once, answered once: no second guess


async def test_a_device_that_is_always_stale_is_answered_a_bounded_number_of_times() -> None:
    answers = [_fixed(_challenge("n0"))] + [
        _fixed(_challenge(f"n{i}", stale=True)) for i in range(1, 10)]
    device = ScriptedDevice(*answers)
    assert await _get(device, DeviceAuth("admin", "pw")) == [401]
    assert len(device.sent) == 2 + DeviceAuth.MAX_STALE


async def test_a_reused_nonce_counts_up_per_request() -> None:
    device = ScriptedDevice(_fixed(_challenge("n1")), *[_fixed(httpx.Response(200))] * 3)
    assert await _get(device, DeviceAuth("admin", "pw"), times=3) == [200, 200, 200]
    signed = [r.headers["authorization"] for r in device.sent[1:]]
    assert [_field(h, "nonce") for h in signed] == ["n1"] * 3
    assert [_field(h, "nc") for h in signed] == ["00000001", "00000002", "00000003"]
    assert len({_field(h, "cnonce") for h in signed}) == 3


async def test_a_reused_nonce_refused_without_stale_is_answered_once_with_the_fresh_one() -> None:
    device = ScriptedDevice(_fixed(_challenge("n1")), _fixed(httpx.Response(200)),
                            _fixed(_challenge("n2")), _fixed(httpx.Response(200)))
    assert await _get(device, DeviceAuth("admin", "pw"), times=2) == [200, 200]
    assert _field(device.sent[-1].headers["authorization"], "nonce") == "n2"


async def test_rfc_7616_sha_256_example_is_signed_as_published(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from camsdk import _digest_auth as _digest

    monkeypatch.setattr(_digest.secrets, "token_hex",
                        lambda n: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    challenge = httpx.Response(401, headers=[
        ("WWW-Authenticate", 'Digest realm="http-auth@example.org", qop="auth, auth-int", '
         'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
         'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'),
        ("WWW-Authenticate", 'Digest realm="http-auth@example.org", qop="auth, auth-int", '
         'algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
         'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')])
    device = ScriptedDevice(_fixed(challenge), _fixed(httpx.Response(200)))
    async with httpx.AsyncClient(transport=httpx.MockTransport(device),
                                 auth=DeviceAuth("Mufasa", "Circle of Life")) as client:
        await client.get("http://www.example.org/dir/index.html")
    header = device.sent[-1].headers["authorization"]
    assert "algorithm=SHA-256" in header  # the strongest offered
    assert _field(header, "response") == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")


async def test_against_a_device_an_expired_nonce_costs_no_failed_login() -> None:
    auth = DeviceAuth("admin", "pw-Digest-1")
    async with (
        HttpDevice(auth="digest", username="admin", password="pw-Digest-1") as device,
        client_for(device, auth=auth) as client,
    ):
        device.route("GET", "/status", Response(200, b"ok"))
        with anyio.fail_after(20):
            await client.get("/status")
            # Others' unauthenticated requests push our nonce out of the device's memory.
            async with httpx.AsyncClient(base_url=device.url) as stranger:
                for _ in range(300):
                    await stranger.get("/status")
            answer = await client.get("/status")
    assert answer.status == 200
    assert device.failed_logins == 0
    assert auth.stale_retries == 1


async def test_against_a_device_requests_reuse_the_nonce_without_new_challenges() -> None:
    async with (
        HttpDevice(auth="digest", username="admin", password="pw-Digest-1") as device,
        client_for(device, credentials=CREDS) as client,
    ):
        device.route("GET", "/status", Response(200, b"ok"))
        with anyio.fail_after(10):
            for _ in range(5):
                await client.get("/status")
    assert len(device.requests) == 6  # one unauthenticated request asked for the challenge
    assert device.failed_logins == 0


async def test_against_a_device_a_wrong_password_is_one_failed_login() -> None:
    async with (
        HttpDevice(auth="digest", username="admin", password="pw-Digest-1") as device,
        client_for(device, credentials=Credentials("admin", "wrong-pw")) as client,
    ):
        device.route("GET", "/status", Response(200, b"ok"))
        with anyio.fail_after(10), pytest.raises(AuthenticationError):
            await client.get("/status")
    assert device.failed_logins == 1
