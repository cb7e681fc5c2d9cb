"""Start and stop a throwaway ``nats-server -js`` on 127.0.0.1 (tests and benchmarks).

Each instance gets a free port, its own temporary JetStream store, and a
config file written here (optional user/password or token, optional
``max_payload``). `stop` is graceful (JetStream flushes its store), `start`
again reuses the port and the store, so a restart keeps the stream.
Readiness is the server's own "Server is ready" log line, awaited with a
bound; nothing sleeps.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .._services import LocalService, find_binary, free_port

_CANDIDATES = ("nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server")


def find_nats_server() -> str | None:
    """Path of the nats-server binary, or None when it is not installed."""
    found: str | None = find_binary(_CANDIDATES)
    return found


class NatsServer(LocalService):  # type: ignore[misc, valid-type]
    """One nats-server process with JetStream; `start`, `stop`, `restart`, `close`."""

    name = "nats-server"
    ready_marker = "Server is ready"

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
        super().__init__([binary, "-c", str(self.conf)], self.workdir)
