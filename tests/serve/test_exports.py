"""Exports: a clip of the granted window, a manifest signed by the owner, and its check."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import av
import pytest

from camsdk.cli import main
from camsdk.privacy import generate_signing_key, save_public_key
from camsdk.serve import Gateway, verify_export
from camsdk.serve._footage import list_segments
from camsdk.testing import wait_until

from ._helpers import WAIT, OwnerClient, Requester, site_config, started

pytestmark = pytest.mark.anyio

MASK = {"points": [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]], "label": "right half"}


async def _footage(gateway: Gateway, segments: int = 3) -> tuple[datetime, datetime]:
    """Wait until ``segments`` segments of porch are kept; their span."""
    folder = gateway.inventory.footage_dir("porch")
    with anyio.fail_after(WAIT):
        await wait_until(lambda: len(list_segments(folder)) >= segments)
    kept = list_segments(folder)
    return kept[0].start, kept[-1].end


async def _recorded_grant(owner: OwnerClient, requester: Requester, start: datetime,
                          end: datetime, **approval: Any) -> str:
    request_id = await requester.submit(mode="recorded", footage_from=start.isoformat(),
                                        footage_until=end.isoformat())
    [grant] = await owner.approve(request_id, **approval)
    return grant


async def _ready(gateway: Gateway, requester: Requester, grant: str, start: datetime,
                 end: datetime) -> dict[str, Any]:
    response = await requester.client.post("/api/v1/exports", json={
        "grant_id": grant, "camera": "porch", "footage_from": start.isoformat(),
        "footage_until": end.isoformat()})
    assert response.status_code == 202, response.text
    export_id = response.json()["export_id"]
    with anyio.fail_after(WAIT):
        await wait_until(lambda: gateway.exports[export_id].state != "pending")
    state = (await requester.client.get(f"/api/v1/exports/{export_id}")).json()
    assert state["state"] == "ready", state
    return state  # type: ignore[no-any-return]


async def _download(requester: Requester, export_id: str, folder: Path) -> Path:
    clip = folder / "clip.mp4"
    clip.write_bytes((await requester.client.get(f"/api/v1/exports/{export_id}/clip.mp4")).content)
    manifest = await requester.client.get(f"/api/v1/exports/{export_id}/manifest.json")
    assert manifest.status_code == 200
    clip.with_name("clip.mp4.manifest.json").write_bytes(manifest.content)
    return clip


def _frames(path: Path) -> list[Any]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


async def test_a_clip_of_the_granted_window_carries_a_manifest_signed_by_the_owner(
    gateway: Gateway, owner: OwnerClient, requester: Requester, tmp_path: Path
) -> None:
    start, end = await _footage(gateway)
    grant = await _recorded_grant(owner, requester, start, end)
    # Ask for the middle of the footage: the clip must start no earlier than asked.
    asked_from = start + (end - start) / 3
    state = await _ready(gateway, requester, grant, asked_from, end)
    clip = await _download(requester, state["export_id"], tmp_path)
    result = verify_export(clip, public_key=gateway.key.public_key())
    assert result.ok, result.reason
    manifest = result.manifest
    assert (manifest["grant_id"], manifest["requester"], manifest["camera"]) == (
        grant, requester.principal, "porch")
    first = datetime.fromisoformat(manifest["footage"]["first"])
    last = datetime.fromisoformat(manifest["footage"]["last"])
    assert asked_from <= first <= last < end
    assert len(_frames(clip)) == manifest["footage"]["frames"] > 5
    created = [r for r in gateway.audit.records() if r.get("event") == "export.created"]
    assert created[0]["sha256"] == manifest["sha256"]


async def test_export_verify_catches_an_altered_clip_manifest_or_signer(
    gateway: Gateway, owner: OwnerClient, requester: Requester, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start, end = await _footage(gateway, 2)
    grant = await _recorded_grant(owner, requester, start, end)
    clip = await _download(requester, (await _ready(gateway, requester, grant, start, end))[
        "export_id"], tmp_path)
    owner_pub = tmp_path / "owner.pub"
    save_public_key(gateway.key, owner_pub)
    assert main(["export", "verify", str(clip), "--key", str(owner_pub)]) == 0
    assert "OK:" in capsys.readouterr().out

    stranger = tmp_path / "stranger.pub"
    save_public_key(generate_signing_key(), stranger)
    assert main(["export", "verify", str(clip), "--key", str(stranger)]) == 1

    manifest_path = clip.with_name(clip.name + ".manifest.json")
    original = manifest_path.read_bytes()
    edited = json.loads(original)
    edited["window"]["until"] = "2099-01-01T00:00:00+00:00"
    manifest_path.write_text(json.dumps(edited))
    assert main(["export", "verify", str(clip)]) == 1
    assert "altered" in capsys.readouterr().out

    manifest_path.write_bytes(original)
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 0xFF
    clip.write_bytes(bytes(data))
    assert main(["export", "verify", str(clip)]) == 1
    assert "differs" in capsys.readouterr().out


async def test_a_masked_grant_gets_a_masked_clip(
    gateway: Gateway, owner: OwnerClient, requester: Requester, tmp_path: Path
) -> None:
    start, end = await _footage(gateway, 2)
    grant = await _recorded_grant(owner, requester, start, end, masks={"porch": [MASK]})
    state = await _ready(gateway, requester, grant, start, end)
    assert state["masked"] is True
    frames = _frames(await _download(requester, state["export_id"], tmp_path))
    assert frames
    for frame in frames:
        assert frame[:, 170:].max() <= 24 and frame[:, :150].std() > 10


async def test_after_revocation_the_clip_is_no_longer_handed_out(
    gateway: Gateway, owner: OwnerClient, requester: Requester
) -> None:
    start, end = await _footage(gateway, 2)
    grant = await _recorded_grant(owner, requester, start, end)
    state = await _ready(gateway, requester, grant, start, end)
    await owner.post(f"/owner/api/grants/{grant}/revoke")
    response = await requester.client.get(f"/api/v1/exports/{state['export_id']}/clip.mp4")
    assert response.status_code == 403


async def test_retention_deletes_old_footage_and_exports_and_records_each_deletion(
    tmp_path: Path,
) -> None:
    # A retention of about a second: everything already kept is old.
    config = site_config(tmp_path, retention={"footage_days": 1e-5, "exports_days": 1e-5})
    gateway = await started(config)
    try:
        await _footage(gateway, 2)
        gateway.exports["0" * 32] = _stale_export(gateway)
        with anyio.fail_after(WAIT):
            await wait_until(lambda: gateway.apply_retention()["footage"] > 0)
        deleted = [r for r in gateway.audit.records() if r.get("event") == "footage.deleted"]
        assert deleted and all(r["camera"] == "porch" for r in deleted)
        assert "0" * 32 not in gateway.exports
        assert any(r.get("event") == "export.deleted" for r in gateway.audit.records())
    finally:
        await gateway.aclose()


def _stale_export(gateway: Gateway) -> Any:
    from camsdk.serve._gateway import ExportJob

    old = datetime.now().astimezone() - timedelta(days=1)
    return ExportJob("0" * 32, "key:x", "g", "porch", old, old, old, state="ready")


def test_verify_export_refuses_a_file_that_is_not_a_manifest(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"\x00" * 16)
    clip.with_name("c.mp4.manifest.json").write_text("[1, 2]")
    assert not verify_export(clip).ok
    assert not verify_export(tmp_path / "missing.mp4").ok
