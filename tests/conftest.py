import numpy as np
import pytest


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
