"""The public surface of `camsdk.privacy`: sorted, complete, documented, light to import."""

from __future__ import annotations

import subprocess
import sys

import camsdk.privacy as privacy


def test_all_is_sorted_and_unique() -> None:
    assert privacy.__all__ == sorted(set(privacy.__all__))


def test_every_exported_name_resolves_and_has_a_docstring() -> None:
    for name in privacy.__all__:
        value = getattr(privacy, name)
        if isinstance(value, str):  # constants such as ANY
            continue
        assert getattr(value, "__doc__", None), f"{name} has no docstring"


def test_public_names_of_private_modules_are_exported() -> None:
    from camsdk.privacy import _grants, _masks, _policy, _report

    for module in (_grants, _masks, _policy, _report):
        for name in module.__all__:
            assert name in privacy.__all__, f"{module.__name__}.{name} is not exported"


def test_importing_privacy_does_not_import_av() -> None:
    code = "import sys, camsdk.privacy; assert 'av' not in sys.modules, 'av imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
