"""MkDocs hook: fills the supported-devices table from the drivers' declared capabilities.

The table is never kept by hand: it is generated at every docs build from
`camsdk.available_drivers()`, the same data ``camsdk drivers`` prints.
"""

from __future__ import annotations

from typing import Any

PLACEHOLDER = "<!-- supported-devices-table -->"


def supported_devices_table() -> str:
    """The markdown table of every driver and its declared capabilities."""
    import camsdk

    drivers = camsdk.available_drivers()
    flags = [c for c in camsdk.Capability if c.name and c.value]
    header = "| scheme | driver | " + " | ".join(c.name.lower() for c in flags) + " |"
    rule = "|---|---|" + "|".join(":-:" for _ in flags) + "|"
    rows = []
    for scheme, info in drivers.items():
        marks = " | ".join("yes" if c in info.capabilities else "" for c in flags)
        name = info.display_name or info.target
        if not info.available:
            name += f" (needs: {info.requires or 'see error'})"
        rows.append(f"| `{scheme}://` | {name} | {marks} |")
    return "\n".join([header, rule, *rows])


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the placeholder with the generated table."""
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, supported_devices_table())
    return markdown
