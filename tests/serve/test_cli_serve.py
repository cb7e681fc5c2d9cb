"""``camsdk serve site.toml`` as an owner runs it: a process that serves the page over TLS
(a generated certificate whose fingerprint it prints) and stops cleanly on SIGINT."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest

from camsdk.serve._tls import certificate_fingerprint

from ._helpers import OWNER_HASH, OWNER_PASSWORD

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _site(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f"""
[server]
bind = "127.0.0.1"
port = {port}
tls = "self-signed"

[owner]
password_hash = "{OWNER_HASH}"

[storage]
data_dir = "data"

[[cameras]]
name = "porch"
url = "virtual://cli-porch?size=160x120&fps=10"
""", "utf-8")
    return path


async def test_camsdk_serve_runs_the_gateway_over_tls_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "camsdk", "serve", str(_site(tmp_path, port))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path.cwd(),
    )
    try:
        assert process.stdout is not None
        with anyio.fail_after(60):
            first = await anyio.to_thread.run_sync(process.stdout.readline)
            second = await anyio.to_thread.run_sync(process.stdout.readline)
        assert first.strip() == f"camsdk gateway: owner page at https://127.0.0.1:{port}/"
        printed = second.split("fingerprint: ", 1)[1].strip()
        cert = (tmp_path / "data" / "tls-cert.pem").read_bytes()
        assert printed == certificate_fingerprint(cert)

        context = ssl.create_default_context(cadata=cert.decode())
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}",
                                     verify=context) as client:
            page = await client.get("/")
            assert page.status_code == 200 and "strict-transport-security" in page.headers
            login = await client.post("/owner/api/login", json={"password": OWNER_PASSWORD})
            assert login.status_code == 200
            assert "secure" in login.headers["set-cookie"].lower()
    finally:
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(30):
            code = await anyio.to_thread.run_sync(process.wait)
        stderr = process.stderr.read() if process.stderr else ""
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
    assert code in (0, 130), stderr  # 130: the conventional status after SIGINT
    assert "Traceback" not in stderr
    logs = list((tmp_path / "data" / "audit").glob("audit-*.jsonl"))
    assert logs and b'"event":"gateway.stop"' in logs[0].read_bytes()
