"""Hardened XML for device answers (ONVIF, ISAPI, ...): parse safely, read leniently.

Devices are untrusted. `parse` uses defusedxml with DTDs forbidden outright,
so entity expansion (billion laughs), external entities and external DTD
fetches are refused before any of them can cost memory or open a socket;
callers cap the size of what they hand in.

Reading is by *local name*: firmware puts the same element under
``tt:``, ``ns2:``, a default namespace or, now and then, the wrong namespace
URI (ver10 for ver20), so `find`/`findall`/`text` ignore namespaces. Values
that are QNames (fault codes, event topics) lose their prefixes with
`strip_prefixes`, because prefixes are arbitrary per document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

__all__ = [
    "XmlError",
    "attr",
    "escape",
    "find",
    "findall",
    "format_datetime",
    "format_duration",
    "iter_named",
    "local",
    "parse",
    "parse_bool",
    "parse_datetime",
    "parse_duration",
    "parse_float",
    "quoteattr",
    "strip_prefixes",
    "text",
    "utc_from_parts",
]



class XmlError(ValueError):
    """The bytes are not acceptable XML (malformed, or a DTD/entity was refused)."""


def parse(data: bytes) -> Element:
    """Parse ``data`` with entity expansion, DTDs and external fetches forbidden."""
    try:
        root: Element = safe_et.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise XmlError(f"refused XML construct ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise XmlError(f"malformed XML: {exc}") from exc
    return root


def local(tag: str) -> str:
    """``{uri}Name`` -> ``Name``."""
    return tag.rsplit("}", 1)[-1]


def findall(element: Element | None, name: str) -> list[Element]:
    """Direct children of ``element`` whose local name is ``name``."""
    if element is None:
        return []
    return [child for child in element if local(child.tag) == name]


def find(element: Element | None, *path: str) -> Element | None:
    """Follow ``path`` (local names of direct children); None where it breaks off."""
    for name in path:
        if element is None:
            return None
        element = next((child for child in element if local(child.tag) == name), None)
    return element


def iter_named(element: Element, name: str) -> Iterator[Element]:
    """Every descendant (and ``element`` itself) with local name ``name``."""
    for node in element.iter():
        if local(node.tag) == name:
            yield node


def text(element: Element | None, *path: str, default: str = "") -> str:
    """Stripped text at ``path`` below ``element``, or ``default``."""
    node = find(element, *path)
    if node is None or node.text is None:
        return default
    return node.text.strip()


def attr(element: Element | None, name: str, default: str = "") -> str:
    """An attribute by local name (``token``, ``{ns}Name`` ...), or ``default``."""
    if element is None:
        return default
    for key, value in element.attrib.items():
        if local(key) == name:
            return value.strip()
    return default


def strip_prefixes(value: str) -> str:
    """``tns1:RuleEngine/tns1:Cell`` -> ``RuleEngine/Cell``: prefixes vary per document."""
    return "/".join(part.rsplit(":", 1)[-1] for part in value.strip().split("/"))


def parse_bool(value: str) -> bool | None:
    """xs:boolean (plus the ``yes``/``on`` and ``active`` that firmware writes); None if not one."""
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on", "active"):
        return True
    if lowered in ("false", "0", "no", "off", "inactive"):
        return False
    return None


def parse_float(value: str) -> float | None:
    """A finite float, or None (devices leave elements empty or write ``NaN``)."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


_DURATION = re.compile(
    r"^(?P<neg>-)?P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: str) -> float | None:
    """xs:duration without years or months (``PT10S``, ``PT1M30S``, ``P1D``) in seconds."""
    match = _DURATION.match(value.strip())
    if match is None or value.strip() in ("P", "PT", "-P"):
        return None
    seconds = sum(
        float(match.group(key) or 0) * factor
        for key, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    )
    return -seconds if match.group("neg") else seconds


def format_duration(seconds: float) -> str:
    """Seconds -> xs:duration (``PT10S``, ``PT0.5S``)."""
    text = f"{max(0.0, seconds):.3f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def parse_datetime(value: str) -> datetime | None:
    """xs:dateTime as an aware UTC datetime; a value without zone is taken as UTC."""
    raw = value.strip()
    if not raw:
        return None
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    # Python before 3.11 rejects some fraction lengths; trim to microseconds.
    raw = re.sub(r"(\.\d{6})\d+", r"\1", raw)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    """An aware datetime -> xs:dateTime in UTC with a ``Z`` (millisecond precision)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def utc_from_parts(node: Element | None) -> datetime | None:
    """A ``tt:DateTime`` (Date/Year.., Time/Hour..) as UTC, or None when incomplete."""
    if node is None:
        return None
    try:
        parts = [
            int(text(node, "Date", "Year")),
            int(text(node, "Date", "Month")),
            int(text(node, "Date", "Day")),
            int(text(node, "Time", "Hour") or 0),
            int(text(node, "Time", "Minute") or 0),
            int(text(node, "Time", "Second") or 0),
        ]
    except ValueError:
        return None
    try:
        # Some firmware writes second 60 (leap second) or hour 24: carry over.
        base = datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
    except ValueError:
        return None
    return base + timedelta(hours=parts[3], minutes=parts[4], seconds=parts[5])
