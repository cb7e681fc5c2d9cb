"""The public surface: `camsdk.__all__` is sorted, complete and importable."""

import subprocess
import sys

import camsdk


def test_all_is_sorted_and_unique() -> None:
    assert camsdk.__all__ == sorted(set(camsdk.__all__))


def test_every_exported_name_resolves_and_has_a_docstring() -> None:
    for name in camsdk.__all__:
        value = getattr(camsdk, name)
        if name in {"__version__", "OWNER"}:
            continue
        assert getattr(value, "__doc__", None), f"{name} has no docstring"


def test_public_names_defined_in_private_modules_are_exported() -> None:
    import camsdk._errors as errors
    import camsdk._models as models

    for module in (errors, models):
        for name in module.__all__:
            assert name in camsdk.__all__, f"{module.__name__}.{name} is not exported"


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        camsdk.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_camsdk_imports_neither_av_nor_drivers() -> None:
    code = (
        "import sys, camsdk; "
        "bad = [m for m in sys.modules if m == 'av' or m.startswith('av.') "
        "or m.startswith('camsdk.drivers') or m == 'httpx']; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
