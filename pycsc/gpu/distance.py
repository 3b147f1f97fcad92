"""GPU paths of :mod:`pycsc.ops.distance`: exact EDT and per-instance Hausdorff distances.

Both return the CPU path's float64 bits. Kernels: ``csrc/cuda/edt.cu`` (separable EDT, one
thread per line, over one box or many) and ``csrc/cuda/hausdorff.cu`` (voxel lists, searches,
numpy-exact statistics); the method is described at the top of each.

Hausdorff, step by step (``n`` voxels, ``f`` foreground voxels of both volumes):

1. dense slots: truth ids -> 1..n_ids, prediction values that are no truth id -> 0
   (a flag table for ids below ``max(2^22, n / 4)``, else sort + binary search);
2. voxel lists of A (truth) and B (prediction), grouped by slot in raster order (one sort of
   ``f`` keys), each voxel classified: in the other set (0), settled by a 26-neighbour, or
   pending; bounding boxes and 6-boundary flags on the way;
3. per instance, pending voxels are searched against the other set's boundary voxels, or,
   when the cost model says its box is cheaper, by two exact EDTs over the instance's box;
4. per instance statistics (max / numpy pairwise mean / numpy percentile) and the cap.

Work on the 400^3 benchmark crop (3 000 instances, performance.md's pred400 after the
evaluator's relabel + remap, 8 nm), counted with the emulator: 7.0 M listed voxels, 0.59 M
searched sources (8 M target tests for "standard", 215 M for the other methods), 0.13 M
sources of 349 instances from box EDTs over 0.9 M box voxels. Device traffic is about 1.5 GB
(slot remap 1 GB, lists and sorts 0.5 GB), so an H100 should need a few milliseconds plus
about 30 launches and 20 host synchronisations (not measured on a device yet).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import InputError
from . import _runtime

THREADS = 128
# Envelope scratch (12 B per line element per thread) allowed to one line pass; the thread
# count of the pass is bounded so that it fits.
LINE_SCRATCH_BYTES = 1 << 30
# Cost of one box voxel of one EDT, in units of one target tested by hd_nearest: an instance
# goes to the box EDTs when volume * this * transforms < pending sources * boundary targets.
EDT_COST_PER_VOXEL = 16.0
# Box voxels per batch of box EDTs (two float64 buffers of this size).
EDT_BATCH_VOXELS = 1 << 25
# numpy-order sums of segments longer than this are split into subtrees summed in parallel.
PAIRWISE_CHUNK = 2048
# Voxel keys pack each coordinate in 19 bits (as the CPU path does).
MAX_EXTENT = 1 << 19

_RUN = 16  # list entries per thread in hd_classify / hd_slot_max (HD_RUN)

METHOD_CODES = {"standard": 0, "modified": 1, "percentile": 2}

_MASK_TYPES = ("u8", "u16", "u32", "u64", "float", "double")
_LABEL_TYPES = ("u8", "u16", "u32", "u64")
_ANY_EDT = {"MASK_T": "u8"}  # kernels that do not read the mask
_ANY_HD = {"LABEL_T": "u32"}  # kernels that do not read the labels
_runtime.declare_builds("edt.cu", *({"MASK_T": t} for t in _MASK_TYPES))
_runtime.declare_builds("hausdorff.cu", *({"LABEL_T": t} for t in _LABEL_TYPES))

_U64, _I64, _U32, _U8, _F64 = np.uint64, np.int64, np.uint32, np.uint8, np.float64


def _launch(b: Any, source: str, name: str, defines: dict, n: int, args: tuple) -> None:
    b.kernel(source, name, defines)((_runtime.blocks_for(n, THREADS),), (THREADS,), args)


def _host(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _as_unsigned(a: Any) -> tuple[Any, str, bool]:
    """A C-contiguous integer/bool array viewed as the unsigned type of its width."""
    bits = 8 * a.dtype.itemsize
    signed = a.dtype.kind == "i"
    return a.view(np.dtype(f"uint{bits}")), f"u{bits}", signed


def _view3(shape: tuple[int, ...], spacing: tuple[float, ...]) -> tuple[tuple[int, int, int], tuple[float, ...]]:
    pad = 3 - len(shape)
    return (1,) * pad + tuple(int(s) for s in shape), (1.0,) * pad + tuple(float(s) for s in spacing)


def _term(offset: float, s: float) -> float:
    t = offset * s
    return t * t


# ---------------------------------------------------------------------------------- EDT


def _line_pass(b: Any, src: Any, dst: Any, box: Any, first: Any, nbox: int, n_lines: int, axis: int, s: float,
               finish_sqrt: bool, max_len: int) -> None:
    xp = b.xp
    max_len = max(1, int(max_len))
    cap_threads = max(THREADS, LINE_SCRATCH_BYTES // (12 * max_len))
    blocks = _runtime.blocks_for(n_lines, THREADS, cap=max(1, cap_threads // THREADS))
    scratch = blocks * THREADS * max_len
    v, zb = xp.empty(scratch, np.int32), xp.empty(scratch, _F64)
    b.kernel("edt.cu", "edt_lines", _ANY_EDT)(
        (blocks,), (THREADS,),
        (src, dst, box, first, _I64(nbox), _U32(axis), _F64(s), _U32(finish_sqrt), v, zb))


def distance_transform_edt(mask: Any, spacing: tuple[float, ...]) -> Any:
    """Device EDT of a 2D/3D mask of dtype bool, integer, float32 or float64 (see ops)."""
    b = _runtime.backend()
    xp = b.xp
    shape = tuple(mask.shape)
    if mask.size == 0:
        return xp.zeros(shape, _F64)
    if max(shape) >= 2**31:
        raise InputError(f"`mask` extent {max(shape)} exceeds the GPU path's 2^31 - 1 voxels per axis; "
                         "use device='cpu'")
    (nz, ny, nx), sp = _view3(shape, spacing)
    m = xp.ascontiguousarray(mask)
    if m.dtype.kind == "f":
        define = "float" if m.dtype.itemsize == 4 else "double"
    else:
        m, define, _ = _as_unsigned(m)
    n, plane = nz * ny * nx, ny * nx
    x = xp.empty(n, _F64)
    any_zero = xp.zeros(1, _U32)
    _launch(b, "edt.cu", "edt_axis0_mask", {"MASK_T": define}, plane,
            (m.reshape(-1), x, _I64(nz), _I64(plane), _F64(sp[0]), any_zero))
    if not int(any_zero[0]):
        _launch(b, "edt.cu", "edt_fill_without_zeros", _ANY_EDT, n,
                (x, _I64(nz), _I64(ny), _I64(nx), _F64(sp[0]), _F64(sp[1]), _F64(sp[2]), _U32(len(shape) == 3)))
        return x.reshape(shape)
    box = xp.asarray(np.array([0, 0, 0, nz, ny, nx, 0, 0], _I64))
    y = xp.empty(n, _F64)
    if ny > 1:
        _line_pass(b, x, y, box, xp.asarray(np.array([0, nz * nx], _U64)), 1, nz * nx, 1, sp[1], False, ny)
        x, y = y, x
    _line_pass(b, x, y, box, xp.asarray(np.array([0, nz * ny], _U64)), 1, nz * ny, 2, sp[2], True, nx)
    return y.reshape(shape)


def box_edts(b: Any, label: Any, shape3: tuple[int, int, int], sp: tuple[float, ...], boxes: np.ndarray) -> Any:
    """Squared EDTs, one per box, of "label != box slot" (features: label == slot).

    ``boxes``: (k, 8) int64 rows (z0, y0, x0, bz, by, bx, offset, slot) on the host; the
    result holds each box in C order at its offset.
    """
    xp = b.xp
    _, ny, nx = shape3
    k = len(boxes)
    bz, by, bx = boxes[:, 3], boxes[:, 4], boxes[:, 5]
    total = int(boxes[-1, 6] + bz[-1] * by[-1] * bx[-1])

    def first(counts: np.ndarray) -> Any:
        return xp.asarray(np.concatenate([[0], np.cumsum(counts)]).astype(_U64))

    box = xp.asarray(np.ascontiguousarray(boxes, _I64))
    x, y = xp.empty(total, _F64), xp.empty(total, _F64)
    _launch(b, "edt.cu", "edt_axis0_label", _ANY_EDT, int((by * bx).sum()),
            (label, _I64(ny), _I64(nx), box, first(by * bx), _I64(k), x, _F64(sp[0])))
    _line_pass(b, x, y, box, first(bz * bx), k, int((bz * bx).sum()), 1, sp[1], False, int(by.max()))
    _line_pass(b, y, x, box, first(bz * by), k, int((bz * by).sum()), 2, sp[2], False, int(bx.max()))
    return x


# ---------------------------------------------------------------------------------- Hausdorff


def _cap_squared(cap: float) -> float:
    """Smallest squared value whose square root reaches the cap (as the CPU path)."""
    q = cap * cap
    while math.sqrt(q) < cap:
        q = math.nextafter(q, math.inf)
    while q > 0.0 and math.sqrt(math.nextafter(q, 0.0)) >= cap:
        q = math.nextafter(q, 0.0)
    return q


def _table_limit(n_voxels: int) -> int:
    """Largest truth id for which the slots come from a flag table (else sort + search)."""
    return max(1 << 22, n_voxels // 4)


def _dense_slots(b: Any, t: Any, t_def: str, p: Any, p_def: str, p_signed: bool, t_max: int) -> tuple[Any, Any, Any]:
    """Sorted truth ids and the slot volumes (id index + 1; 0 for background and non-ids)."""
    xp = b.xp
    n = t.size
    if t_max <= _table_limit(n):
        table = xp.zeros(t_max + 1, _U32)
        _launch(b, "hausdorff.cu", "hd_mark", {"LABEL_T": t_def}, n, (t, _U64(n), table))
        slot_of = xp.cumsum(table, dtype=_U32) * table
        ids = xp.nonzero(table)[0].astype(_U64)
        slots = []
        for vol, define, signed in ((t, t_def, False), (p, p_def, p_signed)):
            out = xp.empty(n, _U32)
            _launch(b, "hausdorff.cu", "hd_remap", {"LABEL_T": define}, n,
                    (vol, _U64(n), slot_of, _U64(t_max), _U32(signed), out))
            slots.append(out)
        return ids, slots[0], slots[1]
    ids = xp.unique(t)
    ids = ids[ids != 0].astype(_U64)
    tv = t.astype(_U64)
    t_slot = xp.where(tv != 0, xp.searchsorted(ids, tv) + 1, 0).astype(_U32)
    pv = p.astype(_U64)
    valid = pv != 0
    if p_signed:
        valid &= (pv >> _U64(8 * p.dtype.itemsize - 1)) == 0
    pos = xp.minimum(xp.searchsorted(ids, pv), ids.size - 1)
    p_slot = xp.where(valid & (ids[pos] == pv), pos + 1, 0).astype(_U32)
    return ids, t_slot, p_slot


class _VoxelList:
    """The voxels of one set (A or B) grouped by slot, raster order within, classified."""

    def __init__(self, b: Any, own: Any, other: Any, n_ids: int, shape3, sp, cert_q: float, box: Any):
        xp = b.xp
        lin = xp.nonzero(own)[0].astype(_I64)
        slot = own[lin]
        m = int(lin.size)
        if m >= 1 << 32:
            raise InputError(f"{m} labelled voxels exceed the GPU path's 2^32 limit; use device='cpu'")
        if m:  # stable grouping by slot: sort (slot, rank) keys
            key = slot.astype(_U64) * _U64(m) + xp.arange(m, dtype=_U64)
            key = xp.sort(key)
            lin = lin[(key % _U64(m)).astype(_I64)]
            slot = (key // _U64(m)).astype(_U32)
        self.size, self.slot = m, slot
        self.off = self.offsets(xp, slot, n_ids)
        self.key, self.bnd = xp.empty(m, _U64), xp.empty(m, _U8)
        self.pend, self.val = xp.empty(m, _U8), xp.empty(m, _F64)
        nz, ny, nx = shape3
        _launch(b, "hausdorff.cu", "hd_classify", _ANY_HD, -(-m // _RUN),
                (own, other, lin, slot, _U64(m), _I64(nz), _I64(ny), _I64(nx), _F64(sp[0]), _F64(sp[1]),
                 _F64(sp[2]), _F64(cert_q), self.key, self.bnd, self.pend, self.val, box))

    @staticmethod
    def offsets(xp: Any, slot: Any, n_ids: int) -> Any:
        """Where each slot's run starts in the sorted `slot` (n_ids + 1 entries)."""
        return xp.searchsorted(slot, xp.arange(1, n_ids + 2, dtype=_U32)).astype(_I64)

    def boundary(self, xp: Any, n_ids: int) -> tuple[Any, Any]:
        """Keys of the 6-boundary voxels and their per-slot offsets."""
        on = self.bnd == 1
        return self.key[on], self.offsets(xp, self.slot[on], n_ids)

    def counts(self, xp: Any) -> tuple[Any, Any]:
        """Pending and boundary voxels per slot."""
        per = []
        for flag in (self.pend, self.bnd):
            running = xp.concatenate([xp.zeros(1, _I64), xp.cumsum(flag, dtype=_I64)])
            per.append(running[self.off[1:]] - running[self.off[:-1]])
        return per[0], per[1]


