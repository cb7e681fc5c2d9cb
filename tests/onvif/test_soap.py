"""The SOAP client: WS-Security, clock skew, HTTP Digest fallback, faults, hardening."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from camsdk import (
    AuthenticationError,
    CameraConfig,
    CameraProtocolError,
    CameraTimeoutError,
    CameraUnreachableError,
    Credentials,
    DeviceError,
    UnsupportedCapabilityError,
)
from camsdk._url import CameraURL
from camsdk.drivers.onvif._endpoint import open_session
from camsdk.drivers.onvif._envelope import username_token
from camsdk.drivers.onvif._options import OnvifOptions
from camsdk.drivers.onvif._soap import SoapSession

from ._helpers import DEVICE, PASSWORD, USER, SoapReplay, clock_values, fixture_text

pytestmark = pytest.mark.anyio

INFO = "/onvif/device_service"


@pytest.fixture
async def session() -> AsyncIterator[SoapSession]:
    url = CameraURL.parse("onvif://cam.example.invalid:8080")
    soap = open_session(url, Credentials(USER, PASSWORD), CameraConfig(), OnvifOptions())
    yield soap
    await soap.aclose()


async def device_information(session: SoapSession) -> str:
    answer = await session.call(
        session.device_url,
        "GetDeviceInformation",
        "<tds:GetDeviceInformation/>",
        action="http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation",
    )
    return next(c.text for c in answer if c.tag.endswith("Model")) or ""


def created_of(request: httpx.Request) -> datetime:
    match = re.search(rb"<wsu:Created>([^<]+)</wsu:Created>", request.content)
    assert match is not None, "no WS-Security token"
    return datetime.fromisoformat(match.group(1).decode().replace("Z", "+00:00"))


def test_password_digest_is_base64_sha1_of_nonce_created_password() -> None:
    nonce = bytes(range(16))
    created = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    header = username_token("admin", "pw", created, nonce)
    expected = base64.b64encode(
        hashlib.sha1(nonce + b"2024-05-01T10:00:00Z" + b"pw").digest()
    ).decode()
    assert f">{expected}</wsse:Password>" in header
    assert f">{base64.b64encode(nonce).decode()}</wsse:Nonce>" in header
    assert "<wsu:Created>2024-05-01T10:00:00Z</wsu:Created>" in header
    assert ">pw<" not in header


async def test_tokens_are_stamped_in_a_device_clock_hours_off(
    soap: SoapReplay, session: SoapSession
) -> None:
    offset = timedelta(hours=-7, minutes=-13)
    soap.on(
        INFO,
        "GetSystemDateAndTime",
        fixture_text("hik/GetSystemDateAndTime.xml", **clock_values(offset)),
    )
    soap.on(INFO, "GetDeviceInformation", "hik/GetDeviceInformation.xml")
    await session.sync_clock()
    assert await device_information(session) == "DS-2CD2143G2-I"
    created = created_of(soap.calls[-1][2])
    assert abs(created - (datetime.now(UTC) + offset)) < timedelta(seconds=5)
    clock_request = soap.calls[0][2].content
    assert b"UsernameToken" not in clock_request, "GetSystemDateAndTime goes unauthenticated"


async def test_an_auth_fault_resyncs_the_clock_once_and_retries(
    soap: SoapReplay, session: SoapSession
) -> None:
    answers = iter(
        [
            httpx.Response(400, text=fixture_text("faults/NotAuthorized.xml")),
            httpx.Response(200, text=fixture_text("hik/GetDeviceInformation.xml")),
        ]
    )
    soap.on(INFO, "GetDeviceInformation", lambda request: next(answers))
    soap.on(
        INFO,
        "GetSystemDateAndTime",
        fixture_text("hik/GetSystemDateAndTime.xml", **clock_values(timedelta(hours=3))),
    )
    assert await device_information(session) == "DS-2CD2143G2-I"
    assert soap.operations() == [
        "GetDeviceInformation",
        "GetSystemDateAndTime",
        "GetDeviceInformation",
    ]


async def test_wrong_credentials_are_an_authentication_error(
    soap: SoapReplay, session: SoapSession
) -> None:
    soap.on(INFO, "GetDeviceInformation", "faults/NotAuthorized.xml", status=400)
    soap.on(
        INFO, "GetSystemDateAndTime", fixture_text("hik/GetSystemDateAndTime.xml", **clock_values())
    )
    with pytest.raises(AuthenticationError, match="NotAuthorized") as info:
        await device_information(session)
    assert PASSWORD not in str(info.value)
    assert soap.operations().count("GetDeviceInformation") == 2


def _digest_device(request: httpx.Request) -> httpx.Response:
    """Answers 401 to anything but a valid HTTP Digest header (firmware in digest-only mode)."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Digest "):
        return httpx.Response(
            401,
            text="Unauthorized",
            headers={
                "WWW-Authenticate": 'Digest realm="IP Camera", qop="auth", nonce="abc123", '
                "algorithm=MD5"
            },
        )
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', header[7:]))
    ha1 = hashlib.md5(f"{USER}:IP Camera:{PASSWORD}".encode()).hexdigest()
    ha2 = hashlib.md5(f"POST:{fields['uri']}".encode()).hexdigest()
    expected = hashlib.md5(
        f"{ha1}:abc123:{fields['nc']}:{fields['cnonce']}:auth:{ha2}".encode()
    ).hexdigest()
    assert fields["response"] == expected
    assert b"UsernameToken" not in request.content, "digest mode drops WS-Security"
    return httpx.Response(200, text=fixture_text("hik/GetDeviceInformation.xml"))


