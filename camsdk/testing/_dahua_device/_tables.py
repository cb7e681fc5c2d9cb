"""The text answers of the simulated CGI: identity lines and config tables."""

from __future__ import annotations

from collections.abc import Sequence

from ._model import ChannelModel, DeviceModel

__all__ = ["ERROR", "camera_states", "config_table", "magic_answer", "ok"]

#: Dahua's answer to a request it cannot serve (sent with HTTP 200, as firmware does).
ERROR = "Error\r\nBad Request!\r\n"


def ok() -> str:
    """The answer to a command that worked."""
    return "OK\r\n"


def _lines(pairs: Sequence[tuple[str, object]]) -> str:
    return "".join(f"{key}={value}\r\n" for key, value in pairs)


def magic_answer(model: DeviceModel, action: str) -> str | None:
    """``magicBox.cgi?action=...`` (None for an action the device does not know)."""
    answers = {
        "getDeviceType": [("type", model.model)],
        "getSerialNo": [("sn", model.serial)],
        "getSoftwareVersion": [("version", model.firmware)],
        "getMachineName": [("name", model.name)],
        "getVendor": [("vendor", model.vendor)],
        "getDeviceClass": [("class", model.device_class)],
        "getSystemInfo": [("deviceType", model.model), ("serialNumber", model.serial),
                          ("processor", "S2L")],
    }
    found = answers.get(action)
    return _lines(found) if found is not None else None


def _format(prefix: str, channel: ChannelModel, *, enabled: bool, scale: int) -> list[
    tuple[str, object]
]:
    width, height = channel.width // scale, channel.height // scale
    pairs: list[tuple[str, object]] = [
        (f"{prefix}.AudioEnable", "true" if channel.audio else "false"),
        (f"{prefix}.VideoEnable", "true" if enabled else "false"),
        (f"{prefix}.Video.Compression", channel.compression),
        (f"{prefix}.Video.Width", width),
        (f"{prefix}.Video.Height", height),
        (f"{prefix}.Video.resolution", f"{width}x{height}"),
        (f"{prefix}.Video.FPS", channel.fps),
        (f"{prefix}.Video.BitRate", 1024 // scale),
        (f"{prefix}.Video.BitRateControl", "CBR"),
        (f"{prefix}.Video.GOP", channel.fps * 2),
    ]
    if channel.audio:
        pairs += [(f"{prefix}.Audio.Compression", channel.audio),
                  (f"{prefix}.Audio.Frequency", 8000)]
    return pairs


def config_table(model: DeviceModel, name: str, *, rtsp_port: int) -> str | None:
    """``configManager.cgi?action=getConfig&name=<name>`` (None: no such table)."""
    pairs: list[tuple[str, object]] = []
    if name == "Network":
        pairs = [("table.Network.DefaultInterface", "eth0"),
                 ("table.Network.Domain", "dahua"),
                 ("table.Network.Hostname", model.name.replace(" ", "")),
                 ("table.Network.eth0.IPAddress", "127.0.0.1"),
                 ("table.Network.eth0.PhysicalAddress", model.mac),
                 ("table.Network.eth0.MTU", 1500)]
    elif name == "RTSP":
        pairs = [("table.RTSP.Enable", "true"), ("table.RTSP.Port", rtsp_port),
                 ("table.RTSP.RTP.StartPort", 20000), ("table.RTSP.RTP.EndPort", 40000)]
    elif name == "ChannelTitle":
        pairs = [(f"table.ChannelTitle[{i}].Name", c.title) for i, c in enumerate(model.channels)]
    elif name == "Encode":
        for i, channel in enumerate(model.channels):
            base = f"table.Encode[{i}]"
            pairs += _format(f"{base}.MainFormat[0]", channel, enabled=channel.main_enabled,
                             scale=1)
            pairs += _format(f"{base}.ExtraFormat[0]", channel, enabled=True, scale=1)
            pairs += _format(f"{base}.ExtraFormat[1]", channel, enabled=channel.third, scale=1)
    else:
        return None
    return _lines(pairs)


def camera_states(model: DeviceModel) -> str:
    """``LogicDeviceManager.cgi?action=getCameraState`` (channel counts from 0)."""
    pairs: list[tuple[str, object]] = []
    for i, channel in enumerate(model.channels):
        pairs += [(f"states[{i}].channel", i),
                  (f"states[{i}].connectionState",
                   "Connected" if channel.connected else "Disconnected")]
    return _lines(pairs)
