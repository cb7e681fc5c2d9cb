"""The Python blocks of the docs, and the few rewrites that make them run.

How a block is treated (docs/contributing.md says the same, for writers):

- Every fenced ```` ```python ```` block of ``README.md`` and ``docs/**/*.md``
  runs, unless a marker comment is the last non-blank line above it:

  ``<!-- snippet: needs-device (why) -->``
      needs something no simulator stands in for (a cloud account, the LAN's
      multicast discovery, a TLS-only service); compiled, not run.
  ``<!-- snippet: fragment (why) -->``
      a piece of a larger program (a method body, a web handler); compiled,
      not run.
  ``<!-- snippet: runs-forever (why) -->``
      serves until cancelled (a bridge, an event loop): runs, and passes when
      it is still running without an error after a few seconds.

  The reason in parentheses is required.
- A page is one session, as in a doctest: its blocks run in order and share
  one namespace, so a later block may use what an earlier one defined.
- Top-level ``await``, ``async with`` and ``async for`` run as they are
  written (each block is compiled with top-level await allowed); a final
  ``asyncio.run(main())`` is awaited instead.
- A loop whose whole body is ``...`` ("your code here") runs once: the
  ``...`` becomes ``break``.
- ``test_*`` functions without parameters that a block defines are called
  (awaited when async), as pytest would.
- Placeholder hosts (``192.168.x.y``, ``*.local``, ``console``, ...) in
  URL strings are replaced by simulators started for the page; see
  `tests.docs._stand_ins`. Names a page uses without defining them (``cam``,
  ``creds``, ``secret``, ...) come from `tests.docs._stand_ins.GIVEN`.

A block that includes a file (``--8<-- "docs/examples/x.py"``) is that
file's own test's business; here it only has to exist.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Marker kinds, and whether a block so marked is run (not only compiled).
MARKERS = {
    "needs-device": False,
    "fragment": False,
    "runs-forever": True,
}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*snippet:(?P<body>.*?)-->\s*$")
_MARKER_BODY = re.compile(r"^\s*(?P<kind>[\w-]+)\s*(?:\((?P<reason>.*)\))?\s*$")
_INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')


class MarkerError(ValueError):
    """A marker the rules above do not allow."""


@dataclass(frozen=True)
class Snippet:
    """One ```` ```python ```` block of a page."""

    page: Path
    line: int  # 1-based line of the first line of code (after the fence)
    code: str
    marker: str | None = None  # the marker's kind, e.g. "needs-device"
    reason: str | None = None

    @property
    def where(self) -> str:
        """``docs/page.md:12``, relative to the repository when possible."""
        return f"{_relative(self.page)}:{self.line}"

    @property
    def runs(self) -> bool:
        """Whether the block is executed (not only compiled)."""
        return self.marker is None or MARKERS[self.marker]

    @property
    def includes(self) -> list[str]:
        """Paths of ``--8<--`` includes, when the block is nothing but includes."""
        lines = [line for line in self.code.splitlines() if line.strip()]
        found = [_INCLUDE.match(line) for line in lines]
        if lines and all(found):
            return [m.group("path") for m in found if m is not None]
        return []


def _relative(path: Path) -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def parse_marker(text: str, where: str) -> tuple[str, str]:
    """``(kind, reason)`` of a marker's body; `MarkerError` when it breaks the rules."""
    match = _MARKER_BODY.match(text)
    if match is None or match.group("kind") not in MARKERS:
        known = ", ".join(f"{k} (why)" for k in MARKERS)
        raise MarkerError(f"{where}: unknown snippet marker {text.strip()!r}; use one of: {known}")
    reason = (match.group("reason") or "").strip()
    if not reason:
        raise MarkerError(
            f"{where}: snippet marker {match.group('kind')!r} needs a reason in parentheses, "
            f"e.g. <!-- snippet: {match.group('kind')} (a Nest account) -->"
        )
    return match.group("kind"), reason


def snippets(page: Path, text: str | None = None) -> Iterator[Snippet]:
    """The Python blocks of ``page`` in order, with their markers.

    Raises `MarkerError` for a malformed marker, or one that stands above
    anything but a Python block.
    """
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _MARKER.match(line)
        if marker is not None:
            parse_marker(marker.group("body"), f"{_relative(page)}:{index + 1}")
            following = next((x for x in lines[index + 1 :] if x.strip()), "")
            fence = _FENCE.match(following)
            if fence is None or fence.group("lang") not in ("python", "py"):
                raise MarkerError(
                    f"{_relative(page)}:{index + 1}: a snippet marker must stand right above "
                    "a ```python block"
                )
        fence = _FENCE.match(line)
        if fence is None:
            index += 1
            continue
        indent, chars = fence.group("indent"), fence.group("fence")
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(chars[0] * len(chars)):
            end += 1
        if fence.group("lang") in ("python", "py"):
            body = [x[len(indent) :] if x.startswith(indent) else x for x in lines[index + 1 : end]]
            kind = reason = None
            above = next((x for x in reversed(lines[:index]) if x.strip()), "")
            found = _MARKER.match(above)
            if found is not None:
                kind, reason = parse_marker(found.group("body"), f"{_relative(page)}:{index}")
            yield Snippet(page, index + 2, "\n".join(body) + "\n", kind, reason)
        index = end + 1


class _Rewrite(ast.NodeTransformer):
    """``...`` loop bodies become ``break``; a final ``asyncio.run(x)`` becomes ``await x``."""

    def _once(self, node: ast.For | ast.AsyncFor | ast.While) -> ast.AST:
        self.generic_visit(node)
        body = node.body
        if (
            len(body) == 1
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and body[0].value.value is Ellipsis
        ):
            node.body = [ast.copy_location(ast.Break(), body[0])]
        return node

    visit_For = _once
    visit_AsyncFor = _once
    visit_While = _once


def _asyncio_run_argument(statement: ast.stmt) -> ast.expr | None:
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    call = statement.value
    func = call.func
    named = (
        isinstance(func, ast.Attribute)
        and func.attr == "run"
        and isinstance(func.value, ast.Name)
        and func.value.id == "asyncio"
    )
    if named and len(call.args) == 1 and not call.keywords:
        return call.args[0]
    return None


def prepare(snippet: Snippet) -> ast.Module:
    """The block's syntax tree with the rewrites applied, line numbers as on the page."""
    tree = ast.parse(snippet.code, filename=str(snippet.page))
    tree = _Rewrite().visit(tree)
    if tree.body:
        argument = _asyncio_run_argument(tree.body[-1])
        if argument is not None:
            tree.body[-1] = ast.copy_location(ast.Expr(ast.Await(argument)), tree.body[-1])
    ast.increment_lineno(tree, snippet.line - 1)
    return ast.fix_missing_locations(tree)


def compile_snippet(tree: ast.Module, snippet: Snippet) -> object:
    """Compile with top-level ``await`` allowed (`SyntaxError` says where, on the page)."""
    return compile(
        tree, _relative(snippet.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )  # fmt: skip


def free_names(tree: ast.Module) -> set[str]:
    """Names ``tree`` reads that it never binds (candidates for `GIVEN`)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return loaded - bound


def pages(root: Path) -> list[Path]:
    """README.md and every page under docs/, in a stable order."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
