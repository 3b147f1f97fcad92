"""Fused threshold + components + size filter vs cc3d + dust + fastremap (exact ids)."""

import numpy as np
import pytest

cc3d = pytest.importorskip("cc3d")
fastremap = pytest.importorskip("fastremap")

from pycsc import _core  # noqa: E402
from pycsc.predict.run import decode_probabilities  # noqa: E402
from pycsc.process.segment import (  # noqa: E402
    components, foreground, id_dtype, keep_table, label_objects, uint8_cutoff)


def reference_objects(mask, connectivity, min_size):
    """cc3d components, objects below min_size dropped, renumbered 1..n in raster order."""
    labels = cc3d.connected_components(mask.astype(np.uint8), connectivity=connectivity)
    if min_size > 1:
        labels = cc3d.dust(labels, threshold=min_size, connectivity=connectivity)
    labels, _ = fastremap.renumber(labels, in_place=False)
    return labels


def stored_probs(shape, seed, density=0.5):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < density).astype(np.uint8) * rng.integers(0, 256, shape).astype(np.uint8)


SHAPES = [(0, 4, 4), (1, 1, 1), (1, 9, 13), (7, 1, 5), (5, 6, 1), (13, 17, 19), (24, 20, 33)]


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("min_size", [0, 1, 3, 25])
@pytest.mark.parametrize("in_place", [False, True])
def test_label_objects_equals_cc3d_dust_renumber(shape, connectivity, min_size, in_place):
    raw = stored_probs(shape, hash((shape, connectivity, min_size)) % 2**32)
    expected = reference_objects(decode_probabilities(raw) > 0.4, connectivity, min_size)
    fg = foreground(raw.copy(), 0.4)
    labels, n = label_objects(fg, connectivity, min_size, in_place=in_place)
    if in_place and raw.size:
        np.testing.assert_array_equal(fg.data, decode_probabilities(raw) > 0.4)   # now the mask
    else:
        np.testing.assert_array_equal(fg.data, raw)
    assert labels.shape == shape
    np.testing.assert_array_equal(labels, expected)
    assert n == int(expected.max(initial=0))
    assert labels.dtype == np.min_scalar_type(n)


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_components_statistics(connectivity):
    raw = stored_probs((15, 16, 17), connectivity, density=0.3)
    ids, n, sizes, first = components(foreground(raw, 0.0), connectivity)
    expected, n_expected = cc3d.connected_components(raw > 0, connectivity=connectivity, return_N=True)
    np.testing.assert_array_equal(ids, expected)
    assert n == n_expected
    np.testing.assert_array_equal(sizes, np.bincount(expected.ravel(), minlength=n + 1))
    values, index = np.unique(expected.ravel(), return_index=True)
    np.testing.assert_array_equal(first[values[values > 0]], index[values > 0])
    assert first[0] == -1


def test_core_statistics_count_only_the_core_box():
    raw = stored_probs((10, 11, 12), 3, density=0.6)
    core = (7, 8, 9)
    ids, n, sizes, first = _core.threshold_components(raw, 1, 26, core=core)
    inner = ids[:7, :8, :9]
    np.testing.assert_array_equal(sizes, np.bincount(inner.ravel(), minlength=n + 1))
    values, index = np.unique(inner.ravel(), return_index=True)
    np.testing.assert_array_equal(first[values[values > 0]], index[values > 0])
    absent = np.setdiff1d(np.arange(1, n + 1), values)
    assert (first[absent] == np.iinfo(np.int64).max).all()


def test_wide_ids_and_errors():
    raw = stored_probs((6, 7, 8), 5)
    narrow = _core.threshold_components(raw, 100, 26)
    wide = _core.threshold_components(raw, 100, 26, force_wide=True)
    assert wide[0].dtype == np.uint64 and narrow[0].dtype == np.uint32
    np.testing.assert_array_equal(wide[0], narrow[0])
    with pytest.raises(ValueError, match="connectivity"):
        _core.threshold_components(raw, 100, 8)
    with pytest.raises(ValueError, match="cutoff"):
        _core.threshold_components(raw, 0, 26)
    with pytest.raises(TypeError, match="uint8"):
        _core.threshold_components(raw.astype(np.uint16), 100, 26)
    frozen = raw.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        _core.threshold_components(frozen, 100, 26, in_place=True)
    with pytest.raises(ValueError, match="start with 0"):
        _core.apply_id_table(narrow[0], np.ones(narrow[1] + 1, np.uint8))
    with pytest.raises(ValueError, match="beyond the table"):
        _core.apply_id_table(narrow[0], np.zeros(1, np.uint8))


@pytest.mark.parametrize("table_dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("ids_dtype", [np.uint32, np.uint64])
def test_apply_id_table_matches_numpy(ids_dtype, table_dtype):
    rng = np.random.default_rng(1)
    ids = (rng.random((9, 10, 11)) < 0.5) * rng.integers(0, 40, (9, 10, 11))
    ids = np.repeat(ids, 3, axis=2).astype(ids_dtype)          # runs of equal ids
    table = rng.integers(0, np.iinfo(table_dtype).max, 40, dtype=np.uint64).astype(table_dtype)
    table[0] = 0
    out = _core.apply_id_table(ids, table)
    assert out.dtype == table_dtype
    np.testing.assert_array_equal(out, table[ids.astype(np.int64)])
    guided = _core.apply_id_table(ids, table, (ids != 0).view(np.uint8))
    np.testing.assert_array_equal(guided, out)
    with pytest.raises(ValueError, match="mask"):
        _core.apply_id_table(ids, table, np.zeros(3, np.uint8))


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.6, 127 / 255, 128 / 255, 254.5 / 255, 1.0])
@pytest.mark.parametrize("dtype", ["uint8", "float16", "float32", "float64"])
def test_foreground_matches_decoded_threshold(threshold, dtype):
    values = np.arange(256, dtype=np.uint8) if dtype == "uint8" else \
        np.concatenate([np.linspace(0, 1, 301), np.arange(256) / 255, [threshold]]).astype(dtype)
    stored = np.resize(values, (2, 3, values.size))
    mask = foreground(stored, threshold).as_mask()
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, decode_probabilities(stored) > threshold)


def test_uint8_cutoff_edges():
    assert uint8_cutoff(0.0) == 1
    assert uint8_cutoff(1.0) == 256
    fg = foreground(np.full((2, 2, 2), 255, np.uint8), 1.0)
    labels, n = label_objects(fg, 26, 0)
    assert n == 0 and not labels.any()


def test_id_dtype_and_keep_table():
    assert [id_dtype(n).name for n in (0, 255, 256, 65535, 65536, 2**32 - 1, 2**32)] == \
        ["uint8", "uint8", "uint16", "uint16", "uint32", "uint32", "uint64"]
    table, kept = keep_table(np.array([100, 5, 1, 7, 2]), 3)
    assert kept == 2 and table.tolist() == [0, 1, 0, 2, 0] and table.dtype == np.uint8


def test_reused_id_buffer_gives_the_same_labels():
    from pycsc.process import segment

    segment.release_buffers()
    for seed in range(4):                              # same shape: the buffer is reused
        raw = stored_probs((12, 13, 14), seed, density=0.4)
        expected = reference_objects(decode_probabilities(raw) > 0.5, 26, 3)
        labels, n = label_objects(foreground(raw.copy(), 0.5), 26, 3, in_place=True, reuse_ids=True)
        np.testing.assert_array_equal(labels, expected)
        (kept,) = segment._IDS_POOL.values()
        assert not kept.any()                          # zero-filled again for the next volume
    segment.release_buffers()
    assert not segment._IDS_POOL
