"""Every Python snippet of README.md and docs/ runs, or says why it cannot.

The rules (markers, one namespace per page, placeholder hosts, given names)
are in `tests.docs._snippets` and, for writers, in docs/contributing.md.
Each page is one test: its blocks run in order against `virtual://` cameras
and the simulators of `camsdk.testing`, in a temporary working directory,
each under a deadline. A failure names the page and line of the block.
"""

from __future__ import annotations

import builtins
import inspect
import traceback
from pathlib import Path
from typing import Any

import anyio
import pytest

import camsdk
from camsdk._camera import LIVE_CAMERAS
from camsdk._hub import LIVE_HUBS
from camsdk.privacy import AuditLog

from ._snippets import (
    MarkerError,
    Snippet,
    compile_snippet,
    free_names,
    pages,
    prepare,
    snippets,
)
from ._stand_ins import (
    GIVEN,
    PASSWORD,
    NoStandIn,
    StandIns,
    password_variables,
    substitute,
)

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
#: Deadline of one block (generous: the machine may be busy).
SNIPPET_SECONDS = 30.0
#: How long a ``runs-forever`` block must keep running.
FOREVER_SECONDS = 2.0
HINT = (
    "Fix the snippet (or the code it documents), or, when it cannot run here, put "
    "<!-- snippet: needs-device (why) --> or <!-- snippet: fragment (why) --> on the line "
    "above it: see docs/contributing.md."
)


def _pages_with_python() -> list[Path]:
    found = []
    for page in pages(ROOT):
        try:
            if next(snippets(page), None) is not None:
                found.append(page)
        except MarkerError:
            found.append(page)  # its test says what is wrong
    return found


def _usable(value: Any) -> bool:
    """Whether an earlier block left a usable value (a camera it closed is not one)."""
    if isinstance(value, camsdk.Camera):
        return value.state is camsdk.CameraState.OPEN
    return value is not None


async def _execute(code: Any, namespace: dict[str, Any]) -> None:
    result = eval(code, namespace)  # the snippet itself: that is the point of this test
    if inspect.isawaitable(result):
        await result


async def _call_tests(namespace: dict[str, Any], before: set[str]) -> None:
    for name, value in list(namespace.items()):
        if name.startswith("test_") and name not in before and inspect.isfunction(value):
            if inspect.signature(value).parameters:
                continue  # takes fixtures: pytest's business, not ours
            result = value()
            if inspect.isawaitable(result):
                await result


async def run_block(snippet: Snippet, namespace: dict[str, Any], stand_ins: StandIns) -> None:
    """Compile ``snippet`` and, unless its marker says otherwise, run it in ``namespace``."""
    for path in snippet.includes:
        assert (ROOT / path).is_file(), f"{snippet.where}: included file {path} does not exist"
    if snippet.includes:
        return
    try:
        tree = prepare(snippet)
        compile_snippet(tree, snippet)
    except SyntaxError as exc:
        pytest.fail(f"{snippet.where}: not valid Python: {exc}\n{HINT}")
    if not snippet.runs:
        return
    try:
        tree = await substitute(tree, stand_ins)
    except NoStandIn as exc:
        pytest.fail(f"{snippet.where}: {exc}")
    for name in sorted(free_names(tree) - set(dir(builtins))):
        if name in GIVEN and not _usable(namespace.get(name)):
            namespace[name] = await GIVEN[name](stand_ins)
    code = compile_snippet(tree, snippet)
    before = set(namespace)
    try:
        if snippet.marker == "runs-forever":
            with anyio.move_on_after(FOREVER_SECONDS) as scope:
                await _execute(code, namespace)
            ended = not scope.cancelled_caught
        else:
            with anyio.fail_after(SNIPPET_SECONDS):
                await _execute(code, namespace)
                await _call_tests(namespace, before)
            ended = False
    except Exception as exc:
        trace = "".join(traceback.format_exception(exc))
        pytest.fail(f"{snippet.where}: the snippet raised {exc!r}\n{trace}\n{HINT}")
    if ended:
        pytest.fail(f"{snippet.where}: marked runs-forever, but it ended by itself")


async def close_leftovers(
    namespace: dict[str, Any], cameras: set[Any], hubs: set[Any]
) -> None:
    """Close what a page left open: cameras and hubs it opened without ``async with``
    (``camsdk.open(url)`` alone, as a snippet about arguments does), audit logs."""
    for thing in [*(set(LIVE_CAMERAS) - cameras), *(set(LIVE_HUBS) - hubs)]:
        await thing.aclose()
    for value in namespace.values():
        if isinstance(value, AuditLog):
            value.close()


async def run_page(page: Path, tmp_path: Path, text: str | None = None) -> int:
    """Run every block of ``page`` (or of ``text``, as if it were that page); return how many."""
    blocks = list(snippets(page, text))
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    stand_ins = StandIns(tmp_path)
    cameras, hubs = set(LIVE_CAMERAS), set(LIVE_HUBS)
    with pytest.MonkeyPatch.context() as env:
        for snippet in blocks:
            for name in password_variables(snippet.code):
                env.setenv(name, PASSWORD)  # the simulators' password
        return await _run_blocks(blocks, namespace, stand_ins, cameras, hubs)


async def _run_blocks(
    blocks: list[Snippet],
    namespace: dict[str, Any],
    stand_ins: StandIns,
    cameras: set[Any],
    hubs: set[Any],
) -> int:
    try:
        for snippet in blocks:
            await run_block(snippet, namespace, stand_ins)
    finally:
        await close_leftovers(namespace, cameras, hubs)
        await stand_ins.aclose()
    return len(blocks)


