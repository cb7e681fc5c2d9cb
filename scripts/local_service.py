"""A throwaway server process on 127.0.0.1 for tests and benchmarks.

`LocalService` starts a binary with a config file, reads its log (so the
pipe never fills and blocks it) until a readiness line appears, bounded by a
timeout, and stops it gracefully (SIGTERM, then SIGKILL after the bound), or
abruptly with `kill`. `scripts/mosquitto_test.py` and
`tests/sinks_nats/nats_server.py` build on it. Nothing here sleeps.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path


def find_binary(candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` found on PATH or as a file, or None."""
    for name in candidates:
        path = shutil.which(name) or (name if Path(name).is_file() else None)
        if path:
            return path
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalService:
    """One server process: `start`, `stop` (graceful), `kill`, `restart`, `close`.

    Subclasses set `name` and `ready_marker` (a fragment of the log line that
    says the server is serving), and give the command line to `__init__`.
    """

    name = "service"
    ready_marker = ""

    def __init__(self, command: list[str], workdir: Path, *, own_workdir: bool = True) -> None:
        self.command = command
        self.workdir = workdir
        self._own_workdir = own_workdir
        self.proc: subprocess.Popen[str] | None = None
        self.log: deque[str] = deque(maxlen=500)
        self._ready = threading.Event()

    def start(self, timeout: float = 15.0) -> None:
        """Start the process and wait (bounded) until its log says it is ready."""
        self._ready.clear()
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(
            target=self._drain, args=(self.proc,), name=f"{self.name}-log", daemon=True
        ).start()
        if not self._ready.wait(timeout) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError(f"{self.name} did not start:\n" + "\n".join(self.log))

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line.rstrip())
            if self.ready_marker in line:
                self._ready.set()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (the server saves its state) and wait, bounded."""
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
        """SIGKILL: an abrupt death."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Graceful stop, then start again with the same port and state."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory (when this instance made it)."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
