"""Blockwise labelling equals whole-volume connected components (cc3d as the oracle)."""

import numpy as np
import pytest

cc3d = pytest.importorskip("cc3d")

from pycsc.process.blockwise import blocks, label_blockwise, relabel_blocks, union_pairs  # noqa: E402


def _same_partition(a, b):
    """Equal up to a renumbering of the non-zero ids."""
    if not np.array_equal(a == 0, b == 0):
        return False
    pairs = np.unique(np.stack([a[a > 0], b[b > 0]], axis=1), axis=0)
    return len(np.unique(pairs[:, 0])) == len(pairs) == len(np.unique(pairs[:, 1]))


def _blockwise(mask, block, connectivity, min_size=0):
    prov = np.zeros(mask.shape, np.uint64)
    out = np.zeros(mask.shape, np.uint64)
    n, table = label_blockwise(lambda sl: mask[sl], mask.shape, block, connectivity, min_size, prov)
    relabel_blocks(prov, table, mask.shape, block, lambda sl, lab: out.__setitem__(sl, lab))
    return out, n


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("shape,block", [((20, 21, 22), (7, 8, 5)), ((9, 30, 30), (4, 4, 4)),
                                         ((16, 16, 16), (16, 16, 16)), ((5, 6, 7), (1, 2, 3))])
@pytest.mark.parametrize("density", [0.2, 0.45])
def test_matches_whole_volume_components(connectivity, shape, block, density):
    rng = np.random.default_rng(hash((connectivity, shape, density)) % 2**32)
    mask = rng.random(shape) < density
    expected, n_expected = cc3d.connected_components(mask.astype(np.uint8), connectivity=connectivity, return_N=True)
    got, n = _blockwise(mask, block, connectivity)
    assert n == n_expected
    assert _same_partition(got, expected)
    assert got.max() == n     # consecutive ids


@pytest.mark.parametrize("min_size", [2, 5, 40])
def test_size_filter(min_size):
    rng = np.random.default_rng(min_size)
    mask = rng.random((18, 18, 18)) < 0.3
    labels = cc3d.connected_components(mask.astype(np.uint8), connectivity=26)
    ids, counts = np.unique(labels, return_counts=True)
    small = ids[(ids > 0) & (counts < min_size)]
    kept_mask = mask & ~np.isin(labels, small)
    got, n = _blockwise(mask, (5, 6, 7), 26, min_size)
    assert n == len(ids) - 1 - len(small)
    assert _same_partition(got, np.where(kept_mask, labels, 0))


def test_empty_and_full():
    got, n = _blockwise(np.zeros((4, 5, 6), bool), (2, 2, 2), 26)
    assert n == 0 and not got.any()
    got, n = _blockwise(np.ones((4, 5, 6), bool), (2, 2, 2), 6)
    assert n == 1 and (got == 1).all()


def test_union_pairs_and_blocks():
    roots = union_pairs(5, np.array([[2, 4], [4, 5], [1, 3]], np.uint64))
    assert roots.tolist() == [0, 1, 2, 1, 2, 2]
    tiles = list(blocks((5, 4, 3), (2, 4, 2)))
    assert len(tiles) == 3 * 1 * 2 and tiles[-1] == (slice(4, 5), slice(0, 4), slice(2, 3))
