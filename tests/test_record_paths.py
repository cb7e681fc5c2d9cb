"""Where `Camera.record` writes: never through a planted link, typed errors for bad paths.

A clip is written to a temporary file created exclusively next to the
target and moved into place when complete, so a symlink planted at the
target (or at a predictable temporary name) is never written through, a
directory that vanishes mid-recording is a `RecordingError` and leaves
nothing half-written behind, and a path that cannot work is refused before
any media is read.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

import camsdk
import camsdk.testing
from camsdk import ConfigurationError, RecordingError

pytestmark = pytest.mark.anyio

URL = "virtual://recpath?size=160x120&fps=30&gop=15"
WAIT = 15.0


async def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "clip.mp4"
    target.symlink_to(victim)
    with anyio.fail_after(WAIT):
        async with camsdk.open(URL) as cam:
            clip = await cam.record(target, duration=0.5)
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.stat().st_size == clip.path.stat().st_size
    assert clip.video_packets > 0


async def test_planted_temporary_names_are_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    # The old fixed temporary name, and a few guesses at others.
    for name in (".clip.mp4.part", ".clip.mp4.tmp", "clip.mp4.part"):
        (tmp_path / name).symlink_to(victim)
    with anyio.fail_after(WAIT):
        async with camsdk.open(URL) as cam:
            await cam.record(tmp_path / "clip.mp4", duration=0.5)
    assert victim.read_text() == "precious"


async def test_a_directory_that_vanishes_mid_recording_is_a_recording_error(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    progress_seen = anyio.Event()

    def on_progress(fraction: float) -> None:
        if fraction > 0 and not progress_seen.is_set():
            for leftover in folder.iterdir():
                leftover.unlink()
            folder.rmdir()
            progress_seen.set()

    with anyio.fail_after(WAIT):
        async with camsdk.open(URL) as cam:
            with pytest.raises(RecordingError) as info:
                await cam.record(folder / "clip.mp4", duration=2.0, progress=on_progress)
    assert progress_seen.is_set()
    assert isinstance(info.value, OSError)
    assert not folder.exists()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("missing/clip.mp4", "does not exist"),
        ("clip.weird", "cannot tell the container"),
        (".", "is a directory"),
    ],
)
async def test_a_path_that_cannot_work_is_refused_before_any_media(
    tmp_path: Path, name: str, problem: str
) -> None:
    async with camsdk.open("virtual://recpath-bad?size=160x120") as cam:
        target = tmp_path / name if name != "." else tmp_path / "dir.mp4"
        if name == ".":
            target.mkdir()
        with pytest.raises(ConfigurationError, match=problem):
            await cam.record(target, duration=1)
    device = camsdk.testing.virtual_device("recpath-bad")
    assert device.streams_opened == 0


async def test_an_unwritable_directory_is_refused_before_any_media(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root writes anywhere, so the refusal of the OS is simulated where it happens.
    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("camsdk._recording.tempfile.mkstemp", refuse)
    async with camsdk.open("virtual://recpath-ro?size=160x120") as cam:
        with pytest.raises(ConfigurationError, match="cannot write"):
            await cam.record(tmp_path / "clip.mp4", duration=1)
    assert camsdk.testing.virtual_device("recpath-ro").streams_opened == 0
