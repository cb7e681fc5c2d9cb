"""The JSON a simulated console returns, shaped like Protect's (fields trimmed, ids fake)."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["camera_json", "integration_camera", "nvr_json"]

_MODELS = (
    ("UVC G4 Doorbell Pro", "G4 Doorbell Pro", {"isDoorbell": True, "hasSpeaker": True,
                                                 "smartDetectTypes": ["person", "vehicle",
                                                                      "package"]}),
    ("UVC G4 PTZ", "G4 PTZ", {"isPtz": True, "canOpticalZoom": True, "hasSpeaker": True,
                              "smartDetectTypes": ["person", "vehicle"],
                              "pan": {"steps": {"min": 0, "max": 36000}},
                              "tilt": {"steps": {"min": 0, "max": 9000}},
                              "zoom": {"steps": {"min": 0, "max": 2010}}}),
    ("UVC G5 Bullet", "G5 Bullet", {"smartDetectTypes": ["person", "vehicle", "animal"]}),
)


def camera_json(index: int, *, rtsp: bool = True, state: str = "CONNECTED") -> dict[str, Any]:
    """The private API's camera ``index`` (0: a doorbell, 1: a PTZ, then bullets)."""
    kind, market, flags = _MODELS[min(index, len(_MODELS) - 1)]
    ident = f"6{index:023x}"
    channels = []
    for cid, (name, width, height, fps) in enumerate(
        (("High", 1920, 1080, 30), ("Medium", 1280, 720, 30), ("Low", 640, 360, 15))
    ):
        channels.append({
            "id": cid, "name": name, "enabled": True, "isRtspEnabled": rtsp,
            "rtspAlias": f"a{index:03d}c{cid}x{ident[-8:]}" if rtsp else None,
            "width": width, "height": height, "fps": fps, "bitrate": 2_000_000 // (cid + 1),
        })
    return {
        "id": ident, "modelKey": "camera", "mac": f"F4E2C6{index:06X}",
        "host": f"192.168.1.{20 + index % 200}", "name": f"Camera {index + 1}"
        if index > 1 else ("Front Door" if index == 0 else "Driveway PTZ"),
        "type": kind, "marketName": market, "state": state,
        "isConnected": state == "CONNECTED", "isAdopted": True,
        "firmwareVersion": "4.69.55", "videoCodec": "h264",
        "featureFlags": {"hasSmartDetect": True, "hasPrivacyMask": True,
                         **copy.deepcopy(flags)},
        "channels": channels, "privacyZones": [],
        "isMotionDetected": False, "lastMotion": None, "lastRing": None,
    }


def nvr_json(rtsps_port: int) -> dict[str, Any]:
    """The private API's console."""
    return {
        "id": "65f0c0ffee0000000000cafe", "modelKey": "nvr", "mac": "245A4C000001",
        "name": "Simulated Console", "type": "UDMPRO", "marketName": "UDM Pro",
        "version": "5.0.34", "firmwareVersion": "4.0.21", "hardwareId": "sim-hw",
        "ports": {"rtsp": 7447, "rtsps": rtsps_port, "http": 7080, "https": 7443},
    }


def integration_camera(camera: dict[str, Any]) -> dict[str, Any]:
    """A camera as the Integration API lists it (fewer fields, no channels)."""
    flags = camera["featureFlags"]
    return {
        "id": camera["id"], "modelKey": "camera", "state": camera["state"],
        "name": camera["name"], "mac": camera["mac"], "type": camera["type"],
        "isMicEnabled": True, "videoMode": "default",
        "featureFlags": {"supportFullHdSnapshot": True, "hasHdr": True,
                         "smartDetectTypes": flags.get("smartDetectTypes", []),
                         "hasSpeaker": flags.get("hasSpeaker", False),
                         "isDoorbell": flags.get("isDoorbell", False)},
    }
