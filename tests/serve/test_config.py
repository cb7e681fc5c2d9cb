"""The site file: validated, secrets by reference only, loopback unless TLS."""

from __future__ import annotations

from pathlib import Path

import pytest

from camsdk import ConfigurationError
from camsdk.cli import main
from camsdk.serve import load_site_config

MINIMAL = """
[owner]
password_hash_env = "TEST_OWNER_HASH"

[storage]
data_dir = "state"

[[cameras]]
name = "porch"
url = "rtsp://192.168.1.20/stream1"
username = "viewer"
password_env = "PORCH_PASSWORD"
record = true
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, "utf-8")
    return path


def test_a_minimal_site_file_loads_with_paths_relative_to_it(tmp_path: Path) -> None:
    config = load_site_config(_write(tmp_path, MINIMAL))
    assert config.storage.data_dir == tmp_path / "state"
    assert config.server.bind == "127.0.0.1" and config.server.loopback
    assert [c.name for c in config.cameras] == ["porch"]


def test_camera_passwords_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = load_site_config(_write(tmp_path, MINIMAL)).cameras[0]
    monkeypatch.setenv("PORCH_PASSWORD", "s3cret-pw")
    credentials = camera.credentials()
    assert credentials is not None and credentials.password.get_secret_value() == "s3cret-pw"
    monkeypatch.delenv("PORCH_PASSWORD")
    with pytest.raises(ConfigurationError, match="PORCH_PASSWORD is not set"):
        camera.credentials()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (MINIMAL.replace('password_env = "PORCH_PASSWORD"', 'password = "hunter22"'),
         "never in the site file"),
        (MINIMAL.replace("rtsp://192.168.1.20", "rtsp://admin:hunter22@192.168.1.20"),
         "the URL carries a password"),
        (MINIMAL.replace('password_hash_env = "TEST_OWNER_HASH"', 'password = "hunter22"'),
         "never in the site file"),
        (MINIMAL + '[server]\nbind = "0.0.0.0"\n', "requires tls"),
        (MINIMAL.replace("192.168.1.20", "203.0.113.7"), "outside the declared egress"),
        (MINIMAL + '[areas]\nstreet = ["porch", "drive"]\n', "unknown cameras: drive"),
        (MINIMAL + "[surprise]\nkey = 1\n", "surprise"),
        (MINIMAL.replace('name = "porch"', 'name = "Porch Cam"'), "lower-case"),
    ],
    ids=["camera password", "password in URL", "owner password", "public bind without TLS",
         "camera outside egress", "area with unknown camera", "unknown table", "bad name"],
)
def test_a_site_file_breaking_a_rule_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        load_site_config(_write(tmp_path, text))
    assert "hunter22" not in str(caught.value)


def test_binding_beyond_loopback_is_accepted_with_tls(tmp_path: Path) -> None:
    text = MINIMAL + '[server]\nbind = "0.0.0.0"\ntls = "self-signed"\n'
    assert not load_site_config(_write(tmp_path, text)).server.loopback


def test_serve_check_validates_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    assert main(["serve", "--check", str(_write(tmp_path, MINIMAL))]) == 0
    assert "1 camera(s)" in capsys.readouterr().out
    bad = _write(tmp_path, MINIMAL + '[server]\nbind = "0.0.0.0"\n')
    assert main(["serve", "--check", str(bad)]) == 2
    assert "requires tls" in capsys.readouterr().err


def test_hash_password_prints_a_hash_the_owner_check_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from camsdk.serve import verify_password

    monkeypatch.setenv("NEW_OWNER_PASSWORD", "a long passphrase")
    assert main(["serve", "--hash-password", "--password-env", "NEW_OWNER_PASSWORD"]) == 0
    stored = capsys.readouterr().out.strip()
    assert stored.startswith("scrypt$") and "a long passphrase" not in stored
    assert verify_password("a long passphrase", stored)
    assert not verify_password("a long passphrasE", stored)