def _search(b: Any, src: _VoxelList, tgt: _VoxelList, todo: Any, n_ids: int, shape3, sp, cap_q: float,
            standard: bool, slot_max: Any) -> None:
    xp = b.xp
    tgt_key, tgt_off = tgt.boundary(xp, n_ids)
    _launch(b, "hausdorff.cu", "hd_nearest", _ANY_HD, int(todo.size),
            (src.key, src.slot, todo, _U64(todo.size), tgt_key, tgt_off, _I64(shape3[0]), _I64(shape3[1]),
             _F64(sp[0]), _F64(sp[1]), _F64(sp[2]), _F64(cap_q), _U32(standard), slot_max, src.val))


def _box_batches(segs: np.ndarray, box_host: np.ndarray) -> list[np.ndarray]:
    """(k, 8) box rows for the instances `segs`, grouped into batches of bounded volume."""
    lo, hi = box_host[segs, :3].astype(np.int64), box_host[segs, 3:].astype(np.int64)
    ext = hi - lo + 1
    vol = ext.prod(axis=1)
    ends = np.cumsum(vol)
    batches, start = [], 0
    while start < len(segs):
        done = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done + EDT_BATCH_VOXELS, side="right")))
        rows = np.zeros((stop - start, 8), np.int64)
        rows[:, :3], rows[:, 3:6] = lo[start:stop], ext[start:stop]
        rows[:, 6] = np.concatenate([[0], np.cumsum(vol[start:stop])[:-1]])
        rows[:, 7] = segs[start:stop] + 1
        batches.append(rows)
        start = stop
    return batches


