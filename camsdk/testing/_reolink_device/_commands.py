"""The JSON commands the simulated Reolink device answers, shaped like real firmware."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._state import SimChannel

if TYPE_CHECKING:  # pragma: no cover
    from ._device import ReolinkDevice

__all__ = ["answer", "error"]

_SIZES = {"main": (2560, 1440, 6144, 25), "sub": (640, 360, 512, 15), "ext": (896, 512, 1024, 15)}
#: Commands that wake a battery camera (as GetEnc does on real firmware); state reads do not.
WAKING = frozenset({"GetEnc", "GetRtspUrl", "PtzCtrl", "GetPtzPreset", "SetPtzPreset", "Snap"})


def error(cmd: str, rsp_code: int, detail: str) -> dict[str, Any]:
    """One failed command's answer."""
    return {"cmd": cmd, "code": 1, "error": {"detail": detail, "rspCode": rsp_code}}


def ok(cmd: str, value: Any) -> dict[str, Any]:
    """One successful command's answer."""
    return {"cmd": cmd, "code": 0, "value": value}


def _channel(device: ReolinkDevice, param: dict[str, Any]) -> SimChannel | None:
    number = param.get("channel")
    if not isinstance(number, int):
        number = 0
    return device.channels.get(number)


def answer(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    """The answer to one (authenticated) command."""
    handler = _HANDLERS.get(cmd)
    if handler is None:
        return error(cmd, -9, "not support")
    return handler(device, cmd, param)


def _dev_info(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    kind = "NVR" if device.nvr else "IPC"
    info = {
        "B485": 0, "IOInputNum": 0, "IOOutputNum": 0, "audioNum": 1, "buildDay": "build 2301",
        "cfgVer": "v3.1.0.0", "channelNum": len(device.channels), "detail": device.model,
        "diskNum": 1 if device.nvr else 0, "exactType": device.exact_type or kind,
        "firmVer": device.firmware, "frameworkVer": 1, "hardVer": "IPC_523128M8MP",
        "model": device.model, "name": device.name, "pakSuffix": "pak", "serial": device.serial,
        "type": kind, "wifi": 0, "itemNo": "",
    }
    return ok(cmd, {"DevInfo": info})


def _local_link(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    return ok(cmd, {"LocalLink": {"activeLink": "LAN", "mac": device.mac, "type": "DHCP",
                                  "dns": {"auto": 1, "dns1": "192.0.2.1", "dns2": ""},
                                  "static": {"gateway": "192.0.2.1", "ip": "192.0.2.10",
                                             "mask": "255.255.255.0"}}})


def _net_port(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    ports = {
        "httpEnable": 1, "httpPort": device.port, "httpsEnable": 0, "httpsPort": 443,
        "mediaPort": 9000, "onvifEnable": 1 if device.onvif_port else 0,
        "onvifPort": device.onvif_port or 8000, "rtmpEnable": 0, "rtmpPort": 1935,
        "rtspEnable": 1 if device.rtsp_enabled else 0, "rtspPort": device.rtsp_port,
    }
    return ok(cmd, {"NetPort": ports})


def _channel_status(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    if not device.nvr:
        return error(cmd, -9, "not support")
    status = []
    for ch in device.channels.values():
        entry: dict[str, Any] = {"channel": ch.channel, "name": ch.name,
                                 "online": 1 if ch.online else 0, "typeInfo": ch.model,
                                 "uid": ch.uid}
        if ch.battery:
            entry["sleep"] = 1 if ch.sleeping else 0
        status.append(entry)
    return ok(cmd, {"count": len(status), "status": status})


def _ability(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    chans = []
    for ch in device.channels.values():
        entry = {
            "ptzCtrl": {"permit": 0, "ver": 1 if ch.ptz else 0},
            "ptzPreset": {"permit": 0, "ver": 1 if ch.ptz else 0},
            "ptzType": {"permit": 0, "ver": 2 if ch.ptz else 0},
            "supportAiPeople": {"permit": 0, "ver": 1 if "people" in ch.ai_types else 0},
            "battery": {"permit": 0, "ver": 1 if ch.battery else 0},
        }
        chans.append(entry)
    return ok(cmd, {"Ability": {"abilityChn": chans, "devInfo": {"permit": 1, "ver": 1}}})


def _enc(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    ch = _channel(device, param)
    if ch is None or not ch.online:
        return error(cmd, -17, "rcv failed")
    ch.wake()
    if ch.refuse_stream:
        return error(cmd, -12, "get config failed")
    value: dict[str, Any] = {"audio": 1 if ch.audio else 0, "channel": ch.channel}
    for profile in device.profiles:
        width, height, kbps, fps = _SIZES[profile]
        stream = {"bitRate": kbps, "frameRate": fps, "gop": 2, "height": height,
                  "profile": "High", "size": f"{width}*{height}", "width": width}
        if not device.legacy:
            stream["vType"] = ch.codec if profile == "main" else "h264"
        else:
            del stream["width"], stream["height"]
        value[f"{profile}Stream"] = stream
    return ok(cmd, {"Enc": value})


def _rtsp_url(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    ch = _channel(device, param)
    if not device.rtsp_url_cmd:
        return error(cmd, -9, "not support")
    if ch is None:
        return error(cmd, -4, "param error")
    base = f"rtsp://{device.advertised_host}:{device.rtsp_port}"
    number = f"{ch.channel + 1:02d}"
    return ok(cmd, {"rtspUrl": {"channel": ch.channel,
                                "mainStream": f"{base}/Preview_{number}_main",
                                "subStream": f"{base}/Preview_{number}_sub"}})


def _md_state(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    ch = _channel(device, param)
    if ch is None or not ch.online:
        return error(cmd, -17, "rcv failed")
    return ok(cmd, {"state": 1 if ch.states.get("md") else 0})


def _ai_state(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    ch = _channel(device, param)
    if ch is None or not ch.online:
        return error(cmd, -17, "rcv failed")
    types = ch.ai_types + (("visitor",) if ch.doorbell else ())
    if not types:
        return error(cmd, -9, "not support")
    value: dict[str, Any] = {"channel": ch.channel}
    for name in types:
        state = 1 if ch.states.get(name) else 0
        # Firmware before 3.0.0-494 answers bare numbers.
        value[name] = state if device.legacy else {"alarm_state": state, "support": 1}
    if not device.legacy:
        for name in ("people", "vehicle", "dog_cat", "face", "package"):
            value.setdefault(name, {"alarm_state": 0, "support": 0})
    return ok(cmd, value)


def _ptz_ctrl(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    ch = _channel(device, param)
    if ch is None or not ch.ptz:
        return error(cmd, -9, "not support")
    op = param.get("op")
    valid = {"Left", "Right", "Up", "Down", "LeftUp", "LeftDown", "RightUp", "RightDown",
             "ZoomInc", "ZoomDec", "Stop", "ToPos"}
    speed = param.get("speed", 0)
    if op not in valid or not isinstance(speed, int) or not 0 <= speed <= 64:
        return error(cmd, -4, "param error")
    if op == "ToPos" and param.get("id") not in ch.presets:
        return error(cmd, -4, "param error")
    ch.wake()
    ch.ptz_op, ch.ptz_speed = str(op), speed
    return ok(cmd, {"rspCode": 200})


def _get_presets(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    ch = _channel(device, param)
    if ch is None or not ch.ptz:
        return error(cmd, -9, "not support")
    table = [{"channel": ch.channel, "enable": 1 if i in ch.presets else 0, "id": i,
              "name": ch.presets.get(i, f"pos{i}")} for i in range(1, 65)]
    return ok(cmd, {"PtzPreset": table})


def _set_preset(device: ReolinkDevice, cmd: str, param: dict[str, Any]) -> dict[str, Any]:
    preset = param.get("PtzPreset")
    if not isinstance(preset, dict):
        return error(cmd, -4, "param error")
    ch = _channel(device, preset)
    ident = preset.get("id")
    if ch is None or not ch.ptz or not isinstance(ident, int) or not 1 <= ident <= 64:
        return error(cmd, -4, "param error")
    if preset.get("enable") == 1:
        ch.presets[ident] = str(preset.get("name", ""))[:31]
    else:
        ch.presets.pop(ident, None)
    return ok(cmd, {"rspCode": 200})


_HANDLERS = {
    "GetDevInfo": _dev_info,
    "GetLocalLink": _local_link,
    "GetNetPort": _net_port,
    "GetChannelstatus": _channel_status,
    "GetAbility": _ability,
    "GetEnc": _enc,
    "GetRtspUrl": _rtsp_url,
    "GetMdState": _md_state,
    "GetAiState": _ai_state,
    "PtzCtrl": _ptz_ctrl,
    "GetPtzPreset": _get_presets,
    "SetPtzPreset": _set_preset,
}
