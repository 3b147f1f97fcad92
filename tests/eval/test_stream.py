"""Chunk-by-chunk semantic counts (pycsc.eval.stream) against the dense official counts."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from pycsc.eval import EvaluateConfig, evaluate
from pycsc.eval.store import ZArray
from pycsc.eval.stream import stored_chunks, stream_semantic_counts

from .conftest import grid, write_array


def official_counts(pred, truth):
    """evaluation.md §6, in numpy: ``> 0`` on both (NaN -> background)."""
    p, t = (pred > 0).ravel(), (truth > 0).ravel()
    tp = int(np.count_nonzero(p & t))
    return {"tp": tp, "fp": int(p.sum()) - tp, "fn": int(t.sum()) - tp, "status": "scored"}


def sparse(rng, shape, dtype, chunks, fill):
    """Random values in a few chunk-sized regions, fill elsewhere (so most chunks are absent)."""
    a = np.full(shape, fill, dtype)
    for _ in range(3):
        c = [int(rng.integers(0, s)) for s in shape]
        sl = tuple(slice(ci, ci + k) for ci, k in zip(c, chunks))
        vals = rng.normal(0, 1, a[sl].shape)
        a[sl] = (vals > 0) if dtype == np.bool_ else vals.astype(dtype) if np.dtype(dtype).kind == "f" \
            else np.abs(vals * 3).astype(dtype)
    return a


@pytest.mark.parametrize("seed", range(10))
def test_stream_equals_dense_counts(tmp_path, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in rng.integers(1, 40, 3))
    t_chunks = tuple(int(v) for v in rng.integers(1, 16, 3))
    p_chunks = tuple(int(v) for v in rng.integers(1, 16, 3))
    t_dtype = [np.uint8, np.bool_, np.float32, np.int16][seed % 4]
    p_dtype = [np.float32, np.uint8, np.float64, np.bool_, np.int32][seed % 5]
    t_fill = 0 if seed % 3 else 1
    p_fill = [0, 1, -1.0 if np.dtype(p_dtype).kind == "f" else 0][seed % 3]
    truth = sparse(rng, shape, t_dtype, t_chunks, t_fill)
    pred = sparse(rng, shape, p_dtype, p_chunks, p_fill)
    if np.dtype(p_dtype).kind == "f":
        pred[tuple(rng.integers(0, s) for s in shape)] = np.nan
    sep = "/" if seed % 2 else "."
    order = "F" if seed % 4 == 1 else "C"
    for path, arr, chunks, fill in ((tmp_path / "t", truth, t_chunks, t_fill), (tmp_path / "p", pred, p_chunks, p_fill)):
        z = zarr.create_array(str(path), shape=shape, dtype=arr.dtype, chunks=chunks, zarr_format=2,
                              fill_value=fill, order=order, chunk_key_encoding={"name": "v2", "separator": sep})
        z[...] = arr
    t_arr, p_arr = ZArray.open(tmp_path / "t"), ZArray.open(tmp_path / "p")
    assert len(stored_chunks(t_arr)) <= np.prod([-(-s // c) for s, c in zip(shape, t_chunks)])
    for threads in (1, 3):
        assert stream_semantic_counts(t_arr, p_arr, threads) == official_counts(pred, truth)


def test_stored_chunks_reads_both_separators(tmp_path):
    for sep, name in ((".", "dot"), ("/", "slash")):
        z = zarr.create_array(str(tmp_path / name), shape=(8, 8, 8), dtype="u1", chunks=(4, 4, 4),
                              zarr_format=2, chunk_key_encoding={"name": "v2", "separator": sep})
        z[0:4, 4:8, 0:4] = 1
        z[4:8, 0:4, 4:8] = 2
        assert stored_chunks(ZArray.open(tmp_path / name)) == {(0, 1, 0), (1, 0, 1)}


def test_evaluate_streams_native_semantic_and_not_shifted_ones(small_case):
    truth, sub, manifest = small_case
    ev = evaluate(sub, truth, manifest, config=EvaluateConfig(progress=False))
    streamed = {(r.crop, r.label) for r in ev.results if r.stats.get("streamed")}
    assert streamed == {("crop1", "ecs"), ("crop2", "ecs")}
    write_array(sub / "crop1" / "ecs", np.ones((24, 24, 24), np.uint8), grid(tr=(8.0, 0.0, 0.0)))
    ev = evaluate(sub, truth, manifest, config=EvaluateConfig(progress=False))
    r = next(r for r in ev.results if (r.crop, r.label) == ("crop1", "ecs"))
    assert not r.stats.get("streamed") and r.stats["shift_voxels"] == [1, 0, 0]
