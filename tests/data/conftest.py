import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("pycsc_tests_toy", Path(__file__).parents[1] / "data" / "_toy.py")
_toy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_toy)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A tiny CellMap-layout dataset: EM, two training crops, one held-out test crop."""
    return _toy.build_toy(tmp_path_factory.mktemp("toy"))