def _box_values(b: Any, src: _VoxelList, todo: Any, segs: np.ndarray, label: Any, n_ids: int, shape3, sp,
                box_host: np.ndarray) -> None:
    """Exact values of the pending sources `todo` of instances `segs` from box EDTs."""
    xp = b.xp
    for rows in _box_batches(segs, box_host):
        buf = box_edts(b, label, shape3, sp, rows)
        slot_box = np.full(n_ids, -1, np.int64)
        slot_box[rows[:, 7] - 1] = np.arange(len(rows))
        _launch(b, "hausdorff.cu", "hd_gather", _ANY_HD, int(todo.size),
                (src.key, src.slot, todo, _U64(todo.size), xp.asarray(slot_box), xp.asarray(rows), buf, src.val))


def _settle_pending(b: Any, a: _VoxelList, bl: _VoxelList, t_slot: Any, p_slot: Any, n_ids: int, shape3, sp,
                    cap_q: float, standard: bool, slot_max: Any, box: Any) -> None:
    """Exact values for the pending sources: per instance, boundary searches or box EDTs,
    whichever the cost model deems cheaper (instances without prediction voxels need none)."""
    xp = b.xp
    pend_a, bnd_a = a.counts(xp)
    pend_b, bnd_b = bl.counts(xp)
    counts = _host(xp.stack([pend_a, pend_b, bnd_a, bnd_b, bl.off[1:] - bl.off[:-1]])).astype(np.float64)
    h_pa, h_pb, h_ba, h_bb, h_nb = counts
    box_host = _host(box)
    vol = np.prod(box_host[:, 3:].astype(np.float64) - box_host[:, :3] + 1, axis=1)
    cost_search = h_pa * h_bb + h_pb * h_ba
    cost_boxes = EDT_COST_PER_VOXEL * vol * np.maximum((h_pa > 0).astype(np.float64) + (h_pb > 0), 1.0)
    busy = (h_nb > 0) & (h_pa + h_pb > 0)
    by_box = busy & (cost_boxes < cost_search)
    mode = xp.asarray(np.where(by_box, 2, np.where(busy, 1, 0)).astype(_U8))  # 0 none, 1 search, 2 boxes
    for src, tgt, label, pending in ((a, bl, p_slot, h_pa), (bl, a, t_slot, h_pb)):
        if not src.size:
            continue
        src_mode = mode[src.slot - 1]
        todo = xp.nonzero((src.pend == 1) & (src_mode == 1))[0].astype(_I64)
        if todo.size:
            _search(b, src, tgt, todo, n_ids, shape3, sp, cap_q, standard, slot_max)
        segs = np.nonzero(by_box & (pending > 0))[0]
        if segs.size:
            todo = xp.nonzero((src.pend == 1) & (src_mode == 2))[0].astype(_I64)
            _box_values(b, src, todo, segs, label, n_ids, shape3, sp, box_host)


