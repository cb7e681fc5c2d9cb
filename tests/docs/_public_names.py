"""Finds private camsdk names in a program's source: what the docs' apps must not touch.

Flags ``import camsdk._x``, ``from camsdk._x import ...``, ``from camsdk import
_x`` and every attribute access ``obj._name`` (single leading underscore,
dunders allowed). The apps define no private attributes of their own, so an
``obj._name`` can only be a reach into camsdk (``frame._frame``,
``camsdk._models``): exactly what "written from the docs alone" forbids.
"""

from __future__ import annotations

import ast


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _camsdk_module(module: str) -> bool:
    return module == "camsdk" or module.startswith("camsdk.")


def private_camsdk_names(source: str) -> list[str]:
    """``"line N: <code>"`` for each private name ``source`` uses, in order."""
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _camsdk_module(alias.name) and any(map(_private, alias.name.split("."))):
                    found.append((node.lineno, node.col_offset, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and _camsdk_module(node.module or ""):
            module = node.module or ""
            if any(map(_private, module.split("."))):
                names = ", ".join(alias.name for alias in node.names)
                found.append((node.lineno, node.col_offset, f"from {module} import {names}"))
            else:
                for alias in node.names:
                    if _private(alias.name):
                        found.append(
                            (node.lineno, node.col_offset, f"from {module} import {alias.name}")
                        )
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            found.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [f"line {line}: {text}" for line, _, text in sorted(found)]
