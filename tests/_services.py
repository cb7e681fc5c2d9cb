"""`scripts/local_service.py` (throwaway servers on 127.0.0.1) for test helpers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[1] / "scripts" / "local_service.py"
_spec = importlib.util.spec_from_file_location("camsdk_local_service", _PATH)
assert _spec is not None and _spec.loader is not None
if _spec.name not in sys.modules:
    sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_spec.name])
_module = sys.modules[_spec.name]

LocalService = _module.LocalService
find_binary = _module.find_binary
free_port = _module.free_port