def _pairwise_means(b: Any, lst: _VoxelList, n_ids: int) -> Any:
    xp = b.xp
    mean = xp.zeros(n_ids, _F64)
    per = (lst.off[1:] - lst.off[:-1]) // (PAIRWISE_CHUNK // 2 - 8) + 1
    first = xp.concatenate([xp.zeros(1, _I64), xp.cumsum(per).astype(_I64)])
    total = int(first[-1])
    c_off, c_len, c_sum = xp.zeros(total, _I64), xp.zeros(total, _I64), xp.zeros(total, _F64)
    _launch(b, "hausdorff.cu", "hd_pairwise_plan", _ANY_HD, n_ids,
            (lst.off, _U64(n_ids), first, _I64(PAIRWISE_CHUNK), c_off, c_len))
    _launch(b, "hausdorff.cu", "hd_pairwise_chunks", _ANY_HD, total, (lst.val, c_off, c_len, _U64(total), c_sum))
    _launch(b, "hausdorff.cu", "hd_pairwise_mean", _ANY_HD, n_ids,
            (lst.off, _U64(n_ids), first, _I64(PAIRWISE_CHUNK), c_sum, mean))
    return mean


def _percentiles(b: Any, lst: _VoxelList, n_ids: int, pct: float) -> Any:
    xp = b.xp
    out = xp.zeros(n_ids, _F64)
    m = lst.size
    if m:  # sort within each slot: by value, then stably by slot via (slot, rank) keys
        order = xp.argsort(lst.val)
        key = xp.sort(lst.slot[order].astype(_U64) * _U64(m) + xp.arange(m, dtype=_U64))
        ranked = lst.val[order[(key % _U64(m)).astype(_I64)]]
        _launch(b, "hausdorff.cu", "hd_percentile", _ANY_HD, n_ids, (ranked, lst.off, _U64(n_ids), _F64(pct), out))
    return out


