"""GPU paths of :mod:`pycsc.ops.labels`: value counts, bounding boxes, remap.

Kernels: ``csrc/cuda/labels.cu`` (one build per element width; signedness is a run-time
argument). The functions here take arrays of the backend's module, already validated and
viewed as integers (bool as uint8) by :mod:`pycsc.ops.labels`, and return what the CPU path
returns, in the same order and dtypes. The hash-table helpers are shared with
:mod:`pycsc.gpu.overlaps`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _runtime

SOURCE = "labels.cu"
BITS = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
_runtime.declare_builds(SOURCE, *({"LABEL_T": b} for b in BITS.values()))

THREADS = 128
# One span per thread: short-lived blocks keep the SMs evenly loaded (a capped grid-stride
# grid that is not a whole number of waves leaves SMs idle in its last wave).
MAX_BLOCKS = 65535 * 32
# Voxels per thread span (hash.cuh): long enough that objects' runs collapse in registers,
# short enough that a 600^3 volume still gives every SM many warps. Tests shrink it so that
# tiny volumes are shared by many threads.
SPAN = 256
STATUS_WORDS = 32  # PYCSC_STATUS_WORDS
FLAGS = 16  # PYCSC_FLAGS
STRIPES = 1024  # PYCSC_STRIPES
# Table capacity of a first attempt: about one slot per 64 voxels, within these bounds (a
# pass that overflows is rerun with 8x the slots). Tests lower MIN_CAPACITY to force reruns.
MIN_CAPACITY = 1 << 10
MAX_INITIAL_CAPACITY = 1 << 21
_U64_MAX = np.uint64(2**64 - 1)


def _pow2(n: int) -> int:
    return 1 << max(1, int(n - 1).bit_length())


def initial_capacity(n: int, key_space: int, per: int = 64) -> int:
    """Slots for a first pass over `n` voxels whose keys can take `key_space` values."""
    want = min(max(n // per, MIN_CAPACITY), MAX_INITIAL_CAPACITY, 2 * min(n, key_space) + 2)
    return _pow2(want)


def grown_capacity(capacity: int, n: int, key_space: int) -> int:
    """Slots for a rerun after an overflow; 2 * (distinct keys) + 2 never overflows."""
    bound = _pow2(2 * min(n, key_space) + 2)
    if capacity >= bound:
        raise RuntimeError(f"GPU hash table overflowed at its bound of {capacity} slots (a bug)")
    return min(capacity * 8, bound)


def geometry(xp: Any, capacities: list[int]) -> Any:
    """The kernels' per-table {mask, shift, limit} words (hash.cuh)."""
    words = []
    for cap in capacities:
        words += [cap - 1, 64 - (cap.bit_length() - 1), cap * 3 // 4]
    return xp.asarray(np.array(words, dtype=np.uint64))


def host(a: Any) -> np.ndarray:
    """A small device array on the host (one synchronisation)."""
    return a if isinstance(a, np.ndarray) else a.get()


def launch(name: str, defines: dict[str, str], n_items: int, args: tuple, source: str = SOURCE) -> None:
    """Launch a span-walking kernel over `n_items` voxels (grid-stride over spans)."""
    k = _runtime.backend().kernel(source, name, defines)
    spans = -(-n_items // SPAN)
    k((_runtime.blocks_for(spans, THREADS, MAX_BLOCKS),), (THREADS,), args)


def sorted_slots(xp: Any, keys: Any) -> Any:
    """Slots of a finished table holding a key, in increasing key order."""
    slots = xp.nonzero(keys)[0]
    return slots[xp.argsort(keys[slots])]


def flat_bits(a: Any) -> Any:
    """`a` as a flat C-ordered array of the unsigned type of its width (a view when possible)."""
    xp = _runtime.backend().xp
    flat = xp.ascontiguousarray(a).reshape(-1)
    return flat.view(np.dtype(f"u{flat.dtype.itemsize}"))


def key_space(dtype: np.dtype) -> int:
    return 2 ** (8 * np.dtype(dtype).itemsize)


def value_counts(a: Any) -> tuple[Any, Any]:
    """Sorted distinct values of `a` (its dtype, signed order) and their int64 counts."""
    xp = _runtime.backend().xp
    bits = flat_bits(a)
    n = int(bits.size)
    defines = {"LABEL_T": BITS[bits.dtype.itemsize]}
    space = key_space(bits.dtype)
    cap = initial_capacity(n, space)
    while True:
        keys, counts = xp.zeros(cap, np.uint64), xp.zeros(cap, np.uint64)
        zero_stripes, status = xp.zeros(STRIPES, np.uint64), xp.zeros(STATUS_WORDS, np.uint64)
        launch("value_count", defines, n, (bits, np.uint64(n), np.uint64(SPAN), keys, counts, zero_stripes,
                                           geometry(xp, [cap]), status))
        if not host(status)[0]:
            break
        cap = grown_capacity(cap, n, space)
    slots = xp.nonzero(keys)[0]
    found, found_counts = keys[slots], counts[slots]
    zeros = zero_stripes.sum()
    if int(zeros):
        found = xp.concatenate([found, xp.zeros(1, np.uint64)])
        found_counts = xp.concatenate([found_counts, zeros.reshape(1)])
    values = found.astype(bits.dtype).view(a.dtype)
    order = xp.argsort(values)
    return values[order], found_counts[order].astype(np.int64)


def bounding_boxes(a: Any, transposed: bool = False) -> tuple[Any, Any, int | None]:
    """(ids uint64, boxes int64 (k, 2 * ndim), None), or (None, None, min value) when `a`
    holds negative ids. `a` is the C view; `transposed` reverses the axes of the boxes."""
    xp = _runtime.backend().xp
    bits = flat_bits(a)
    n = int(bits.size)
    shape = (1,) * (3 - a.ndim) + tuple(int(s) for s in a.shape)
    defines = {"LABEL_T": BITS[bits.dtype.itemsize]}
    neg_mask = np.uint64(1 << (8 * bits.dtype.itemsize - 1)) if a.dtype.kind == "i" else np.uint64(0)
    space = key_space(bits.dtype)
    cap = initial_capacity(n, space, per=256)
    while True:
        keys = xp.zeros(cap, np.uint64)
        boxes = xp.full((cap, 6), -1, np.int64)
        boxes[:, :3] = np.iinfo(np.int64).max
        status = xp.zeros(STATUS_WORDS, np.uint64)
        launch("box_update", defines, n, (bits, np.uint64(n), np.uint64(SPAN), np.uint64(shape[1]),
                                          np.uint64(shape[2]), neg_mask, keys, boxes, geometry(xp, [cap]), status))
        st = host(status)
        if st[FLAGS]:
            return None, None, int(a.min())
        if not st[0]:
            break
        cap = grown_capacity(cap, n, space)
    slots = sorted_slots(xp, keys)
    found = boxes[slots]
    d = a.ndim
    starts, stops = found[:, 3 - d : 3], found[:, 6 - d : 6] + 1
    if transposed:
        starts, stops = starts[:, ::-1], stops[:, ::-1]
    return keys[slots], xp.ascontiguousarray(xp.concatenate([starts, stops], axis=1)), None


def remap(a: Any, keys: Any, values: Any, preserve_missing: bool) -> tuple[Any, int | None]:
    """(remapped C-ordered array, None), or (None, the first unmapped value in memory order)
    when `preserve_missing` is false. `keys` has `a`'s dtype (distinct); `values` has the
    output dtype (same signedness, at least as wide)."""
    xp = _runtime.backend().xp
    bits = flat_bits(a)
    n = int(bits.size)
    in_bits, out_dtype = bits.dtype, values.dtype
    out_bits = np.dtype(f"u{out_dtype.itemsize}")
    out = xp.empty(n, out_dtype)
    first = xp.full(1, _U64_MAX, np.uint64)
    defines = {"LABEL_T": BITS[in_bits.itemsize]}
    key_bits = keys.view(in_bits).astype(np.int64)
    if in_bits.itemsize <= 2:
        size = key_space(in_bits)
        lut = xp.arange(size, dtype=np.int64).astype(in_bits).view(a.dtype).astype(out_dtype)
        known = xp.zeros(size, np.uint8)
        if keys.size:
            lut[key_bits] = values
            known[key_bits] = 1
        k = _runtime.backend().kernel(SOURCE, f"remap_lut_{BITS[out_bits.itemsize]}", defines)
        k((_runtime.blocks_for(n, THREADS),), (THREADS,),
          (bits, out.view(out_bits), np.uint64(n), lut.view(out_bits), known, np.uint32(not preserve_missing), first))
    else:
        order = xp.argsort(keys.view(in_bits))
        sorted_keys = xp.ascontiguousarray(keys.view(in_bits)[order])
        sorted_values = xp.ascontiguousarray(values[order]).view(out_bits)
        launch(f"remap_search_{BITS[out_bits.itemsize]}", defines, n,
               (bits, out.view(out_bits), np.uint64(n), np.uint64(SPAN), sorted_keys, sorted_values,
                np.uint64(keys.size), np.uint32(bool(preserve_missing)), np.uint32(a.dtype.kind == "i"), first))
    if not preserve_missing:
        at = int(host(first)[0])
        if at != int(_U64_MAX):
            return None, int(xp.ascontiguousarray(a).reshape(-1)[at])
    return out.reshape(a.shape), None
