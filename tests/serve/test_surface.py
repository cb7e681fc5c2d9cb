"""`camsdk.serve`'s public surface, its laziness, and unanswered requests expiring."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest

import camsdk.serve as serve
from camsdk.testing import wait_until

from ._helpers import WAIT, Requester, site_config, started


def test_all_is_sorted_and_every_name_is_documented() -> None:
    assert serve.__all__ == sorted(set(serve.__all__))
    for name in serve.__all__:
        assert getattr(getattr(serve, name), "__doc__", None), f"{name} has no docstring"


def test_importing_camsdk_or_building_its_cli_does_not_import_the_gateway() -> None:
    code = (
        "import sys, camsdk, camsdk.cli; camsdk.cli.build_parser(); "
        "loaded = [m for m in ('camsdk.serve', 'starlette', 'uvicorn') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.anyio
async def test_an_unanswered_request_expires_and_the_report_counts_it(tmp_path: Path) -> None:
    gateway = await started(site_config(tmp_path, retention={"pending_days": 1e-5}))
    try:
        requester = Requester(gateway, "Patient")
        async with requester.client:
            request_id = await requester.submit()
            with anyio.fail_after(WAIT):
                await wait_until(lambda: gateway.apply_retention()["requests"] == 1)
            state = (await requester.client.get(f"/api/v1/requests/{request_id}")).json()
        assert state["state"] == "expired"
        totals = gateway.report().as_dict()["totals"]
        assert (totals["received"], totals["expired"], totals["approved"]) == (1, 1, 0)
    finally:
        await gateway.aclose()
