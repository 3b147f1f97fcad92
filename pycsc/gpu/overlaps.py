"""GPU path of :func:`pycsc.ops.overlaps` (and of the overlap table of ``match_instances``).

Kernels: ``csrc/cuda/overlaps.cu`` (one build per truth element width, one entry point per
pred element width; signedness is a run-time argument). One pass counts the pairs and both
volumes' label sizes into device hash tables; the tables are then compacted and sorted on the
device into the CPU path's order: pairs by (truth id, pred id), labels ascending.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _runtime
from .labels import (
    BITS,
    FLAGS,
    STATUS_WORDS,
    flat_bits,
    geometry,
    grown_capacity,
    host,
    initial_capacity,
    key_space,
    launch,
    sorted_slots,
)
from . import labels as _labels

SOURCE = "overlaps.cu"
_runtime.declare_builds(SOURCE, *({"TRUTH_T": b} for b in BITS.values()))

TRUTH_NEGATIVE, PRED_NEGATIVE, WIDE, MISSING = FLAGS, FLAGS + 1, FLAGS + 2, FLAGS + 3


def _same_order(truth: Any, pred: Any) -> tuple[Any, Any]:
    """Two arrays whose C orders visit corresponding voxels (two Fortran arrays: transposes)."""
    def fortran_only(a: Any) -> bool:
        return bool(a.flags.f_contiguous and not a.flags.c_contiguous)

    if fortran_only(truth) and fortran_only(pred):
        return truth.T, pred.T
    return truth, pred


def overlap_table(truth: Any, pred: Any) -> dict[str, Any]:
    """The fields of :class:`pycsc.ops.Overlaps` plus ``truth_negative`` / ``pred_negative``
    (signed inputs holding negative ids; the tables are then empty and meaningless)."""
    xp = _runtime.backend().xp
    truth, pred = _same_order(truth, pred)
    g, p = flat_bits(truth), flat_bits(pred)
    n = int(g.size)
    defines = {"TRUTH_T": BITS[g.dtype.itemsize]}
    pred_type = BITS[p.dtype.itemsize]
    negs = [np.uint64(1 << (8 * x.dtype.itemsize - 1)) if a.dtype.kind == "i" else np.uint64(0)
            for x, a in ((g, truth), (p, pred))]
    spaces = [key_space(g.dtype) * key_space(p.dtype), key_space(g.dtype), key_space(p.dtype)]
    caps = [initial_capacity(n, s) for s in spaces]
    while True:
        tables = [(xp.zeros(c, np.uint64), xp.zeros(c, np.uint64)) for c in caps]
        status = xp.zeros(STATUS_WORDS, np.uint64)
        launch(f"overlap_count_{pred_type}", defines, n,
               (g, p, np.uint64(n), np.uint64(_labels.SPAN), *negs, *tables[0], *tables[1], *tables[2],
                geometry(xp, caps), status), source=SOURCE)
        st = host(status)
        if st[TRUTH_NEGATIVE] or st[PRED_NEGATIVE]:
            return _negative(xp, bool(st[TRUTH_NEGATIVE]), bool(st[PRED_NEGATIVE]))
        # With wide ids the pair table is redone by rank below: only the sizes must be complete.
        grow = [t for t in ((1, 2) if st[WIDE] else (0, 1, 2)) if st[t]]
        if not grow:
            break
        for t in grow:
            caps[t] = grown_capacity(caps[t], n, spaces[t])
    labels, sizes, slots = [], [], []
    for keys, counts in tables[1:]:
        s = sorted_slots(xp, keys)
        slots.append(s)
        labels.append(keys[s])
        sizes.append(counts[s].astype(np.int64))
    if st[WIDE]:
        pair_keys, pair_counts = _ranked_pairs(xp, g, p, tables, caps, labels, slots)
        truth_ids = labels[0][(pair_keys >> np.uint64(32)).astype(np.int64) - 1]
        pred_ids = labels[1][(pair_keys & np.uint64(0xFFFFFFFF)).astype(np.int64) - 1]
    else:
        keys, counts = tables[0]
        s = sorted_slots(xp, keys)
        pair_keys, pair_counts = keys[s], counts[s]
        truth_ids, pred_ids = pair_keys >> np.uint64(32), pair_keys & np.uint64(0xFFFFFFFF)
    return {"truth_ids": truth_ids, "pred_ids": pred_ids, "counts": pair_counts.astype(np.int64),
            "truth_labels": labels[0], "truth_sizes": sizes[0], "pred_labels": labels[1], "pred_sizes": sizes[1],
            "truth_negative": False, "pred_negative": False}


def _ranked_pairs(xp: Any, g: Any, p: Any, tables: list, caps: list[int], labels: list, slots: list) -> tuple[Any, Any]:
    """Pair counts keyed by (rank of truth id + 1) << 32 | (rank of pred id + 1), sorted."""
    n = int(g.size)
    if max(int(labels[0].size), int(labels[1].size)) >= 2**32 - 1:
        raise RuntimeError("more than 2^32 - 2 distinct labels in one volume")
    ranks = []
    for (keys, _), s in zip(tables[1:], slots):
        r = xp.zeros(keys.size, np.uint64)
        r[s] = xp.arange(s.size, dtype=np.uint64)
        ranks.append(r)
    defines = {"TRUTH_T": BITS[g.dtype.itemsize]}
    space = int(labels[0].size) * int(labels[1].size)
    cap = initial_capacity(n, space)
    while True:
        pair_keys, pair_counts = xp.zeros(cap, np.uint64), xp.zeros(cap, np.uint64)
        status = xp.zeros(STATUS_WORDS, np.uint64)
        launch(f"overlap_count_ranked_{BITS[p.dtype.itemsize]}", defines, n,
               (g, p, np.uint64(n), np.uint64(_labels.SPAN), pair_keys, pair_counts, tables[1][0], ranks[0],
                tables[2][0], ranks[1], geometry(xp, [cap, *caps[1:]]), status), source=SOURCE)
        st = host(status)
        if st[MISSING]:
            raise RuntimeError("GPU overlaps: an id is missing from its size table (a bug)")
        if not st[0]:
            break
        cap = grown_capacity(cap, n, space)
    s = sorted_slots(xp, pair_keys)
    return pair_keys[s], pair_counts[s]


def _negative(xp: Any, truth_negative: bool, pred_negative: bool) -> dict[str, Any]:
    empty = xp.zeros(0, np.uint64)
    none = xp.zeros(0, np.int64)
    return {"truth_ids": empty, "pred_ids": empty.copy(), "counts": none, "truth_labels": empty.copy(),
            "truth_sizes": none.copy(), "pred_labels": empty.copy(), "pred_sizes": none.copy(),
            "truth_negative": truth_negative, "pred_negative": pred_negative}
