"""GPU driver of :func:`pycsc.ops.rescale` (kernels in ``csrc/cuda/rescale.cu``).

Bit for bit the CPU kernel (``csrc/rescale.cpp``): the per-axis coordinate tables are
computed here on the host with the CPU's float64 formulas (NumPy's element-wise IEEE
operations, no FMA), uploaded, and the kernels repeat the CPU's arithmetic per voxel.

Passes over the volume (N_in input voxels, N_out output voxels, W the working dtype):

* order 0 without smoothing: one gather (N_out writes, the touched input lines read);
* otherwise: the Gaussian along z and / or y, each a read + write of N_in values, the x
  pass fused into the interpolation (N_out writes, source lines read, output min / max as
  partials); the input's min / max from the first smoothing pass, else one extra read;
  then a one-thread decision and a clip launch that returns at once unless some output
  leaves skimage's bounds.

No host synchronisation except for 64-bit integer labels at order 0, where one flag read
tells whether rounding through float64 changed an id (then skimage's clip applies).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _runtime

__all__ = ["rescale"]

SOURCE = "rescale.cu"

_C_TYPES = {
    np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16", np.dtype(np.uint32): "u32",
    np.dtype(np.uint64): "u64", np.dtype(np.int8): "i8", np.dtype(np.int16): "i16",
    np.dtype(np.int32): "i32", np.dtype(np.int64): "i64", np.dtype(np.float32): "float",
    np.dtype(np.float64): "double",
}
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)

# Grid-stride launches with one min / max partial per thread: about two waves of resident
# blocks on an H100 (132 SMs x 8 blocks of 256 threads) keep the memory system busy.
_MAX_BLOCKS = 2048
_THREADS = 256


def working_dtype(dtype: np.dtype, order: int) -> np.dtype:
    """The output dtype: the input's for order 0, float32 for float32 at order 1, else float64."""
    if order == 0 or dtype in (_F32, _F64):
        return np.dtype(dtype)
    return _F64


def _defines(in_dtype: np.dtype, w_dtype: np.dtype) -> dict[str, str]:
    return {"IN_T": _C_TYPES[np.dtype(in_dtype)], "W_T": _C_TYPES[np.dtype(w_dtype)]}


_runtime.declare_builds(
    SOURCE,
    *(_defines(t, w) for t in _C_TYPES for w in sorted({working_dtype(t, 0), working_dtype(t, 1)}, key=str)),
)


