"""Label-volume utilities: distinct values, voxel counts, bounding boxes, value remapping.

Each is one native pass with run-length scanning (background is skipped 64 voxels at a time)
and per-value tables; they replace ``np.unique`` / ``fastremap.unique``, ``fastremap.remap``
and ``cc3d.statistics`` in the evaluator. CuPy input (or ``device="gpu"``) runs the GPU paths
of :mod:`pycsc.gpu.labels`, which give the same results, as CuPy arrays for CuPy input.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import _core, _gpu
from ..errors import InputError, InputTypeError
from ..gpu import labels as _gpu_labels
from ._dispatch import as_label_array, check_label_array, choose_device, run_on_gpu

_NDIMS = (1, 2, 3)


def unique(labels: Any, *, return_counts: bool = False, device: str = "auto") -> Any:
    """Sorted distinct values of a label array, like ``numpy.unique`` on the flattened array.

    Parameters
    ----------
    labels : numpy.ndarray or cupy.ndarray
        1D, 2D or 3D array of any integer or bool dtype, any memory layout.
    return_counts : bool
        Also return how many times each value occurs.
    device : {"auto", "cpu", "gpu"}
        Where to compute. "auto" runs CuPy input on the GPU and NumPy input on the CPU (or on
        a usable GPU when it is large); "gpu" copies NumPy input there and the result back.
        Both give the same result (GPU: one counting pass into a device hash table).

    Returns
    -------
    values : numpy.ndarray
        The distinct values (0 included when present), sorted, in the dtype of ``labels``.
    counts : numpy.ndarray of int64
        Occurrences of each value; only with ``return_counts=True``.

    Raises
    ------
    InputTypeError
        If ``labels`` is not a NumPy (or CuPy) array of an integer or bool dtype.
    InputError
        If ``labels`` is not 1D to 3D.

    Examples
    --------
    >>> import numpy as np
    >>> unique(np.array([[3, 0, 3], [-1, 0, 0]], dtype=np.int16), return_counts=True)
    (array([-1,  0,  3], dtype=int16), array([1, 3, 2]))
    """
    gpu, a, _ = _c_view(labels, "labels", device)
    values, counts = _value_counts(a, gpu)
    values = values.astype(np.bool_) if a.dtype == np.bool_ else values
    return (values, counts) if return_counts else values


def voxel_counts(labels: Any, *, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Every non-zero id of a label array with its number of voxels.

    Parameters
    ----------
    labels : numpy.ndarray or cupy.ndarray
        1D, 2D or 3D array of any integer or bool dtype, any memory layout; ids must be >= 0.
    device : {"auto", "cpu", "gpu"}
        Where to compute, as for :func:`unique` (same result on both).

    Returns
    -------
    ids : numpy.ndarray of uint64
        The non-zero ids, sorted (CuPy arrays for CuPy input, here and below).
    counts : numpy.ndarray of int64
        Voxel count of each id.

    Raises
    ------
    InputTypeError
        If ``labels`` is not a NumPy (or CuPy) array of an integer or bool dtype.
    InputError
        If ``labels`` is not 1D to 3D or holds negative values.

    Examples
    --------
    >>> import numpy as np
    >>> voxel_counts(np.array([[7, 0, 7], [2, 0, 0]], dtype=np.uint32))
    (array([2, 7], dtype=uint64), array([1, 2]))
    """
    gpu, a, _ = _c_view(labels, "labels", device)
    values, counts = _value_counts(a, gpu)
    if values.size and values[0] < 0:
        raise _negative_ids("labels", int(values[0]))
    keep = values != 0
    return values[keep].astype(np.uint64), counts[keep]