@pytest.mark.parametrize(
    "page", _pages_with_python(), ids=lambda p: str(p.relative_to(ROOT))
)
async def test_page_snippets_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # snippets write snapshots, clips and audit logs
    assert await run_page(page, tmp_path) >= 1


def test_every_snippet_marker_is_known_and_gives_a_reason() -> None:
    problems = []
    for page in pages(ROOT):
        try:
            list(snippets(page))
        except MarkerError as exc:
            problems.append(str(exc))
    assert problems == []


def test_every_example_program_is_run_by_a_test() -> None:
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py"))
    examples = [p for p in (ROOT / "docs" / "examples").iterdir() if p.suffix in (".py", ".toml")]
    assert examples
    # A program is imported by its module name; a config is read by its file name.
    untested = [p.name for p in examples if (p.stem if p.suffix == ".py" else p.name) not in tests]
    assert untested == []


# -- the rules themselves ---------------------------------------------------------------


async def run_text(text: str, tmp_path: Path) -> int:
    return await run_page(tmp_path / "page.md", tmp_path, text)


async def test_an_unmarked_block_that_fails_fails_its_page_naming_the_line(
    tmp_path: Path,
) -> None:
    page = "# Page\n\n```python\nx = 1\nraise ValueError('wrong')\n```\n"
    with pytest.raises(pytest.fail.Exception, match=r"page\.md:4: the snippet raised ValueError"):
        await run_text(page, tmp_path)


async def test_blocks_marked_not_to_run_are_still_compiled(tmp_path: Path) -> None:
    runtime_error = "<!-- snippet: needs-device (a real doorbell) -->\n```python\n1 / 0\n```\n"
    assert await run_text(runtime_error, tmp_path) == 1
    syntax_error = "<!-- snippet: fragment (a method) -->\n\n```python\ndef f(:\n```\n"
    with pytest.raises(pytest.fail.Exception, match="not valid Python"):
        await run_text(syntax_error, tmp_path)


@pytest.mark.parametrize(
    ("marker", "problem"),
    [
        ("<!-- snippet: needs-device -->", "needs a reason"),
        ("<!-- snippet: needs-device () -->", "needs a reason"),
        ("<!-- snippet: skip (flaky) -->", "unknown snippet marker"),
    ],
)
def test_markers_need_a_known_kind_and_a_reason(marker: str, problem: str) -> None:
    with pytest.raises(MarkerError, match=problem):
        list(snippets(Path("page.md"), f"{marker}\n```python\npass\n```\n"))


def test_a_marker_must_stand_above_a_python_block() -> None:
    text = "<!-- snippet: fragment (a shell line) -->\n```console\n$ camsdk demo\n```\n"
    with pytest.raises(MarkerError, match="right above"):
        list(snippets(Path("page.md"), text))


async def test_a_page_is_one_namespace_with_elided_loops_run_once(tmp_path: Path) -> None:
    text = """
```python
import asyncio
seen = []

async def numbers():
    for n in range(1000):
        seen.append(n)
        yield n

async def main() -> None:
    async for n in numbers():
        ...

asyncio.run(main())
```

```python
assert seen == [0], seen   # the loop ran once; this block sees the first one's names
```
"""
    assert await run_text(text, tmp_path) == 2


async def test_test_functions_a_block_defines_are_called(tmp_path: Path) -> None:
    text = "```python\nasync def test_it():\n    raise ValueError('called')\n```\n"
    with pytest.raises(pytest.fail.Exception, match="ValueError"):
        await run_text(text, tmp_path)
    with_fixture = text.replace("test_it()", "test_it(server)")
    assert await run_text(with_fixture, tmp_path) == 1  # fixtures are pytest's business


async def test_a_runs_forever_block_must_keep_running(tmp_path: Path) -> None:
    forever = "<!-- snippet: runs-forever (a server) -->\n```python\nimport asyncio\n" \
        "await asyncio.Event().wait()\n```\n"
    assert await run_text(forever, tmp_path) == 1
    ends = forever.replace("await asyncio.Event().wait()", "pass")
    with pytest.raises(pytest.fail.Exception, match="ended by itself"):
        await run_text(ends, tmp_path)


async def test_a_placeholder_no_simulator_stands_in_for_is_named(tmp_path: Path) -> None:
    text = '```python\nimport camsdk\ncam = camsdk.open("acme://192.168.1.30")\n```\n'
    with pytest.raises(pytest.fail.Exception, match=r"page\.md:2: no simulator .* acme://"):
        await run_text(text, tmp_path)


async def test_placeholder_hosts_and_given_names_meet_stand_ins(tmp_path: Path) -> None:
    text = """
```python
import camsdk

async with camsdk.open("rtsp://192.168.1.20/Streaming/Channels/101", credentials=creds) as rtsp:
    snap = await rtsp.snapshot()
assert snap.jpeg.startswith(b"\\xff\\xd8")
assert "127.0.0.1" in rtsp.url
```
"""
    assert await run_text(text, tmp_path) == 1


async def test_password_variables_a_snippet_reads_hold_the_simulators_password(
    tmp_path: Path,
) -> None:
    text = '```python\nimport os\nassert os.environ["DOOR_CAMERA_PASSWORD"] == "secret"\n```\n'
    assert await run_text(text, tmp_path) == 1
