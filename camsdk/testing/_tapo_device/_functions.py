"""The simulated camera's functions: what ``multipleRequest`` and ``do``/``get`` answer.

Answers follow firmware 1.4 (C210 v2) or, with ``legacy_format``, 1.3
(C200 v1: ``.name``/``.type`` keys in every section, ``features`` as text,
no ``id`` in the answer to ``addMotorPostion``). Error codes are Tapo's:
-40210 unknown function, -64324 a move in privacy mode, -64302 an unknown
preset, -64304 a move past the motor's reach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ._device import TapoDevice

__all__ = ["MOTOR", "SimPreset", "call_function", "direct_request"]

UNKNOWN = -40210
PRIVACY_ON = -64324
NO_PRESET = -64302
AT_LIMIT = -64304
#: The motor's reach (degrees) as a C200/C210 reports it.
MOTOR = {"x_min": -170, "x_max": 170, "y_min": -35, "y_max": 35}
_BASE_COMPONENTS = (
    "sdCard", "timezone", "system", "led", "playback", "detection", "alert", "firmware",
    "account", "quickSetup", "video", "lightFrequency", "dayNightMode", "osd", "record",
    "videoRotation", "audio", "diagnose", "msgPush", "deviceShare", "tapoCare",
    "personDetection", "vehicleDetection", "petDetection", "linecrossingDetection",
    "tamperDetection",
)


@dataclass(slots=True)
class SimPreset:
    """A stored position of the simulated head."""

    id: str
    name: str
    x: float
    y: float


@dataclass(slots=True)
class MotorState:
    """Where the simulated head points, and every move it was asked to make."""

    x: float = 0.0
    y: float = 0.0
    presets: dict[str, SimPreset] = field(default_factory=dict)
    moves: list[tuple[int, int]] = field(default_factory=list)
    stops: int = 0
    next_id: int = 1


def _section(device: TapoDevice, name: str, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    if device.legacy_format:
        return {".name": name, ".type": kind, **values}
    return values


def components(device: TapoDevice) -> list[str]:
    """The component names the simulated firmware lists."""
    names = list(_BASE_COMPONENTS)
    if device.ptz:
        names.append("ptz")
    if device.lens_mask:
        names.append("lensMask")
    if device.baby_cry:
        names.append("babyCryDetection")
    return names


def _identity(device: TapoDevice) -> dict[str, Any]:
    basic = {
        "avatar": "Home",
        "barcode": "",
        "dev_id": device.device_id,
        "device_alias": device.name,
        "device_info": f"{device.model} {device.hardware} IPC",
        "device_model": device.model,
        "device_name": f"{device.model} {device.hardware}",
        "device_type": "SMART.IPCAMERA",
        "features": "3" if device.legacy_format else 3,
        "hw_version": device.hardware,
        "mac": device.mac,
        "oem_id": "00000000000000000000000000000000",
        "sw_version": device.firmware,
    }
    if not device.legacy_format:
        basic.update({"manufacturer_name": "TP-LINK", "region": "EU", "is_cal": True})
    if device.report_rtsp_port and device.rtsp is not None:
        basic["rtsp_port"] = str(device.rtsp.port)
    return {"device_info": {"basic_info": _section(device, "basic_info", "info", basic)}}


def _presets(device: TapoDevice) -> dict[str, Any]:
    presets = list(device.motor.presets.values())
    span_x, span_y = MOTOR["x_max"], MOTOR["y_max"]
    table = {
        "id": [p.id for p in presets],
        "name": [p.name for p in presets],
        "position_pan": [f"{p.x / span_x:.6f}" for p in presets],
        "position_tilt": [f"{p.y / span_y:.6f}" for p in presets],
        "read_only": ["0" for _ in presets],
    }
    return {"preset": {"preset": table}}


def call_function(device: TapoDevice, method: str, params: Any) -> tuple[int, Any]:
    """Run one function of a ``multipleRequest``: ``(error_code, result)``."""
    params = params if isinstance(params, dict) else {}
    device.functions.append(method)
    if method == "getDeviceInfo":
        return 0, _identity(device)
    if method == "getAppComponentList":
        return 0, {"app_component": {"app_component_list": [
            {"name": name, "version": 1} for name in components(device)]}}
    if method == "getVideoQualities":
        width, height = device.resolution
        return 0, {"video": {"main": _section(device, "main", "stream", {
            "bitrate": "1382", "bitrate_type": "vbr", "encode_type": device.codec.upper(),
            "frame_rate": str(65536 + device.fps), "name": "VideoEncoder_1", "quality": "3",
            "resolution": f"{width}*{height}"})}}
    if method == "getLensMaskConfig" and device.lens_mask:
        return 0, {"lens_mask": {"lens_mask_info": _section(
            device, "lens_mask_info", "lens_mask_info",
            {"enabled": "on" if device.privacy_mode else "off"})}}
    if method == "setLensMaskConfig" and device.lens_mask:
        info = params.get("lens_mask", {}).get("lens_mask_info", {})
        enabled = info.get("enabled") if isinstance(info, dict) else None
        if enabled not in ("on", "off"):
            return -40106, None
        device.set_privacy(enabled == "on")
        return 0, {}
    if method == "getClockStatus":
        return 0, {"system": {"clock_status": {"seconds_from_1970": device.clock_seconds()}}}
    if device.ptz:
        return _preset_function(device, method, params)
    return UNKNOWN, None


def _preset_function(device: TapoDevice, method: str, params: dict[str, Any]) -> tuple[int, Any]:
    motor = device.motor
    if method == "motorMove" and device.motor_form in ("batched", "both"):
        answer = _move(device, params.get("motor"))
        return int(answer["error_code"]), {}
    preset = params.get("preset") if isinstance(params.get("preset"), dict) else {}
    assert isinstance(preset, dict)
    if method == "getPresetConfig":
        return 0, _presets(device)
    if method == "motorMoveToPreset":
        if device.privacy_mode:
            return PRIVACY_ON, None
        goto = preset.get("goto_preset")
        target = motor.presets.get(str(goto.get("id"))) if isinstance(goto, dict) else None
        if target is None:
            return NO_PRESET, None
        motor.x, motor.y = target.x, target.y
        return 0, {}
    if method == "addMotorPostion":
        spec = preset.get("set_preset")
        name = spec.get("name") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not name:
            return -40106, None
        preset_id = str(motor.next_id)
        motor.next_id += 1
        motor.presets[preset_id] = SimPreset(preset_id, name, motor.x, motor.y)
        return 0, ({} if device.legacy_format else {"id": preset_id})
    if method == "deletePreset":
        remove = preset.get("remove_preset")
        ids = remove.get("id") if isinstance(remove, dict) else None
        for preset_id in ids if isinstance(ids, list) else []:
            motor.presets.pop(str(preset_id), None)
        return 0, {}
    return UNKNOWN, None


def _coord(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def direct_request(device: TapoDevice, request: dict[str, Any]) -> dict[str, Any]:
    """A request in the direct form (``{"method": "do", "motor": {...}}``)."""
    method = request.get("method")
    motor_spec = request.get("motor")
    if not device.ptz or not isinstance(motor_spec, dict):
        return {"error_code": UNKNOWN}
    motor = device.motor
    device.functions.append(f"{method}:motor")
    if method == "do" and "move" in motor_spec and device.motor_form == "batched":
        return {"error_code": -40105}
    if method == "get":
        return {"error_code": 0, "motor": {"capability": {
            "calibrate": "enabled", "lens_mask_no_moving": "1", "preset": "enabled",
            "simultaneous": "disabled", "x_coord_max": str(MOTOR["x_max"]),
            "x_coord_min": str(MOTOR["x_min"]), "x_max_speed": "9",
            "y_coord_max": str(MOTOR["y_max"]), "y_coord_min": str(MOTOR["y_min"]),
            "y_max_speed": "9"}}}
    if method != "do":
        return {"error_code": UNKNOWN}
    if "stop" in motor_spec:
        if not device.motor_stop:
            return {"error_code": UNKNOWN}
        motor.stops += 1
        return {"error_code": 0}
    return _move(device, motor_spec)


def _move(device: TapoDevice, motor_spec: Any) -> dict[str, Any]:
    """A relative move of the simulated head (Tapo's x to the left, y up)."""
    motor = device.motor
    move = motor_spec.get("move") if isinstance(motor_spec, dict) else None
    if not isinstance(move, dict):
        return {"error_code": UNKNOWN}
    if device.privacy_mode:
        return {"error_code": PRIVACY_ON}
    dx, dy = _coord(move.get("x_coord")), _coord(move.get("y_coord"))
    if dx is None or dy is None:
        return {"error_code": -40106}
    nx = min(max(motor.x + dx, MOTOR["x_min"]), MOTOR["x_max"])
    ny = min(max(motor.y + dy, MOTOR["y_min"]), MOTOR["y_max"])
    if (nx, ny) == (motor.x, motor.y):
        return {"error_code": AT_LIMIT}
    motor.x, motor.y = nx, ny
    motor.moves.append((dx, dy))
    return {"error_code": 0}
