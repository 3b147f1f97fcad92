"""Connected-component labelling on the GPU (the device path of ``ops.connected_components``).

Union-find over voxel indices in five launches plus one cumsum; the kernels and the argument
for their correctness under any thread interleaving are in ``csrc/cuda/components.cu``.
Results equal the CPU path: same ids, same dtype, same count.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _runtime

SOURCE = "components.cu"
THREADS = 256

#: Rows of one column segment that a thread walks in ``ccl_init``/``ccl_merge``. Longer
#: segments mean fewer seam unions, shorter ones more threads; 32 keeps an H100 full from
#: about 64^3 voxels up. Tests shrink it to put seams into small inputs.
SEGMENT_ROWS = 32

#: Tests set this to run the 64-bit index kernels on small inputs.
FORCE_WIDE_IDS = False

_VALUE_TYPES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}  # labels compare by raw bits

_runtime.declare_builds(
    SOURCE, *({"VAL_T": v, "IDX_T": i} for i in ("u32", "u64") for v in _VALUE_TYPES.values())
)


def connected_components(labels: Any, connectivity: int) -> tuple[Any, int]:
    """Component ids (uint32, uint64 above 2**32 - 1 voxels) and their count.

    `labels` is a validated 2D or 3D integer or bool array of the backend's module with
    native byte order; `connectivity` is valid for its dimension (4/8 or 6/18/26).
    """
    b = _runtime.backend()
    xp = b.xp
    shape = labels.shape
    n = int(np.prod(shape, dtype=np.int64))
    wide = FORCE_WIDE_IDS or n > 0xFFFFFFFF
    idx_dtype = np.dtype(np.uint64 if wide else np.uint32)
    if n == 0:
        return xp.zeros(shape, idx_dtype), 0

    # Numbering follows the C-order raster of the logical array, whatever its layout.
    arr = xp.ascontiguousarray(labels)
    sz, sy, sx = (1, *shape) if len(shape) == 2 else shape
    defines = {"VAL_T": _VALUE_TYPES[arr.dtype.itemsize], "IDX_T": "u64" if wide else "u32"}

    def kernel(name: str):
        return b.kernel(SOURCE, name, defines)

    ids = xp.empty(shape, idx_dtype)
    dims = (np.uint64(sz), np.uint64(sy), np.uint64(sx), np.uint64(SEGMENT_ROWS))
    columns = -(-sy // SEGMENT_ROWS) * sz * sx
    grid = (_runtime.blocks_for(columns, THREADS),)
    kernel("ccl_init")(grid, (THREADS,), (arr, ids, *dims))
    kernel("ccl_merge")(grid, (THREADS,), (arr, ids, *dims, np.uint32(connectivity)))

    words = -(-n // 32)
    roots = xp.zeros(words, np.uint32)
    grid = (_runtime.blocks_for(n, THREADS),)
    kernel("ccl_compress")(grid, (THREADS,), (ids, roots, np.uint64(n)))
    counts = xp.empty(words, idx_dtype)
    kernel("ccl_count_roots")((_runtime.blocks_for(words, THREADS),), (THREADS,),
                              (roots, counts, np.uint64(words)))
    ends = xp.cumsum(counts, dtype=idx_dtype)
    kernel("ccl_number")(grid, (THREADS,), (ids, roots, ends, np.uint64(n)))
    return ids, int(ends[-1])
