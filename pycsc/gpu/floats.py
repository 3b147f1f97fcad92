"""float32 on the device without CuPy's flush-to-zero.

CuPy compiles its own elementwise and reduction kernels with ``-ftz=true``, as it does our
RawModules (see ``csrc/cuda/common.cuh``): on the device, float32 arithmetic, comparisons
and conversions read subnormal values (below about 1.2e-38 in magnitude) as zero, while
NumPy and the CPU path keep them. Where pycsc would leave float32 work to CuPy, it comes
here instead: tests on the bit patterns (integer operations, exact), or a note that the
array holds subnormals so the caller can take the exact host path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._gpu import is_gpu_array

_F32 = np.dtype(np.float32)
_POSITIVE_INF = 0x7F800000  # bits of +inf; positive NaNs lie above, negative numbers below 0
_SMALLEST_NORMAL = 0x00800000


def flushes(a: Any) -> bool:
    """Whether CuPy would flush subnormals of `a`: a float32 array on the device."""
    return is_gpu_array(a) and a.dtype == _F32


def greater_than_zero(a: Any) -> Any:
    """``a > 0`` as NumPy computes it (NaN false, +inf true, subnormals kept), for float32."""
    bits = a.view(np.int32)
    return (bits > 0) & (bits <= _POSITIVE_INF)


def has_subnormals(a: Any) -> bool:
    """Whether float32 `a` holds a subnormal value (of either sign)."""
    magnitude = a.view(np.int32) & 0x7FFFFFFF
    return bool(((magnitude > 0) & (magnitude < _SMALLEST_NORMAL)).any())
