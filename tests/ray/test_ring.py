"""`HashRing`: stable owners, few moves when nodes come and go, eligibility by labels."""

from __future__ import annotations

from collections import Counter

import pytest

from camsdk.ray import FleetConfig, HashRing

KEYS = [f"camera-{i}" for i in range(2000)]


def _owners(ring: HashRing) -> dict[str, str | None]:
    return {key: ring.owner(key) for key in KEYS}


def test_an_empty_ring_owns_nothing() -> None:
    assert HashRing().owner("camera") is None


def test_owners_do_not_depend_on_the_order_nodes_were_added() -> None:
    assert _owners(HashRing(["a", "b", "c"])) == _owners(HashRing(["c", "a", "b"]))


def test_virtual_nodes_balance_the_keys() -> None:
    counts = Counter(_owners(HashRing([f"node-{i}" for i in range(4)], vnodes=128)).values())
    assert min(counts.values()) > 0.6 * len(KEYS) / 4


def test_adding_a_node_moves_only_about_one_nth_of_the_keys_and_only_to_it() -> None:
    ring = HashRing([f"node-{i}" for i in range(4)], vnodes=128)
    before = _owners(ring)
    ring.add("node-4")
    after = _owners(ring)
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(after[k] == "node-4" for k in moved)
    assert 0.5 * len(KEYS) / 5 < len(moved) < 1.5 * len(KEYS) / 5


def test_removing_a_node_moves_only_its_own_keys() -> None:
    ring = HashRing([f"node-{i}" for i in range(5)], vnodes=128)
    before = _owners(ring)
    ring.remove("node-2")
    after = _owners(ring)
    moved = {k for k in KEYS if before[k] != after[k]}
    assert moved == {k for k in KEYS if before[k] == "node-2"}


def test_ineligible_nodes_are_skipped_and_the_rest_stay_consistent() -> None:
    ring = HashRing(["gpu-1", "cpu-1", "cpu-2"], vnodes=64)
    on_gpu = {k: ring.owner(k, eligible=lambda n: n.startswith("gpu")) for k in KEYS[:100]}
    assert set(on_gpu.values()) == {"gpu-1"}
    # Restricted to a subset, the ring agrees with a ring of that subset alone.
    cpu_only = HashRing(["cpu-1", "cpu-2"], vnodes=64)
    assert all(ring.owner(k, eligible=lambda n: n.startswith("cpu")) == cpu_only.owner(k)
               for k in KEYS[:200])


def test_owners_lists_fallbacks_in_ring_order_without_repeats() -> None:
    ring = HashRing(["a", "b", "c"])
    order = ring.owners("camera-1")
    assert sorted(order) == ["a", "b", "c"] and order[0] == ring.owner("camera-1")


def test_a_vnode_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        HashRing(vnodes=0)


def test_camera_groups_do_not_depend_on_the_cluster() -> None:
    config = FleetConfig.model_validate({
        "fleet": {"groups": 4, "node_labels": {"role": "camera"}},
        "cameras": [{"name": f"c{i}", "url": f"virtual://c{i}"} for i in range(40)]
        + [{"name": "gate", "url": "virtual://gate", "labels": {"site": "b"}}],
    })
    groups = config.groups()
    assert len([g for g in groups if g.endswith("@role=camera")]) == 4
    assert config.group_of(config.camera("gate")).endswith("@role=camera,site=b")
    assert sum(len(cams) for cams in groups.values()) == 41