def axis_table(n_in: int, n_out: int, order: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """First source tap per output index and (order 1) its two weights, as the CPU's
    AxisTable computes them: cc = ((k + 0.5) * zoom) - 0.5 with zoom = n_in / n_out."""
    zoom = float(n_in) / float(n_out)
    cc = ((np.arange(n_out, dtype=np.float64) + 0.5) * zoom) - 0.5
    if order == 0:
        return np.floor(cc + 0.5).astype(np.int64), None, None
    fl = np.floor(cc)
    w0 = 1.0 - (cc - fl)
    return fl.astype(np.int64), w0, 1.0 - w0


def _grid_3d(shape: Sequence[int]) -> tuple[tuple[int, int, int], tuple[int, int]]:
    """Grid and block for a 3D grid-stride launch over `shape`: warps along x sized to waste
    few lanes, rows along y, at most about _MAX_BLOCKS blocks."""
    nz, ny, nx = (int(v) for v in shape)
    warps = -(-nx // 32)
    bx = 32 * -(-warps // -(-warps // 8))
    by = max(1, _THREADS // bx)
    gx = min(-(-nx // bx), _MAX_BLOCKS)
    gy = min(-(-ny // by), 65535, max(1, _MAX_BLOCKS // gx))
    gz = min(nz, 65535, max(1, _MAX_BLOCKS // (gx * gy)))
    return (gx, gy, gz), (bx, by)


def _threads(grid: Sequence[int], block: Sequence[int]) -> int:
    return int(np.prod(grid)) * int(np.prod(block))


def _partials(xp: Any, n: int, dtype: np.dtype) -> tuple[Any, Any, Any]:
    return xp.empty(n, dtype), xp.empty(n, dtype), xp.empty(n, np.uint8)


def _fold(b: Any, part: tuple[Any, Any, Any], defines: dict[str, str], of_input: bool) -> tuple[Any, Any, Any]:
    """Per-thread partials -> one-element device arrays (min, max, NaN seen); no sync.

    Two launches of our own fold (one block, then one thread), not ``xp.min``: CuPy builds
    its reductions with flush-to-zero, which would misorder float32 subnormals."""
    kernel = b.kernel(SOURCE, "rescale_fold_in" if of_input else "rescale_fold_w", defines)
    dtype, n = part[0].dtype, int(part[0].size)
    mid = _partials(b.xp, _THREADS, dtype)
    kernel((1,), (_THREADS,), (*part, np.uint64(n), *mid))
    out = _partials(b.xp, 1, dtype)
    kernel((1,), (1,), (*mid, np.uint64(_THREADS), *out))
    return out


def rescale(image: Any, out_shape: Sequence[int], order: int, kernels: Sequence[np.ndarray]) -> Any:
    """`image` (2D or 3D, validated, any layout) resampled onto `out_shape`.

    `kernels` holds scipy's full Gaussian weights per axis (empty = no smoothing), as
    :func:`pycsc.ops.rescale` builds them for the CPU kernel. Returns a C-contiguous array
    of :func:`working_dtype`, equal bit for bit to the CPU kernel's output.
    """
    b = _runtime.backend()
    xp = b.xp
    in_dtype = np.dtype(image.dtype)
    w_dtype = working_dtype(in_dtype, order)
    out_shape = tuple(int(v) for v in out_shape)
    if out_shape == tuple(image.shape):
        # As on the CPU: ndimage.zoom returns its input when every factor is 1.
        return xp.array(image, dtype=w_dtype, order="C")
    is_bool = in_dtype == np.bool_
    if is_bool:
        image, in_dtype, w_dtype = image.view(np.uint8), np.dtype(np.uint8), np.dtype(np.uint8)
    pad = 3 - image.ndim
    src = xp.ascontiguousarray(image).reshape((1,) * pad + tuple(image.shape))
    os3 = (1,) * pad + out_shape
    ks = [np.empty(0)] * pad + [np.asarray(k, dtype=np.float64).ravel() for k in kernels]
    defines = _defines(in_dtype, w_dtype)
    if order == 0 and not any(k.size for k in ks):
        out = _gather(b, src, os3, defines)
    else:
        out = _smooth_and_interpolate(b, src, os3, order, ks, w_dtype, defines)
    out = out.reshape(out_shape)
    return out.view(np.bool_) if is_bool else out


def _gather(b: Any, src: Any, os3: tuple[int, int, int], defines: dict[str, str]) -> Any:
    xp = b.xp
    is3 = src.shape
    start = xp.asarray(np.concatenate([axis_table(i, o, 0)[0] for i, o in zip(is3, os3)]))
    out = xp.empty(os3, src.dtype)
    changed = xp.zeros(1, np.uint32)
    grid, block = _grid_3d(os3)
    b.kernel(SOURCE, "rescale_gather", defines)(
        grid, block, (src, out, *(np.int64(v) for v in is3 + os3), start, changed))
    if src.dtype.itemsize == 8 and src.dtype.kind in "iu" and int(changed[0]):
        _clip(b, out, _range(b, src, defines), _range(b, out, defines), defines)
    return out


def _range(b: Any, values: Any, defines: dict[str, str]) -> tuple[Any, Any, Any]:
    """Folded (min, max, NaN seen) of a contiguous array of the build's IN_T."""
    xp = b.xp
    n = int(values.size)
    blocks = _runtime.blocks_for(n, _THREADS, cap=_MAX_BLOCKS)
    part = _partials(xp, blocks * _THREADS, values.dtype)
    b.kernel(SOURCE, "rescale_range", defines)((blocks,), (_THREADS,), (values, np.uint64(n), *part))
    return _fold(b, part, defines, of_input=True)


def _clip(b: Any, out: Any, in_range: tuple, out_range: tuple, defines: dict[str, str]) -> None:
    """skimage's clip of `out` (in place) from the folded input and output ranges."""
    xp = b.xp
    bounds = xp.empty(2, out.dtype)
    verdict = xp.empty(1, np.uint32)
    b.kernel(SOURCE, "rescale_decide", defines)((1,), (1,), (*in_range, *out_range, bounds, verdict))
    n = int(out.size)
    blocks = _runtime.blocks_for(n, _THREADS, cap=_MAX_BLOCKS)
    b.kernel(SOURCE, "rescale_clip", defines)((blocks,), (_THREADS,), (out, np.uint64(n), bounds, verdict))


def _smooth_and_interpolate(b: Any, src: Any, os3: tuple[int, int, int], order: int,
                            ks: list[np.ndarray], w_dtype: np.dtype, defines: dict[str, str]) -> Any:
    xp = b.xp
    is3 = tuple(int(v) for v in src.shape)
    shape_args = tuple(np.int64(v) for v in is3)
    # scipy's symmetric layout: half[j] is the weight at distance j.
    halves = [k[k.size // 2::-1].copy() if k.size else None for k in ks]
    in_range = None
    cur, cur_is_input = src, True
    for axis in (0, 1):
        if halves[axis] is None:
            continue
        dst = xp.empty(is3, w_dtype)
        grid, block = _grid_3d(is3)
        args = (cur, dst, *shape_args, np.uint32(axis), np.int32(halves[axis].size - 1),
                xp.asarray(halves[axis]))
        if cur_is_input:
            part = _partials(xp, _threads(grid, block), src.dtype)
            b.kernel(SOURCE, "rescale_smooth_in", defines)(grid, block, args + part)
            in_range = _fold(b, part, defines, of_input=True)
        else:
            b.kernel(SOURCE, "rescale_smooth_w", defines)(grid, block, args)
        # Drop the previous pass's volume before the next one is allocated.
        del args
        cur, cur_is_input, dst = dst, False, None
    if in_range is None:
        in_range = _range(b, src, defines)

    tables = [axis_table(i, o, order) for i, o in zip(is3, os3)]
    start = xp.asarray(np.concatenate([t[0] for t in tables]))
    if order == 1:
        w0 = xp.asarray(np.concatenate([t[1] for t in tables]))
        w1 = xp.asarray(np.concatenate([t[2] for t in tables]))
    else:
        w0 = w1 = xp.zeros(1, np.float64)
    xh = halves[2]
    rx = np.int32(-1 if xh is None else xh.size - 1)
    xhalf = xp.asarray(xh) if xh is not None else xp.zeros(1, np.float64)
    out = xp.empty(os3, w_dtype)
    grid, block = _grid_3d(os3)
    part = _partials(xp, _threads(grid, block), w_dtype)
    name = "rescale_interp_in" if cur_is_input else "rescale_interp_w"
    out_args = tuple(np.int64(v) for v in os3)
    b.kernel(SOURCE, name, defines)(
        grid, block, (cur, out, *shape_args, *out_args, np.uint32(order), start, w0, w1, rx, xhalf, *part))
    del cur  # the smoothed volume, if any, is not needed for the clip
    _clip(b, out, in_range, _fold(b, part, defines, of_input=False), defines)
    return out
