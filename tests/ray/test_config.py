"""The fleet config file: what it accepts and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from camsdk import ConfigurationError
from camsdk.ray import load_fleet_config

SITE = """
[fleet]
name = "site-a"
node_labels = { "camsdk.io/role" = "camera" }

[[cameras]]
name = "door"
url = "rtsp://127.0.0.1:8554/door"
username = "viewer"
password_env = "DOOR_PASSWORD"
labels = { site = "a" }
"""


def test_a_site_file_loads_with_its_cameras_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    config = load_fleet_config(path)
    assert config.namespace == "camsdk-site-a"
    assert config.requirements(config.camera("door")) == {"camsdk.io/role": "camera",
                                                          "site": "a"}


def test_a_password_in_the_file_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="password_env"):
        load_fleet_config({"cameras": [{"name": "x", "url": "virtual://x", "password": "hunter2"}]})


def test_the_refusal_does_not_quote_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_fleet_config({"cameras": [{"name": "x", "url": "virtual://x", "password": "hunter2"}]})
    assert "hunter2" not in str(caught.value)


def test_two_cameras_with_one_name_are_refused() -> None:
    cams = [{"name": "x", "url": "virtual://a"}, {"name": "x", "url": "virtual://b"}]
    with pytest.raises(ConfigurationError, match="twice"):
        load_fleet_config({"cameras": cams})


def test_an_unknown_camera_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no camera"):
        load_fleet_config({}).camera("ghost")


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_fleet_config(tmp_path / "absent.toml")