def bounding_boxes(labels: Any, *, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of every non-zero id of a label array.

    Parameters
    ----------
    labels : numpy.ndarray or cupy.ndarray
        1D, 2D or 3D array of any integer or bool dtype, any memory layout; ids must be >= 0.
    device : {"auto", "cpu", "gpu"}
        Where to compute, as for :func:`unique` (same result on both; GPU: one pass, each id
        mapped to a hash-table slot whose box grows by atomicMin / atomicMax).

    Returns
    -------
    ids : numpy.ndarray of uint64
        The non-zero ids, sorted (CuPy arrays for CuPy input, here and below).
    boxes : numpy.ndarray of int64, shape (len(ids), 2 * labels.ndim)
        ``[start_0, ..., start_{d-1}, stop_0, ..., stop_{d-1}]`` per id, stops exclusive, so
        ``labels[tuple(slice(b[i], b[d + i]) for i in range(d))]`` is the tight box.

    Raises
    ------
    InputTypeError
        If ``labels`` is not a NumPy (or CuPy) array of an integer or bool dtype.
    InputError
        If ``labels`` is not 1D to 3D or holds negative values.

    Examples
    --------
    >>> import numpy as np
    >>> bounding_boxes(np.array([[0, 4, 4], [0, 0, 4], [9, 0, 0]], dtype=np.uint8))
    (array([4, 9], dtype=uint64), array([[0, 1, 2, 3],
           [2, 0, 3, 1]]))
    """
    gpu, a, transposed = _c_view(labels, "labels", device)
    if gpu:
        ids, boxes, negative_min = run_on_gpu(_gpu_labels.bounding_boxes, _ints(a), transposed=transposed)
        if negative_min is not None:
            raise _negative_ids("labels", negative_min)
        return ids, boxes
    ids, boxes3, negative = _core.bounding_boxes(_ints(a))
    if negative:
        raise _negative_ids("labels", int(unique(a, device="cpu")[0]))
    d = a.ndim
    starts, stops = boxes3[:, 3 - d : 3], boxes3[:, 6 - d : 6]
    if transposed:
        starts, stops = starts[:, ::-1], stops[:, ::-1]
    return ids, np.ascontiguousarray(np.concatenate([starts, stops], axis=1))


def remap(labels: Any, mapping: Any, *, preserve_missing: bool = True, device: str = "auto") -> np.ndarray:
    """Replace label values through a table, like ``fastremap.remap``; returns a new array.

    Parameters
    ----------
    labels : numpy.ndarray or cupy.ndarray
        1D, 2D or 3D array of any integer or bool dtype (bool is read as uint8), any layout.
        Never modified.
    mapping : dict or (keys, values)
        ``{old: new}`` with integer keys and values, or two 1D integer arrays of equal length
        with distinct keys. Keys that ``labels``' dtype cannot hold are ignored.
    preserve_missing : bool
        True: values that are not keys keep their value. False: such a value raises.
    device : {"auto", "cpu", "gpu"}
        Where to compute, as for :func:`unique` (same result on both; GPU: a table gather for
        8/16-bit labels, a binary search in the sorted keys per run of equal values otherwise).

    Returns
    -------
    numpy.ndarray or cupy.ndarray
        CuPy for CuPy input. Same shape and memory order as ``labels`` (C order for non-contiguous input). Its dtype
        is that of ``labels``, widened within the same kind (unsigned / signed) to the smallest
        dtype holding every new value of ``mapping`` (used or not), as fastremap does.

    Raises
    ------
    InputTypeError
        If ``labels`` is not an integer or bool array, or ``mapping`` is not a dict or a pair of
        integer arrays.
    InputError
        If ``preserve_missing`` is False and a value of ``labels`` is not a key (the message
        names it), keys repeat, a new value is negative for unsigned ``labels``, or no integer
        dtype of the kind holds the new values. fastremap raises KeyError / ValueError here.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[0, 1, 1], [2, 3, 0]], dtype=np.uint8)
    >>> remap(labels, {1: 300, 2: 5})
    array([[  0, 300, 300],
           [  5,   3,   0]], dtype=uint16)
    >>> remap(labels, {0: 0, 1: 1, 2: 2}, preserve_missing=False)
    Traceback (most recent call last):
    ...
    pycsc.errors.InputError: `labels` holds the value 3, which is not a key of `mapping`; add it, or pass preserve_missing=True to keep values that have no key
    """
    gpu, a, transposed = _c_view(labels, "labels", device)
    a = _ints(a)
    keys, values, usable = _mapping_arrays(mapping, a.dtype)
    out_dtype = _remap_dtype(a.dtype, values)
    new_values = values[usable].astype(out_dtype)
    if gpu:
        out, missing = run_on_gpu(_gpu_labels.remap, a, keys, new_values, preserve_missing=bool(preserve_missing))
    else:
        out, missing = _core.remap(a, keys, new_values, bool(preserve_missing))
    if out is None:
        raise InputError(
            f"`labels` holds the value {missing}, which is not a key of `mapping`; add it, "
            "or pass preserve_missing=True to keep values that have no key"
        )
    return out.T if transposed else out


def _c_view(labels: Any, name: str, device: str) -> tuple[bool, Any, bool]:
    """Validate; return whether to run on the GPU, the voxels in C order, and whether that
    is the transpose of `labels`.

    A Fortran-ordered array is read through its transpose (no copy); on the CPU other
    layouts are copied here, on the GPU by the driver.
    """
    gpu = choose_device(device, labels) == "gpu"
    transposed = (
        (isinstance(labels, np.ndarray) or _gpu.is_gpu_array(labels))
        and labels.flags.f_contiguous
        and not labels.flags.c_contiguous
    )
    view = labels.T if transposed else labels
    if gpu:
        return True, check_label_array(view, name, ndims=_NDIMS), transposed
    return False, as_label_array(view, name, ndims=_NDIMS), transposed


def _ints(a: Any) -> Any:
    """Bool labels are read as uint8."""
    return a.view(np.uint8) if a.dtype == np.bool_ else a


def _value_counts(a: Any, gpu: bool) -> tuple[Any, Any]:
    if gpu:
        return run_on_gpu(_gpu_labels.value_counts, _ints(a))
    return _core.value_counts(_ints(a))


def _negative_ids(name: str, value: Any) -> InputError:
    return InputError(f"`{name}` holds negative ids (e.g. {value}); ids must be >= 0")


def _mapping_arrays(mapping: Any, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From either form: the keys that ``dtype`` can hold (cast to it), every new value as an
    int64 (or uint64) array, and the mask of the values whose keys were kept."""
    if isinstance(mapping, Mapping):
        try:
            keys = [operator.index(k) for k in mapping.keys()]
            values = [operator.index(v) for v in mapping.values()]
        except TypeError:
            bad = next(kv for kv in mapping.items() if not all(hasattr(x, "__index__") for x in kv))
            raise InputTypeError(f"`mapping` keys and values must be integers; got the entry {bad!r}") from None
        info = np.iinfo(dtype)
        usable = np.array([info.min <= k <= info.max for k in keys], dtype=bool)
        kept = np.array([k for k, ok in zip(keys, usable) if ok], dtype=dtype)
        return kept, _int_array(values), usable
    if isinstance(mapping, (tuple, list)) and len(mapping) == 2:
        keys, values = (np.asarray(x) for x in mapping)
        for arr, part in ((keys, "keys"), (values, "values")):
            if arr.ndim != 1:
                raise InputError(f"`mapping` {part} must be a 1D array; got shape {arr.shape}")
            if arr.size and arr.dtype.kind not in "uib":
                raise InputTypeError(f"`mapping` {part} must have an integer dtype; got {arr.dtype}")
        if keys.size != values.size:
            raise InputError(f"`mapping` keys and values differ in length: {keys.size} and {values.size}")
        keys = keys.astype(np.int64) if keys.dtype.kind not in "ui" else keys
        values = values.astype(np.int64) if values.dtype.kind not in "ui" else values
        uniq, counts = np.unique(keys, return_counts=True)
        if np.any(counts > 1):
            raise InputError(f"`mapping` keys must be distinct; {uniq[counts > 1][0]} repeats")
        usable = _in_range(keys, dtype)
        return keys[usable].astype(dtype), values, usable
    raise InputTypeError(f"`mapping` must be a dict or a (keys, values) pair; got {type(mapping).__name__}")


