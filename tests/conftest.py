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
