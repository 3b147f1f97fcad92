"""The docstring examples of the public modules run (against the installed package)."""

import doctest
import importlib
import pkgutil

import pytest

import pycsc

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(pycsc.__path__, prefix="pycsc.")
    if not m.name.split(".")[-1].startswith("_") and ".cli." not in m.name
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # optional dependency (torch, cupy) not installed
        pytest.skip(f"{name}: {exc}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