def _int_array(items: list[int]) -> np.ndarray:
    if not items:
        return np.zeros(0, np.int64)
    lo, hi = min(items), max(items)
    if lo >= np.iinfo(np.int64).min and hi <= np.iinfo(np.int64).max:
        return np.array(items, dtype=np.int64)
    if lo >= 0 and hi <= np.iinfo(np.uint64).max:
        return np.array(items, dtype=np.uint64)
    raise InputError(f"`mapping` values must fit in 64-bit integers; got values in [{lo}, {hi}]")


def _remap_dtype(in_dtype: np.dtype, values: np.ndarray) -> np.dtype:
    """``in_dtype`` widened within its kind until it holds every value (fastremap's rule)."""
    if values.size == 0:
        return in_dtype
    lo, hi = int(values.min()), int(values.max())
    if in_dtype.kind == "u" and lo < 0:
        raise InputError(
            f"`mapping` maps to the negative value {lo} but `labels` is unsigned ({in_dtype}); "
            "cast `labels` to a signed dtype first"
        )
    for size in (1, 2, 4, 8):
        candidate = np.dtype(f"{in_dtype.kind}{size}")
        info = np.iinfo(candidate)
        if size >= in_dtype.itemsize and info.min <= lo and hi <= info.max:
            return candidate
    kind = "signed" if in_dtype.kind == "i" else "unsigned"
    raise InputError(
        f"no {kind} integer dtype holds the new values of `mapping` (range [{lo}, {hi}]) "
        f"for `labels` of dtype {in_dtype}"
    )


def _in_range(keys: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Mask of the keys that ``dtype`` can represent (the others can never match a voxel)."""
    if keys.size == 0:
        return np.zeros(0, bool)
    target, own = np.iinfo(dtype), np.iinfo(keys.dtype)
    lo, hi = max(target.min, own.min), min(target.max, own.max)
    if lo > hi:
        return np.zeros(keys.size, bool)
    return (keys >= keys.dtype.type(lo)) & (keys <= keys.dtype.type(hi))
