"""Start and stop a throwaway ``nats-server -js`` on 127.0.0.1 (tests and benchmarks).

Each instance gets a free port, its own temporary JetStream store, and a
config file written here (optional user/password or token, optional
``max_payload``). `stop` is graceful (JetStream flushes its store), `start`
again reuses the port and the store, so a restart keeps the stream.
Readiness is the server's own "Server is ready" log line, awaited with a
bound; nothing sleeps.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections import deque
from pathlib import Path

_CANDIDATES = ("nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server")


def find_nats_server() -> str | None:
    """Path of the nats-server binary, or None when it is not installed."""
    for name in _CANDIDATES:
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path:
            return path
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """One nats-server process with JetStream; `start`, `stop`, `restart`, `close`."""

    def __init__(
        self,
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        max_payload: int | None = None,
    ) -> None:
        binary = find_nats_server()
        if binary is None:
            raise FileNotFoundError("nats-server is not installed (apt-get install nats-server)")
        self.binary = binary
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="camsdk-nats-"))
        lines = [
            f"listen: 127.0.0.1:{self.port}",
            f'jetstream {{ store_dir: "{self.workdir / "js"}", max_memory_store: 64MB, '
            "max_file_store: 256MB }",
        ]
        if max_payload is not None:
            lines.append(f"max_payload: {max_payload}")
        if user is not None:
            lines.append(f'authorization {{ user: "{user}", password: "{password}" }}')
        elif token is not None:
            lines.append(f'authorization {{ token: "{token}" }}')
        self.conf = self.workdir / "nats.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.log: deque[str] = deque(maxlen=500)
        self._ready = threading.Event()

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait (bounded) until it says it is ready."""
        self._ready.clear()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(
            target=self._drain, args=(self.proc,), name="nats-server-log", daemon=True
        ).start()
        if not self._ready.wait(timeout) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError("nats-server did not start:\n" + "\n".join(self.log))

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        # Reading stderr continuously keeps the pipe from filling and blocking the server.
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line.rstrip())
            if "Server is ready" in line:
                self._ready.set()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (JetStream syncs its store) and wait, bounded."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: an abrupt server death."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Graceful stop, then start on the same port with the same store."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
