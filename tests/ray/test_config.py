"""The fleet config file: what it accepts and what it refuses."""

from __future__ import annotations

import json
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


def test_the_fleet_command_runs_a_site_file_up_and_down(
    ray_cluster: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from camsdk.cli import main

    path = tmp_path / "site.toml"
    path.write_text(
        '[fleet]\nname = "cli"\nnode_labels = { "camsdk.io/role" = "camera" }\n'
        '[[cameras]]\nname = "yard"\nurl = "virtual://yard?size=160x120&fps=5"\n'
        '[[cameras]]\nname = "gate"\nurl = "virtual://gate?size=160x120&fps=5"\n'
        'labels = { site = "nowhere" }\n'
    )
    assert main(["fleet", "up", str(path), "--timeout", "5"]) == 1  # "gate" has no node
    out = capsys.readouterr()
    assert "yard" in out.out and "not placed" in out.err and "gate" in out.err
    assert main(["fleet", "status", str(path), "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)["cameras"]) == ["yard"]
    assert main(["fleet", "down", str(path)]) == 0


def test_importing_camsdk_never_imports_ray() -> None:
    import subprocess
    import sys

    code = ("import sys, camsdk, camsdk.cli; camsdk.cli.build_parser(); "
            "sys.exit('ray' in sys.modules or 'camsdk.ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
