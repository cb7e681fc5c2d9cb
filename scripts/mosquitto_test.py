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
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

BASE_CONF = Path(__file__).with_name("mosquitto-test.conf")
_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def _local_service() -> ModuleType:
    # This file is loaded by path (tests, benchmarks), not as a package member.
    spec = importlib.util.spec_from_file_location(
        "camsdk_local_service", Path(__file__).with_name("local_service.py"))
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


_service = _local_service()
LocalService = _service.LocalService
free_port = _service.free_port


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None when it is not installed."""
    found: str | None = _service.find_binary(_CANDIDATES)
    return found


class Mosquitto(LocalService):  # type: ignore[misc, valid-type]
    """One mosquitto process; `start`, `stop` (graceful, saves persistence), `kill`, `restart`."""

    name = "mosquitto"
    ready_marker = " running"

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.port = port or free_port()
        folder = workdir or Path(tempfile.mkdtemp(prefix="camsdk-mosquitto-"))
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            BASE_CONF.read_text()
            + f"\nlistener {self.port} 127.0.0.1\npersistence_location {folder}/\n"
            # Started as root, mosquitto would switch to the "mosquitto" user,
            # which cannot write our temporary directory; stay who we are.
            + f"user {getpass.getuser()}\n"
        )
        super().__init__([binary, "-c", str(self.conf)], folder, own_workdir=workdir is None)

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
