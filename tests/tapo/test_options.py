"""The ``tapo://`` URL and its options: checked before any I/O, secrets kept out of URLs."""

from __future__ import annotations

import pytest

import camsdk
from camsdk import Capability, ConfigurationError, Credentials
from camsdk.testing import TapoDevice

from .conftest import CREDS, FAST, STREAM_PASSWORD, STREAM_USER, options

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        pytest.param("tapo://", {}, id="no-host"),
        pytest.param("tapo://cam.local/stream1", {}, id="a-path"),
        pytest.param("tapo://cam.local?stream_user=viewer", {}, id="user-without-password"),
        pytest.param("tapo://cam.local?stream_password_env=TAPO_PW", {}, id="env-without-user"),
        pytest.param("tapo://cam.local?stream_credentials=viewer:pw", {}, id="creds-in-url"),
        pytest.param("tapo://cam.local?fingerprint=abc", {}, id="short-fingerprint"),
        pytest.param("tapo://cam.local?stream_password_env=A%20B&stream_user=v", {},
                     id="bad-env-name"),
        pytest.param("tapo://cam.local?channel=1", {}, id="unknown-option"),
    ],
)
def test_a_wrong_url_or_option_is_a_configuration_error_before_any_io(
    url: str, kwargs: dict[str, object]
) -> None:
    with pytest.raises(ConfigurationError):
        camsdk.open(url, credentials=CREDS, **kwargs)


def test_a_missing_environment_variable_is_named_not_guessed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TAPO_TEST_STREAM_PW", raising=False)
    with pytest.raises(ConfigurationError) as info:
        camsdk.open("tapo://cam.local?stream_user=viewer&stream_password_env=TAPO_TEST_STREAM_PW",
                    credentials=CREDS)
    assert "TAPO_TEST_STREAM_PW" in str(info.value)


async def test_the_camera_account_from_an_environment_variable_opens_the_stream(
    camera: TapoDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPO_TEST_STREAM_PW", STREAM_PASSWORD)
    url = f"{camera.url}&stream_user={STREAM_USER}&stream_password_env=TAPO_TEST_STREAM_PW"
    async with camsdk.open(url, credentials=CREDS, config=FAST) as cam:
        assert cam.supports(Capability.STREAM)
        snap = await cam.snapshot()
        assert STREAM_PASSWORD not in repr(cam) and STREAM_PASSWORD not in cam.url
    assert snap.source == "stream"


async def test_a_login_that_is_not_admin_serves_as_the_camera_account_too(
    legacy_camera: TapoDevice,
) -> None:
    legacy_camera.username, legacy_camera.password = STREAM_USER, STREAM_PASSWORD
    creds = Credentials(STREAM_USER, STREAM_PASSWORD)
    async with camsdk.open(legacy_camera.url, credentials=creds, config=FAST) as cam:
        assert cam.info.extra["camera_account"] == "configured"
        assert cam.supports(Capability.STREAM | Capability.EVENTS)


async def test_the_rtsp_port_comes_from_the_device_when_it_reports_one() -> None:
    from .conftest import device

    async with device(report_rtsp_port=True) as sim:
        url = f"tapo://127.0.0.1:{sim.port}?onvif_port={sim.onvif_port}"
        async with camsdk.open(url, **options()) as cam:
            assert cam.info.extra["rtsp_port"] == str(sim.rtsp_port)
            await cam.snapshot()


async def test_without_a_reported_port_rtsp_is_554(camera: TapoDevice) -> None:
    url = f"tapo://127.0.0.1:{camera.port}?onvif_port={camera.onvif_port}"
    async with camsdk.open(url, **options()) as cam:
        assert cam.info.extra["rtsp_port"] == "554"


async def test_the_sub_profile_is_stream2(camera: TapoDevice) -> None:
    async with camsdk.open(camera.url, **options()) as cam:
        assert [(p.name, p.token) for p in cam.info.profiles] == [("main", "stream1"),
                                                                 ("sub", "stream2")]
        async with cam.stream(profile="stream2") as stream:
            assert stream.info.width > 0
    assert camera.rtsp is not None
    assert any(path.startswith("/stream2") for method, path in camera.rtsp.requests
               if method == "DESCRIBE")
