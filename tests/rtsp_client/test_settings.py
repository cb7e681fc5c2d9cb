"""`RtspSettings` is checked before any I/O; secrets stay out of every printed form."""

from __future__ import annotations

import pytest

from camsdk._errors import ConfigurationError
from camsdk._rtsp import RtspSettings, RtspUpstream


@pytest.mark.parametrize(("url", "match"), [
    ("rtsp://admin:pw@cam/x", "must not carry credentials"),
    ("rtsp://admin@cam/x", "must not carry credentials"),
    ("http://cam/x", "rtsp or rtsps"),
    ("rtsp:///x", "no host"),
    ("rtsp://cam:99999/x", "usable"),
    ("rtsp://cam/a b", "spaces"),
])
def test_unusable_urls_are_configuration_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        RtspSettings(url)
    assert "pw" not in str(info.value)


@pytest.mark.parametrize("kwargs", [
    {"transport": "quic"},
    {"request_timeout": 0},
    {"max_redirects": 11},
    {"password": "x"},
    {"user_agent": "a\r\nb"},
    {"username": 'a"b', "password": "x"},
])
def test_bad_options_are_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        RtspSettings("rtsp://cam/x", **kwargs)  # type: ignore[arg-type]


def test_the_password_stays_out_of_reprs() -> None:
    settings = RtspSettings("rtsps://cam/x", username="u", password="hunter2-secret")
    assert "hunter2" not in repr(settings) and "hunter2" not in repr(RtspUpstream(settings))
    assert settings.origin.port == 322 and settings.scheme == "rtsps"
