import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

# The headless-Chromium helpers of the browser tests (tests/viz, tests/report), importable as
# `pycsc_tests_browser` (tests/ is not a package).
_spec = importlib.util.spec_from_file_location("pycsc_tests_browser", Path(__file__).parent / "viz" / "_browser.py")
_browser = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _browser
_spec.loader.exec_module(_browser)


def pytest_collection_modifyitems(config, items):
    """GPU tests skip cleanly where no GPU backend is usable."""
    gpu_items = [it for it in items if it.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    from pycsc import _gpu

    ok, why = _gpu.gpu_status()
    if not ok:
        skip = pytest.mark.skip(reason=f"no GPU: {why}")
        for it in gpu_items:
            it.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _tied_splits(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(truth, pred): n separate truth boxes, about half split by pred into two equal halves
    (tied optimal matchings, where the official pick is OR-Tools'), pred ids shuffled."""
    truth = np.zeros((4, n * 6), np.uint32)
    pred = np.zeros_like(truth)
    next_pred = 1
    for obj in range(1, n + 1):
        x = (obj - 1) * 6
        truth[:, x:x + 4] = obj
        if rng.random() < 0.5:
            pred[:2, x:x + 4], pred[2:, x:x + 4] = next_pred, next_pred + 1
            next_pred += 2
        else:
            pred[:, x:x + 4] = next_pred
            next_pred += 1
    order = rng.permutation(next_pred - 1) + 1
    return truth, np.where(pred > 0, order[np.maximum(pred, 1) - 1], 0).astype(np.uint32)


@pytest.fixture
def tied_splits():
    """The builder of instance pairs with tied matchings: ``tied_splits(rng, n)``."""
    return _tied_splits


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless Chromium; the test skips, saying how to get one, where none is found."""
    path = _browser.find_chromium()
    if path is None:
        pytest.skip("headless Chromium not found: install Debian's `chromium` package (apt-get install -y "
                    "chromium; .ci/run does this) or set PYCSC_CHROMIUM to a Chromium executable")
    return path
