"""Camera URLs: parsing, validation and redaction."""

import pytest

from camsdk import ConfigurationError
from camsdk._url import CameraURL, redact_text


def test_parse_splits_every_part() -> None:
    url = CameraURL.parse("rtsp://admin:s3cret@cam.local:8554/stream1?transport=tcp")
    assert (url.scheme, url.host, url.port, url.path) == ("rtsp", "cam.local", 8554, "/stream1")
    assert url.username == "admin"
    assert url.password == "s3cret"
    assert url.options == {"transport": "tcp"}


def test_str_and_repr_redact_the_password() -> None:
    url = CameraURL.parse("rtsp://admin:s3cret@cam.local/stream1")
    assert str(url) == "rtsp://admin:***@cam.local/stream1"
    assert "s3cret" not in repr(url)


def test_unsafe_str_keeps_the_password_for_transports() -> None:
    url = CameraURL.parse("rtsp://admin:p%40ss@cam.local/s")
    assert url.password == "p@ss"
    assert url.unsafe_str() == "rtsp://admin:p%40ss@cam.local/s"


def test_ipv6_hosts_keep_their_brackets() -> None:
    url = CameraURL.parse("rtsp://[::1]:554/live")
    assert url.host == "::1"
    assert url.netloc_host == "[::1]:554"


def test_secret_query_values_are_redacted() -> None:
    url = CameraURL.parse("http://cam/snap.jpg?user=admin&password=hunter22&token=abc")
    text = url.redacted()
    assert "hunter22" not in text and "abc" not in text
    assert "user=admin" in text


@pytest.mark.parametrize(
    "bad",
    ["", "no-scheme", "rtsp://", "rtsp://host:99999/x", "rtsp://ho\nst/x", "1tp://host/"],
)
def test_malformed_urls_raise_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        CameraURL.parse(bad)


def test_malformed_url_errors_never_carry_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        CameraURL.parse("rtsp://admin:canary-pw@host:99999/x")
    assert "canary-pw" not in str(info.value)


def test_redact_text_scrubs_urls_inside_free_text() -> None:
    text = "failed to open rtsp://u:topsecret@10.0.0.2/s (timeout)"
    assert "topsecret" not in redact_text(text)


def test_redact_text_scrubs_listed_secrets_in_every_encoding() -> None:
    text = "auth failed for p@ss and p%40ss"
    assert redact_text(text, ("p@ss",)) == "auth failed for *** and ***"
