"""Exact Euclidean distance transform and per-instance Hausdorff distances.

Both match the official stack bitwise: distances are formed as scipy forms them, from
integer voxel offsets times the voxel size, squared and summed over the axes in order
(z, then y, then x) in float64, then square-rooted. The GPU paths (:mod:`pycsc.gpu.distance`)
return the same bits as the CPU paths.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import _gpu
from ..errors import InputError, InputTypeError
from ..gpu import distance as _gpu_distance
from ._dispatch import (as_label_array, as_spacing, check_label_array, choose_device, require_same_shape,
                        integral_ids, run_on_gpu)

METHODS = ("standard", "modified", "percentile")


def _native_mask_dtype(dtype: np.dtype) -> bool:
    """Dtypes the native EDT reads directly; others are reduced to ``mask != 0`` first."""
    if dtype.kind in "biu":
        return dtype.itemsize in (1, 2, 4, 8)
    return dtype.kind == "f" and dtype.itemsize in (4, 8)


def distance_transform_edt(mask: Any, sampling: Any = None, *, device: str = "auto") -> np.ndarray:
    """Distance of every non-zero voxel to the nearest zero voxel, as scipy computes it.

    Equal to ``scipy.ndimage.distance_transform_edt(mask, sampling=sampling)``: zero voxels
    get 0; when ``mask`` has no zero voxel at all, distances are measured from the virtual
    voxel at index -1 of the first axis (and 0 on the others), as scipy does.

    Parameters
    ----------
    mask : numpy.ndarray or cupy.ndarray
        2D or 3D array of any numeric or bool dtype; non-zero (and NaN) is foreground.
    sampling : float or sequence of float, optional
        Voxel size per axis (one value for all axes, or one per axis); 1 when omitted.
    device : {"auto", "cpu", "gpu"}
        Where to compute; see :func:`pycsc.ops._dispatch.choose_device`. The GPU path
        (``pycsc.gpu.distance``) returns the same float64 bits as the CPU path; it needs
        about 2 float64 volumes plus up to 1 GiB of line scratch on the device.

    Returns
    -------
    numpy.ndarray or cupy.ndarray
        float64 distances, same shape as ``mask``, where ``mask`` lives.

    Raises
    ------
    InputTypeError
        ``mask`` is not an array of a numeric or bool dtype.
    InputError
        ``mask`` is not 2D or 3D, or ``sampling`` is not finite and > 0 per axis.

    Examples
    --------
    >>> m = np.array([[0, 1, 1, 1, 1]])
    >>> distance_transform_edt(m, sampling=(1.0, 2.0))
    array([[0., 2., 4., 6., 8.]])
    """
    on_gpu = choose_device(device, mask) == "gpu"
    if not (isinstance(mask, np.ndarray) or (on_gpu and _gpu.is_gpu_array(mask))):
        raise InputTypeError(f"`mask` must be a numpy.ndarray; got {type(mask).__name__}")
    if mask.ndim not in (2, 3):
        raise InputError(f"`mask` must be 2D or 3D; got {mask.ndim}D")
    if not _native_mask_dtype(mask.dtype):
        if mask.dtype.kind not in "fiu":
            raise InputTypeError(f"`mask` must have a real numeric or bool dtype; got {mask.dtype}")
        mask = mask != 0
    spacing = as_spacing(sampling, mask.ndim, "sampling")
    if on_gpu:
        return run_on_gpu(_gpu_distance.distance_transform_edt, mask, spacing=spacing)
    from .. import _core

    return _core.distance_transform_edt(np.ascontiguousarray(mask), list(spacing))


def hausdorff_distances(
    truth: Any,
    pred: Any,
    voxel_size: Any,
    max_distance: float,
    *,
    method: str = "standard",
    percentile: float | None = None,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Per truth instance Hausdorff distance to the same id in the (remapped) prediction.

    For each distinct non-zero id ``t`` of ``truth``: ``A = truth == t``, ``B = pred == t``;
    ``B`` empty gives ``max_distance``; otherwise ``fwd`` holds the distance of every voxel of
    ``A`` to the nearest voxel of ``B`` (0 inside ``B``) and ``bwd`` the reverse, in physical
    units, and the result is ``min(stat(fwd) max stat(bwd), max_distance)`` with ``stat`` the
    maximum ("standard"), the mean ("modified") or numpy's linear percentile ("percentile").
    Ids found only in ``pred`` are ignored. This is the official evaluator's per-object
    distance (``compute_hausdorff_distance_roi``), bit for bit, including its behaviour when
    an unrelated prediction component carries the same id.

    ::

        truth   . . A A . .        fwd: A -> nearest B     standard: max(max fwd, max bwd)
        pred    . . . B B .        bwd: B -> nearest A     capped at max_distance

    Parameters
    ----------
    truth, pred : numpy.ndarray or cupy.ndarray
        2D or 3D integer (or bool) label arrays of the same shape; dtypes may differ.
        ``truth`` ids must be >= 0; `truth` may be a float array holding whole ids.
    voxel_size : float or sequence of float
        Physical voxel size per axis (one value, or one per axis), finite and > 0.
    max_distance : float
        The cap, > 0; ``inf`` means no cap (the evaluator uses half the smallest physical
        crop side). An id absent from `pred` gets this value.
    method : {"standard", "modified", "percentile"}
    percentile : float, optional
        Required with ``method="percentile"``, in (0, 100]; not allowed otherwise.
    device : {"auto", "cpu", "gpu"}
        Where to compute; see :func:`pycsc.ops._dispatch.choose_device`. The GPU path
        (``pycsc.gpu.distance``) returns the same ids and float64 bits as the CPU path.

    Returns
    -------
    ids : numpy.ndarray or cupy.ndarray
        Sorted distinct non-zero truth ids (uint64), where the input lives.
    distances : numpy.ndarray or cupy.ndarray
        float64, one per id.

    Raises
    ------
    InputTypeError
        Arrays of a non-integer dtype, or parameters of the wrong type.
    InputError
        Shapes differ, bad ``voxel_size``/``max_distance``/``method``/``percentile``, or a
        negative truth id.

    Examples
    --------
    >>> truth = np.array([[1, 1, 0, 0, 0, 0, 2]])
    >>> pred = np.array([[0, 1, 1, 0, 0, 0, 0]])
    >>> ids, d = hausdorff_distances(truth, pred, (1.0, 2.0), 10.0)
    >>> ids, d
    (array([1, 2], dtype=uint64), array([ 2., 10.]))
    >>> hausdorff_distances(truth, pred, 2.0, 10.0, method="modified")[1]
    array([ 1., 10.])
    """
    truth = integral_ids(truth, "truth")
    on_gpu = choose_device(device, truth, pred) == "gpu"
    as_labels = check_label_array if on_gpu else as_label_array
    truth = as_labels(truth, "truth")
    pred = as_labels(pred, "pred")
    require_same_shape(truth, pred, "truth", "pred")
    if voxel_size is None:
        raise InputTypeError("`voxel_size` is required: a number or one number per axis")
    spacing = as_spacing(voxel_size, truth.ndim, "voxel_size")
    cap = _real(max_distance, "max_distance")
    if not cap > 0:  # inf allowed: no cap, as the official per-object distance
        raise InputError(f"`max_distance` must be > 0 (inf = no cap); got {max_distance!r}")
    if not isinstance(method, str):
        raise InputTypeError(f"`method` must be a string, one of {METHODS}; got {type(method).__name__}")
    if method not in METHODS:
        raise InputError(f"`method` must be one of {METHODS}; got {method!r}")
    if method == "percentile":
        if percentile is None:
            raise InputError("`percentile` is required with method='percentile': a number in (0, 100]")
        pct = _real(percentile, "percentile")
        if not 0 < pct <= 100:
            raise InputError(f"`percentile` must be in (0, 100]; got {percentile!r}")
    elif percentile is not None:
        raise InputError(f"`percentile` is only used with method='percentile'; got method={method!r}")
    else:
        pct = 0.0
    if on_gpu:
        return run_on_gpu(_gpu_distance.hausdorff_distances, truth, pred, spacing=spacing, max_distance=cap,
                          method=method, percentile=pct)
    from .. import _core

    try:
        return _core.hausdorff_distances(truth, pred, list(spacing), cap, METHODS.index(method), pct)
    except ValueError as err:  # data-dependent checks in the core (negative truth ids, extents)
        raise InputError(str(err)) from None


def _real(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"`{name}` must be a real number; got {type(value).__name__}")
    return float(value)
