"""Start and stop a throwaway mosquitto on 127.0.0.1 for tests and benchmarks.

Used by ``tests/events/conftest.py`` and ``benchmarks/bench_mqtt.py``; also a
command for trying the bridge by hand::

    python scripts/mosquitto_test.py --port 1883     # runs until Ctrl-C

Each instance gets a free port (unless one is given), its own temporary
persistence directory, and scripts/mosquitto-test.conf as its base config.
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path

BASE_CONF = Path(__file__).with_name("mosquitto-test.conf")
_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None when it is not installed."""
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


class Mosquitto:
    """One mosquitto process; `start`, `stop` (graceful, saves persistence), `kill`, `restart`."""

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="camsdk-mosquitto-"))
        self.conf = self.workdir / "mosquitto.conf"
        self.conf.write_text(
            BASE_CONF.read_text()
            + f"\nlistener {self.port} 127.0.0.1\npersistence_location {self.workdir}/\n"
            # Started as root, mosquitto would switch to the "mosquitto" user,
            # which cannot write our temporary directory; stay who we are.
            + f"user {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[str] | None = None
        self.log: deque[str] = deque(maxlen=500)
        self._running = threading.Event()

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait (bounded) until it says it is running."""
        self._running.clear()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(
            target=self._drain, args=(self.proc,), name="mosquitto-log", daemon=True
        ).start()
        if not self._running.wait(timeout) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError("mosquitto did not start:\n" + "\n".join(self.log))

    def _drain(self, proc: subprocess.Popen[str]) -> None:
        # Reading stderr continuously keeps the pipe from filling and blocking
        # the broker; the "running" line is the readiness signal.
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line.rstrip())
            if " running" in line:
                self._running.set()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (mosquitto saves its persistence file) and wait."""
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
        """SIGKILL: an abrupt broker death."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Graceful stop and start on the same port with the same persistence."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the temporary directory."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args()
    with Mosquitto(args.port) as broker:
        print(f"mosquitto on 127.0.0.1:{broker.port} (Ctrl-C stops it)", flush=True)
        try:
            assert broker.proc is not None
            broker.proc.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