async def test_a_device_that_demands_http_digest_gets_it(
    soap: SoapReplay, session: SoapSession
) -> None:
    soap.on(INFO, "GetDeviceInformation", _digest_device)
    assert await device_information(session) == "DS-2CD2143G2-I"
    assert session.auth_mode == "digest"
    assert await device_information(session) == "DS-2CD2143G2-I"
    # The first call learns (WS-Security refused, then httpx's challenge round trip);
    # the challenge is cached, so the second call is a single request.
    assert soap.operations().count("GetDeviceInformation") == 4


async def test_a_challenge_with_an_html_page_still_switches_to_digest(
    soap: SoapReplay, session: SoapSession
) -> None:
    def html_challenge(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization", "").startswith("Digest "):
            return _digest_device(request)
        return httpx.Response(
            401,
            text="<html><body>401 Unauthorized</body></html>",
            headers={"WWW-Authenticate": 'Digest realm="IP Camera", qop="auth", nonce="abc123"'},
        )

    soap.on(INFO, "GetDeviceInformation", html_challenge)
    assert await device_information(session) == "DS-2CD2143G2-I"
    assert session.auth_mode == "digest"


async def test_basic_only_firmware_gets_basic(soap: SoapReplay, session: SoapSession) -> None:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def basic_device(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="cam"'})
        return httpx.Response(200, text=fixture_text("hik/GetDeviceInformation.xml"))

    soap.on(INFO, "GetDeviceInformation", basic_device)
    assert await device_information(session) == "DS-2CD2143G2-I"
    assert session.auth_mode == "basic"


async def test_401_without_a_challenge_is_an_authentication_error(
    soap: SoapReplay, session: SoapSession
) -> None:
    soap.on(INFO, "GetDeviceInformation", httpx.Response(401, text="no"))
    with pytest.raises(AuthenticationError, match="refused the credentials"):
        await device_information(session)


@pytest.mark.parametrize(
    ("fixture", "status", "error", "code"),
    [
        ("faults/ActionNotSupported.xml", 500, UnsupportedCapabilityError, None),
        ("faults/InvalidArgVal.xml", 400, DeviceError, "NoProfile"),
        ("faults/soap11.xml", 500, DeviceError, "Server"),
    ],
)
async def test_faults_become_typed_errors(
    soap: SoapReplay,
    session: SoapSession,
    fixture: str,
    status: int,
    error: type[Exception],
    code: str | None,
) -> None:
    soap.on(INFO, "GetDeviceInformation", fixture, status=status)
    with pytest.raises(error) as info:
        await device_information(session)
    if code is not None:
        assert isinstance(info.value, DeviceError) and info.value.code == code
    assert "REDACTED" not in str(info.value)


async def test_a_fault_answered_with_http_200_is_still_a_fault(
    soap: SoapReplay, session: SoapSession
) -> None:
    soap.on(INFO, "GetDeviceInformation", "faults/InvalidArgVal.xml")
    with pytest.raises(DeviceError, match="InvalidArgVal/NoProfile"):
        await device_information(session)


@pytest.mark.parametrize(
    "fixture",
    ["hostile/billion_laughs.xml", "hostile/external_entity.xml", "hostile/external_dtd.xml"],
)
async def test_hostile_answers_are_refused_without_any_other_request(
    soap: SoapReplay, session: SoapSession, fixture: str
) -> None:
    soap.on(INFO, "GetDeviceInformation", fixture)
    attacker = soap.router.route(host="attacker.invalid")
    with pytest.raises(CameraProtocolError, match="refused XML construct"):
        await device_information(session)
    assert not attacker.called
    assert len(soap.router.calls) == 1


async def test_an_oversized_answer_is_refused_by_its_length(
    soap: SoapReplay, session: SoapSession
) -> None:
    session.max_bytes = 4096
    soap.on(INFO, "GetDeviceInformation", httpx.Response(200, content=b"<a>" + b"x" * 8192))
    with pytest.raises(CameraProtocolError, match="exceeds the 4096-byte cap"):
        await device_information(session)


async def test_an_oversized_answer_is_refused_while_streaming(
    soap: SoapReplay, session: SoapSession
) -> None:
    session.max_bytes = 4096

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield b"<a>" * 1024

    soap.on(INFO, "GetDeviceInformation", httpx.Response(200, content=endless()))
    with pytest.raises(CameraProtocolError, match="exceeds the 4096-byte cap"):
        await device_information(session)


async def test_redirects_are_not_followed(soap: SoapReplay, session: SoapSession) -> None:
    soap.on(
        INFO,
        "GetDeviceInformation",
        httpx.Response(302, headers={"Location": "http://evil.invalid/steal"}),
    )
    elsewhere = soap.router.route(host="evil.invalid")
    with pytest.raises(CameraProtocolError, match="HTTP 302"):
        await device_information(session)
    assert not elsewhere.called


async def test_an_html_error_page_is_a_protocol_error(
    soap: SoapReplay, session: SoapSession
) -> None:
    soap.on(INFO, "GetDeviceInformation", httpx.Response(500, text="<html><body>oops"))
    with pytest.raises(CameraProtocolError, match="unusable answer"):
        await device_information(session)


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.ConnectTimeout("slow"), CameraTimeoutError),
        (httpx.ConnectError("refused"), CameraUnreachableError),
    ],
)
async def test_transport_failures_are_typed(
    soap: SoapReplay, session: SoapSession, failure: Exception, error: type[Exception]
) -> None:
    soap.router.post(DEVICE + INFO).mock(side_effect=failure)
    with pytest.raises(error):
        await device_information(session)
