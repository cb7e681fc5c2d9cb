"""`AlertFramer`: the alert stream's multipart framing, each alert delivered without delay.

The next part of an alert stream may be a heartbeat seconds away, so the
kit's `MultipartParser` runs in eager mode: a part is handed over as soon as
its ``Content-Length`` bytes arrived, or (the length too long) as soon as it
ends with a line ending, provided it is a finished document: XML whose root
element is closed, a JSON object whose braces balance, or a whole JPEG. A
length that lies otherwise falls back to the boundary, in the kit.
"""

from __future__ import annotations

import re

from camsdk.driver import MultipartParser, Part

__all__ = ["AlertFramer", "looks_complete"]

_JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
_XML_ROOT = re.compile(rb"\s*(?:<\?[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<([A-Za-z_][\w.:-]{0,63})",
                       re.S)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
# Bigger parts are not checked: they wait for their boundary.
_MAX_CHECKED = 256 * 1024


def looks_complete(part: Part) -> bool:
    """Whether ``part`` is a finished alert document (or picture)."""
    body = part.body.rstrip(b"\r\n\t ")
    if body.startswith(_JPEG_START):
        return body.endswith(_JPEG_END)
    if len(body) > _MAX_CHECKED:
        return False
    if body.startswith(b"{"):
        bare = _JSON_STRING.sub(b"", body)
        return (body.endswith(b"}") and b'"' not in bare
                and bare.count(b"{") == bare.count(b"}"))
    root = _XML_ROOT.match(body)
    return root is not None and body.endswith(b"</" + root.group(1) + b">")


class AlertFramer(MultipartParser):
    """The kit's parser in eager mode, with the alert stream's completeness check."""

    def __init__(self, boundary: str | None, *, max_part: int = 2 * 1024 * 1024,
                 max_header: int = 16 * 1024) -> None:
        super().__init__(boundary, max_part_bytes=max_part, max_header_bytes=max_header,
                         eager=True, complete=looks_complete)
