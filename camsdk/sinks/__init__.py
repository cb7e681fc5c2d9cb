"""Sinks: where camera events go besides your own code.

- `camsdk.sinks.mqtt.MqttBridge` publishes events, states and snapshots to an
  MQTT broker (with Home Assistant discovery) and takes PTZ and snapshot
  commands back; it needs the ``mqtt`` extra (aiomqtt).
- `camsdk.sinks.webhook.WebhookSink` POSTs signed event JSON (with the
  event's snapshot and clip, or in Frigate's event format) to a URL.
- `camsdk.sinks.nats.JetStreamSink` publishes events to NATS JetStream,
  acknowledged and de-duplicated (a durable log for events that must
  survive a crash); it needs the ``nats`` extra (nats-py).
- `run_bridge_from_config` runs what ``camsdk bridge CONFIG.toml`` runs, from
  Python (`load_bridge_config` reads and checks such a file).

Names are imported on first use, so ``import camsdk.sinks`` never imports
aiomqtt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._errors import DriverUnavailableError

if TYPE_CHECKING:  # pragma: no cover
    from ._bridge import run_bridge_from_config
    from ._bridge_config import BridgeConfig, load_bridge_config
    from ._types import (
        BridgeCamera,
        BridgeCameraOptions,
        PrivacyModeCamera,
        SoftwareMotionCamera,
    )
    from .mqtt import BridgeStats, MqttBridge, PtzCommand
    from .nats import JetStreamSink
    from .webhook import WebhookSink

__all__ = [
    "BridgeCamera",
    "BridgeCameraOptions",
    "BridgeConfig",
    "BridgeStats",
    "JetStreamSink",
    "MqttBridge",
    "PrivacyModeCamera",
    "PtzCommand",
    "SoftwareMotionCamera",
    "WebhookSink",
    "load_bridge_config",
    "run_bridge_from_config",
]

_LAZY = {
    "BridgeCamera": ("._types", ""),
    "BridgeCameraOptions": ("._types", ""),
    "PrivacyModeCamera": ("._types", ""),
    "SoftwareMotionCamera": ("._types", ""),
    "BridgeStats": (".mqtt", "pip install 'camsdk[mqtt]'"),
    "MqttBridge": (".mqtt", "pip install 'camsdk[mqtt]'"),
    "PtzCommand": (".mqtt", "pip install 'camsdk[mqtt]'"),
    "WebhookSink": (".webhook", ""),
    "JetStreamSink": (".nats", "pip install 'camsdk[nats]'"),
    "BridgeConfig": ("._bridge_config", ""),
    "load_bridge_config": ("._bridge_config", ""),
    "run_bridge_from_config": ("._bridge", ""),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, hint = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    try:
        module = importlib.import_module(module_name, __name__)
    except ImportError as exc:
        raise DriverUnavailableError(
            f"camsdk.sinks.{name} needs an optional dependency: {exc.name}", hint=hint
        ) from exc
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
