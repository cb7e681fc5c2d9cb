"""``camsdk login nest://<project>`` in a terminal (a real subprocess), and
``camsdk drivers --egress``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import anyio
import pytest

from camsdk.cli import main
from camsdk.cloud import FileTokenStore
from camsdk.testing import NestCloud

SECRET_ENV = "CAMSDK_TEST_NEST_SECRET"


async def run_login(cloud: NestCloud, store: Path, answer: str | None) -> tuple[int, str, str]:
    """Run the command; answer its prompt with ``answer`` (None: the consent redirect)."""
    options = cloud.options()
    args = [sys.executable, "-m", "camsdk", "login", cloud.hub_url, "--store", str(store),
            "--user", cloud.client_id, "--password-env", SECRET_ENV,
            "--option", f"token_url={options['token_url']}",
            "--option", f"authorize_url={options['authorize_url']}"]
    env = {**os.environ, SECRET_ENV: cloud.client_secret,
           "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        with anyio.fail_after(60):
            lines = []
            while not lines or not lines[-1].startswith("  open: "):
                line = (await proc.stdout.readline()).decode()
                assert line, "the command ended before printing the address"
                lines.append(line.rstrip("\n"))
            url = lines[-1].removeprefix("  open: ")
            reply = cloud.consent(url) if answer is None else answer
            proc.stdin.write(reply.encode() + b"\n")
            await proc.stdin.drain()
            proc.stdin.close()
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, "\n".join(lines) + out.decode(), err.decode()


@pytest.mark.anyio
async def test_login_in_a_terminal_stores_the_tokens(cloud: NestCloud, tmp_path: Path) -> None:
    code, out, err = await run_login(cloud, tmp_path / "tokens", None)
    assert code == 0, err
    assert "nest asks for oauth" in out and "logged in: nest account camsdk-sim-project" in out
    tokens = await FileTokenStore(tmp_path / "tokens").load("nest", cloud.project_id)
    assert tokens is not None and tokens.extra["client_id"] == cloud.client_id
    assert cloud.client_secret not in out + err


@pytest.mark.anyio
async def test_an_empty_answer_abandons_the_login_with_an_error(
    cloud: NestCloud, tmp_path: Path,
) -> None:
    code, _, err = await run_login(cloud, tmp_path / "tokens", "")
    assert code == 2 and "abandoned" in err
    assert await FileTokenStore(tmp_path / "tokens").load("nest", cloud.project_id) is None


def test_drivers_egress_prints_each_drivers_declared_hosts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["drivers", "--egress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    nest = [line for line in lines if line.startswith("nest://")]
    assert len(nest) == 2  # the camera driver and the hub
    assert all("smartdevicemanagement.googleapis.com" in line and "*.dropcam.com" in line
               for line in nest)
    assert any(line.startswith("rtsp://") and "camera URL's host only" in line
               for line in lines)