def hausdorff_distances(truth: Any, pred: Any, spacing: tuple[float, ...], max_distance: float, method: str,
                        percentile: float) -> tuple[Any, Any]:
    """Device Hausdorff distances per truth id (validated arrays of equal shape; see ops)."""
    b = _runtime.backend()
    xp = b.xp
    for n in truth.shape:
        if n > MAX_EXTENT:
            raise InputError(f"`truth` extent {n} exceeds the supported {MAX_EXTENT} voxels per axis")
    shape3, sp = _view3(truth.shape, spacing)
    t, t_def, t_signed = _as_unsigned(xp.ascontiguousarray(truth).reshape(-1))
    p, p_def, p_signed = _as_unsigned(xp.ascontiguousarray(pred).reshape(-1))
    t_max = int(t.max()) if t.size else 0
    if t_signed and t_max >> (8 * t.dtype.itemsize - 1):
        raise InputError("`truth` must not hold negative ids; found at least one below 0")
    if t_max == 0:
        return xp.zeros(0, _U64), xp.zeros(0, _F64)
    ids, t_slot, p_slot = _dense_slots(b, t, t_def, p, p_def, p_signed, t_max)
    n_ids = int(ids.size)
    if n_ids > 2**31 - 1:
        raise InputError("`truth` holds more than 2^31 - 1 distinct ids")
    cert_q = min((_term(2.0, s) for s, n in zip(sp, shape3) if n >= 3), default=math.inf)
    box = xp.zeros((n_ids, 6), _U32)
    box[:, :3] = np.uint32(0xFFFFFFFF)
    a = _VoxelList(b, t_slot, p_slot, n_ids, shape3, sp, cert_q, box)
    bl = _VoxelList(b, p_slot, t_slot, n_ids, shape3, sp, cert_q, box)
    code, cap, cap_q = METHOD_CODES[method], float(max_distance), _cap_squared(float(max_distance))
    standard = code == 0
    slot_max = xp.zeros(n_ids, _U64)
    if standard:  # the settled values first, so that searches can break early
        for lst in (a, bl):
            _launch(b, "hausdorff.cu", "hd_slot_max", _ANY_HD, -(-lst.size // _RUN),
                    (lst.val, lst.slot, lst.pend, _U32(1), _U64(lst.size), slot_max))
    _settle_pending(b, a, bl, t_slot, p_slot, n_ids, shape3, sp, cap_q, standard, slot_max, box)
    fwd = bwd = xp.zeros(n_ids, _F64)
    if standard:
        for lst in (a, bl):
            _launch(b, "hausdorff.cu", "hd_slot_max", _ANY_HD, -(-lst.size // _RUN),
                    (lst.val, lst.slot, lst.pend, _U32(0), _U64(lst.size), slot_max))
    elif code == 1:
        fwd, bwd = _pairwise_means(b, a, n_ids), _pairwise_means(b, bl, n_ids)
    else:
        fwd, bwd = _percentiles(b, a, n_ids, percentile), _percentiles(b, bl, n_ids, percentile)
    out = xp.empty(n_ids, _F64)
    _launch(b, "hausdorff.cu", "hd_finish", _ANY_HD, n_ids,
            (a.off, bl.off, _U64(n_ids), _U32(code), slot_max, fwd, bwd, _F64(cap), _F64(cap_q), out))
    return ids, out
