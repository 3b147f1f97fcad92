"""Window placement covers every voxel, ends included."""

import numpy as np
import pytest

from pycsc.data.crops import select_shard
from pycsc.predict.tiling import blend_weights, window_grid, window_starts


@pytest.mark.parametrize("n", [1, 2, 7, 16, 17, 31, 32, 33, 100, 150, 600])
@pytest.mark.parametrize("w", [1, 4, 16, 128])
@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.9])
def test_windows_cover_every_voxel(n, w, overlap):
    starts = window_starts(n, w, overlap)
    if n <= w:
        assert starts == [(n - w) // 2]
        assert starts[0] <= 0 and starts[0] + w >= n
        return
    covered = np.zeros(n, int)
    for s in starts:
        assert 0 <= s <= n - w
        covered[s:s + w] += 1
    assert covered.min() >= 1
    assert starts == sorted(set(starts)) and starts[0] == 0 and starts[-1] == n - w
    stride = max(1, round(w * (1 - overlap)))
    assert max(np.diff(starts)) <= stride


def test_grid_is_product():
    grid = window_grid((10, 3, 20), (4, 8, 8), 0.0)
    assert len(grid) == 3 * 1 * 3 and grid[0] == (0, -3, 0) and grid[-1] == (6, -3, 12)


def test_blend_weights():
    g = blend_weights((1, 9, 16), "gaussian")
    assert g.shape == (1, 9, 16) and g.max() == 1.0 and g.min() >= 1e-3
    assert g[0, 4, 7] > g[0, 0, 0]
    np.testing.assert_array_equal(g, g[:, ::-1, ::-1])          # symmetric
    assert (blend_weights((2, 3, 4), "constant") == 1).all()


def test_shards_partition_the_crops():
    items = list(range(11))
    shards = [select_shard(items, f"{i}/4") for i in range(1, 5)]
    assert sorted(sum(shards, [])) == items
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert select_shard(items, None) == items
