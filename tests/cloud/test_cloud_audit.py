"""The egress rule for a cloud account's own requests: one record each, polls summarised."""

from __future__ import annotations

from typing import Any

import pytest

from camsdk.cloud import CloudAudit, request_record

from ._clock import ManualClock


def test_a_request_record_names_host_and_path_never_the_query() -> None:
    record = request_record("post", "https://oauth2.example.com/token?refresh_token=s3cret",
                            "refresh the access token")
    assert record == {"event": "cloud.request", "method": "POST", "host": "oauth2.example.com",
                      "path": "/token", "why": "refresh the access token"}


def test_account_requests_go_to_whoever_the_request_serves() -> None:
    hub: list[dict[str, Any]] = []
    camera: list[dict[str, Any]] = []
    audit = CloudAudit("nest", "proj")
    audit.attach("hub", hub.append)
    with audit.acting_for(camera.append):
        audit.request("GET", "https://sdm.example.com/v1/enterprises/p/devices/d", "read device")
    audit.request("GET", "https://sdm.example.com/v1/enterprises/p/devices", "list devices")
    assert [r["why"] for r in camera] == ["read device"]
    assert [r["why"] for r in hub] == ["list devices"]
    assert hub[0]["scheme"] == "nest" and hub[0]["account"] == "proj"


def test_a_record_that_cannot_be_written_stops_the_request() -> None:
    def broken(record: dict[str, Any]) -> None:
        raise PermissionError("audit disk full")

    audit = CloudAudit("nest", "proj")
    audit.attach("hub", broken)
    with pytest.raises(PermissionError):
        audit.request("GET", "https://sdm.example.com/v1/enterprises/p/devices", "list devices")


def test_periodic_requests_are_summarised_per_period_and_on_flush() -> None:
    clock = ManualClock()
    records: list[dict[str, Any]] = []
    audit = CloudAudit("nest", "proj", summary_every=900.0, clock=clock.clock)
    audit.attach("cam", records.append)
    url = "https://pubsub.example.com/v1/projects/c/subscriptions/s:pull"
    for second in range(0, 1800, 30):  # a pull every 30 s for half an hour
        clock.now = float(second)
        audit.periodic("pull events", "POST", url, items=1 if second % 300 == 0 else 0)
    audit.flush()
    assert [r["event"] for r in records] == ["cloud.polls", "cloud.polls"]
    assert sum(r["count"] for r in records) == 60
    assert sum(r["items"] for r in records) == 6
    assert records[0]["path"] == "/v1/projects/c/subscriptions/s:pull"


def test_a_bare_driver_outside_any_facade_writes_nothing() -> None:
    audit = CloudAudit("nest", "proj")
    audit.request("GET", "https://sdm.example.com/v1/x", "list devices")
    audit.periodic("pull", "POST", "https://pubsub.example.com/v1/x")
    audit.flush()
    assert audit.requests == 0 and audit.summaries == 0


def test_the_last_holder_leaving_takes_the_pending_summaries() -> None:
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    audit = CloudAudit("nest", "proj")
    audit.attach("hub", first.append)
    audit.attach("cam", second.append)
    audit.periodic("extend live streams", "POST", "https://sdm.example.com/v1/x")
    audit.detach("hub")
    assert first == [] and second == []
    audit.detach("cam")
    assert [r["what"] for r in second] == ["extend live streams"]
