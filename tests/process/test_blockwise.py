"""Blockwise labelling equals whole-volume cc3d + dust + renumber, voxel for voxel."""

import numpy as np
import pytest

cc3d = pytest.importorskip("cc3d")
fastremap = pytest.importorskip("fastremap")

from pycsc.process.blockwise import blocks, label_blockwise, union_pairs, write_blockwise  # noqa: E402
from pycsc.process.segment import foreground  # noqa: E402


def reference_objects(mask, connectivity, min_size):
    labels = cc3d.connected_components(mask.astype(np.uint8), connectivity=connectivity)
    if min_size > 1:
        labels = cc3d.dust(labels, threshold=min_size, connectivity=connectivity)
    return fastremap.renumber(labels, in_place=False)[0]


def _blockwise(stored, block, connectivity, min_size=0, threshold=0.5):
    def read_fg(region):
        return foreground(stored[region], threshold)

    labels = label_blockwise(read_fg, stored.shape, block, connectivity, min_size)
    out = np.zeros(stored.shape, labels.table.dtype)
    written = []

    def write(region, data):
        assert data.dtype == labels.table.dtype
        written.append(region)
        out[region] = data

    write_blockwise(read_fg, labels, connectivity, write)
    return out, labels.n, written


def _stored(mask):
    return mask.astype(np.uint8) * 200


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("shape,block", [((20, 21, 22), (7, 8, 5)), ((9, 30, 30), (4, 4, 4)),
                                         ((16, 16, 16), (16, 16, 16)), ((5, 6, 7), (1, 2, 3)),
                                         ((1, 25, 30), (1, 6, 7)), ((12, 13, 1), (5, 5, 1))])
@pytest.mark.parametrize("density", [0.2, 0.45])
def test_matches_whole_volume_components(connectivity, shape, block, density):
    rng = np.random.default_rng(hash((connectivity, shape, density)) % 2**32)
    mask = rng.random(shape) < density
    expected = reference_objects(mask, connectivity, 0)
    got, n, _ = _blockwise(_stored(mask), block, connectivity)
    np.testing.assert_array_equal(got, expected)
    assert n == int(expected.max(initial=0))


def test_diagonal_contacts_across_block_edges_and_corners():
    """Objects that touch only across a block edge or corner (no shared face)."""
    mask = np.zeros((4, 4, 8), bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True          # corner contact between blocks (0,0,0), (1,1,1)
    mask[1, 1, 5] = mask[2, 2, 5] = True          # edge contact (y and z cross, x inside)
    mask[1, 2, 7] = mask[2, 1, 7] = True          # edge contact the other way: +z, -y
    for connectivity, objects in ((26, 3), (18, 4), (6, 6)):
        got, n, _ = _blockwise(_stored(mask), (2, 2, 2), connectivity)
        np.testing.assert_array_equal(got, reference_objects(mask, connectivity, 0))
        assert n == objects


@pytest.mark.parametrize("connectivity", [6, 26])
@pytest.mark.parametrize("min_size", [2, 5, 40])
def test_size_filter_counts_whole_objects(min_size, connectivity):
    rng = np.random.default_rng(min_size)
    mask = rng.random((18, 18, 18)) < 0.3
    expected = reference_objects(mask, connectivity, min_size)
    got, n, _ = _blockwise(_stored(mask), (5, 6, 7), connectivity, min_size)
    np.testing.assert_array_equal(got, expected)
    assert n == int(expected.max(initial=0))


def test_empty_full_and_skipped_blocks():
    got, n, written = _blockwise(np.zeros((4, 5, 6), np.uint8), (2, 2, 2), 26)
    assert n == 0 and not got.any() and written == []
    got, n, _ = _blockwise(np.full((4, 5, 6), 255, np.uint8), (2, 2, 2), 6)
    assert n == 1 and (got == 1).all()
    mask = np.zeros((8, 8, 8), bool)
    mask[0:2, 0:2, 0:2] = True
    got, n, written = _blockwise(_stored(mask), (4, 4, 4), 26)
    assert n == 1 and len(written) == 1           # blocks without objects are not written


def test_many_objects_give_wide_dtype():
    mask = np.zeros((4, 40, 40), bool)
    mask[::2, ::2, ::2] = True                    # 2 * 20 * 20 = 800 single voxels
    got, n, _ = _blockwise(_stored(mask), (3, 7, 9), 6)
    assert n == 800 and got.dtype == np.uint16
    np.testing.assert_array_equal(got, reference_objects(mask, 6, 0))


def test_union_pairs_and_blocks():
    roots = union_pairs(5, np.array([[2, 4], [4, 5], [1, 3]], np.int64))
    assert roots.tolist() == [0, 1, 2, 1, 2, 2]
    tiles = list(blocks((5, 4, 3), (2, 4, 2)))
    assert len(tiles) == 3 * 1 * 2 and tiles[-1] == (slice(4, 5), slice(0, 4), slice(2, 3))
