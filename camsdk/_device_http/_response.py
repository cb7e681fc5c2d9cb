"""`DeviceResponse`: a finished device answer, read as text, JSON or hardened XML."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

import httpx

from .._errors import CameraProtocolError
from ._errors import ErrorMapping

__all__ = ["MAX_JSON_DEPTH", "DeviceResponse"]

#: Default cap on the nesting of a JSON answer (vendor APIs stay far below it).
MAX_JSON_DEPTH = 64


def _nesting_exceeds(value: Any, raw: bytes, limit: int) -> bool:
    """Whether parsed JSON nests deeper than ``limit`` (arrays and objects count one each)."""
    if raw.count(b"[") + raw.count(b"{") <= limit or not isinstance(value, dict | list):
        return False  # not enough brackets to nest that deep: skip the walk
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False



@dataclass(frozen=True, slots=True)
class DeviceResponse:
    """A finished response: status, headers and the (capped) body."""

    status: int
    headers: httpx.Headers = field(repr=False)
    content: bytes = field(repr=False)
    url: str
    errors: ErrorMapping = field(repr=False, compare=False)
    action: str = ""

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower-cased."""
        value: str = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    def json(self, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
        """The body as JSON; `camsdk.CameraProtocolError` when it is not JSON.

        Nesting deeper than ``max_depth`` is refused too: a hostile device's
        ``[[[[...`` would otherwise stop the parser with a `RecursionError`,
        or reach the driver as a structure that breaks whatever walks it.
        Parsing is linear in the (capped) body size.
        """
        problem = "the device did not answer JSON"
        try:
            value = jsonlib.loads(self.content)
        except RecursionError:
            problem = "the device answered JSON nested too deep to read"
        except (ValueError, UnicodeDecodeError):
            pass
        else:
            if _nesting_exceeds(value, self.content, max_depth):
                problem = f"the device answered JSON nested deeper than {max_depth} levels"
            else:
                return value
        raise CameraProtocolError(
            f"{self.action or 'request'}: {problem}",
            scheme=self.errors.scheme, url=self.errors.url,
        )

    def xml(self) -> Element:
        """The body as hardened XML (no DTDs or entities); `CameraProtocolError` if malformed."""
        from .. import _xml

        try:
            return _xml.parse(self.content)
        except _xml.XmlError as exc:
            problem = str(exc)
        raise CameraProtocolError(
            f"{self.action or 'request'}: {problem}", scheme=self.errors.scheme,
            url=self.errors.url,
        )
