"""The kit's public table (`camsdk.driver`): every name resolves, is documented and listed."""

from __future__ import annotations

import inspect

import camsdk.driver as kit


def test_the_lazy_table_and_all_list_the_same_names() -> None:
    assert set(kit._EXPORTS) | {"USER_AGENT"} == set(kit.__all__)
    assert len(kit.__all__) == len(set(kit.__all__))


def test_every_kit_name_resolves_and_has_a_docstring() -> None:
    for name in kit.__all__:
        value = getattr(kit, name)
        if name in {"USER_AGENT", "DEFAULT_MAX_BYTES"}:
            continue
        assert inspect.getdoc(value), f"camsdk.driver.{name} has no docstring"


def test_the_follow_up_helpers_are_part_of_the_kit() -> None:
    for name in ("backoff_delay", "DeviceWebSocket"):
        assert name in kit.__all__, name
