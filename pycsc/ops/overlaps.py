"""Overlap (contingency) table of a truth and a predicted label volume.

The evaluator's matching step needs, for every pair of a truth id and a predicted id that
share voxels, the number of shared voxels, plus the voxel count of every id. The official code
builds this with masks, bincounts and ``np.unique`` over 64-bit pair keys (evaluation.md 7.3
step 4); here one native pass over run-lengths of (truth, pred) pairs gives the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _core
from ..errors import InputError
from ..gpu import overlaps as _gpu_overlaps
from ._dispatch import as_label_array, check_label_array, choose_device, require_same_shape, run_on_gpu

_NDIMS = (1, 2, 3)


@dataclass(frozen=True, eq=False)
class Overlaps:
    """Sparse contingency table and per-label voxel counts of two label volumes.

    The arrays are NumPy arrays, or CuPy arrays when the inputs were CuPy arrays.

    Attributes
    ----------
    truth_ids, pred_ids : numpy.ndarray of uint64
        One row per distinct (truth id, pred id) pair over voxels where both are non-zero,
        sorted by (truth id, pred id).
    counts : numpy.ndarray of int64
        Number of voxels of each pair (always >= 1).
    truth_labels : numpy.ndarray of uint64
        Every non-zero id of ``truth``, sorted.
    truth_sizes : numpy.ndarray of int64
        Voxel count of each id in ``truth_labels``.
    pred_labels, pred_sizes : numpy.ndarray
        The same for ``pred``.
    """

    truth_ids: np.ndarray
    pred_ids: np.ndarray
    counts: np.ndarray
    truth_labels: np.ndarray
    truth_sizes: np.ndarray
    pred_labels: np.ndarray
    pred_sizes: np.ndarray


def overlaps(truth: Any, pred: Any, *, device: str = "auto") -> Overlaps:
    """Count the voxels shared by every (truth id, pred id) pair, and every id's size.

    Parameters
    ----------
    truth, pred : numpy.ndarray or cupy.ndarray
        Label volumes of the same shape (1D, 2D or 3D), any integer or bool dtype; the two
        dtypes may differ. 0 is background. Any memory layout is accepted (C- or
        Fortran-ordered arrays are read in place; other views are copied once).
    device : {"auto", "cpu", "gpu"}
        Where to compute. "auto" runs CuPy input on the GPU and NumPy input on the CPU (or
        on a usable GPU when it is large); "gpu" copies NumPy input to the GPU and the table
        back. Both give the same table: one pass counts pairs and sizes into device hash
        tables, which are then sorted on the device.

    Returns
    -------
    Overlaps
        The sparse contingency table over voxels where both volumes are non-zero, and the
        voxel count of every non-zero id of each volume.

    Raises
    ------
    InputTypeError
        If an input is not a NumPy (or CuPy) array or has a non-integer dtype.
    InputError
        If the shapes differ, an input is not 1D to 3D, or a signed input holds negative
        ids (instance ids must be >= 0, as the official ``np.bincount`` also requires).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[1, 1, 0], [2, 2, 2]], dtype=np.uint32)
    >>> pred = np.array([[5, 0, 0], [5, 7, 7]], dtype=np.uint16)
    >>> ov = overlaps(truth, pred)
    >>> ov.truth_ids, ov.pred_ids, ov.counts
    (array([1, 2, 2], dtype=uint64), array([5, 5, 7], dtype=uint64), array([1, 1, 2]))
    >>> ov.truth_labels, ov.truth_sizes
    (array([1, 2], dtype=uint64), array([2, 3]))
    >>> ov.pred_labels, ov.pred_sizes
    (array([5, 7], dtype=uint64), array([2, 2]))
    """
    if choose_device(device, truth, pred) == "gpu":
        check_label_array(truth, "truth", ndims=_NDIMS)
        check_label_array(pred, "pred", ndims=_NDIMS)
        require_same_shape(truth, pred, "truth", "pred")
        table = run_on_gpu(_gpu_overlaps.overlap_table, _as_int(truth), _as_int(pred))
    else:
        truth_c, pred_c = _same_order_views(truth, pred)
        table = _core.overlaps(truth_c, pred_c)
    for name in ("truth", "pred"):
        if table.pop(f"{name}_negative"):
            raise InputError(
                f"`{name}` holds negative ids; instance ids must be >= 0 "
                f"(relabel the volume, e.g. with connected components)"
            )
    return Overlaps(**table)


def _same_order_views(truth: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate both volumes and return C-contiguous arrays whose flat orders correspond.

    Counts do not depend on the traversal order, so two Fortran-ordered volumes are read
    through their (C-contiguous) transposes instead of being copied.
    """
    flip = _fortran_only(truth) and _fortran_only(pred)
    truth_c = as_label_array(truth.T if flip else truth, "truth", ndims=_NDIMS)
    pred_c = as_label_array(pred.T if flip else pred, "pred", ndims=_NDIMS)
    require_same_shape(truth, pred, "truth", "pred")
    return truth_c, pred_c


def _as_int(a: Any) -> Any:
    """Bool volumes are counted as uint8 (ids 0 and 1), as on the CPU."""
    return a.view(np.uint8) if a.dtype == np.bool_ else a


def _fortran_only(a: Any) -> bool:
    return isinstance(a, np.ndarray) and a.flags.f_contiguous and not a.flags.c_contiguous
