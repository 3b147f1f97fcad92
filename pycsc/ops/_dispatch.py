"""Shared validation and CPU/GPU dispatch for the public kernels in :mod:`pycsc.ops`.

Rules: the output lives where the input lives (NumPy in, NumPy out; CuPy in, CuPy out).
``device="cpu"`` refuses CuPy input; ``device="gpu"`` requires a usable GPU and copies NumPy
input there and the result back; ``device="auto"`` runs CuPy input on the GPU, and NumPy
input on the GPU only when one is usable and the array is large enough
(:data:`AUTO_GPU_MIN_ELEMENTS`) to repay the two copies, else on the CPU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .. import _gpu
from ..gpu import _runtime
from ..errors import InputError, InputTypeError

DEVICES = ("auto", "cpu", "gpu")

INTEGER_DTYPES = tuple(
    np.dtype(t) for t in ("uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64")
)


# Below this many elements the host-device copies and kernel launches cost more than the
# CPU kernels themselves (a 160^3 volume is about 4 M voxels).
AUTO_GPU_MIN_ELEMENTS = 1 << 22


def choose_device(device: str, *arrays: Any) -> str:
    """Resolve ``device`` ("auto", "cpu", "gpu") against where the input arrays live."""
    if device not in DEVICES:
        raise InputError(f"`device` must be one of {DEVICES}; got {device!r}")
    on_gpu = any(_gpu.is_gpu_array(a) for a in arrays)
    if device == "cpu":
        if on_gpu:
            raise InputError("`device`='cpu' was given CuPy arrays; pass NumPy arrays (x.get())")
        return "cpu"
    if device == "gpu" or on_gpu:
        if not _runtime.has_override():
            _gpu.require_gpu()
        return "gpu"
    big = max((int(getattr(a, "size", 0)) for a in arrays), default=0) >= AUTO_GPU_MIN_ELEMENTS
    if big and not _runtime.has_override() and _gpu.gpu_status()[0]:
        return "gpu"
    return "cpu"


def array_module(a: Any) -> Any:
    """NumPy for host arrays, the GPU backend's module (CuPy) for device arrays."""
    return _runtime.backend().xp if _gpu.is_gpu_array(a) else np


def resolve_device(device: str) -> str:
    """A whole job's device: "gpu" or "cpu" ("auto" takes a usable GPU).

    Raises BackendUnavailableError for "gpu" without a usable GPU.
    """
    if device not in DEVICES:
        raise InputError(f"`device` must be one of {DEVICES}; got {device!r}")
    if device == "gpu":
        return choose_device("gpu")
    if device == "auto" and not _runtime.has_override() and _gpu.gpu_status()[0]:
        return "gpu"
    return "cpu"


def run_on_gpu(fn: Any, *arrays: Any, **kwargs: Any) -> Any:
    """Call GPU implementation `fn` on `arrays` moved to the device; host input gets host output.

    `fn` takes arrays of the backend's module (CuPy) and returns arrays, scalars, or tuples
    and dataclasses of them. ``None`` entries of `arrays` pass through.
    """
    xp = _runtime.backend().xp
    host_in = not any(_gpu.is_gpu_array(a) for a in arrays)
    out = fn(*(None if a is None else xp.asarray(a) for a in arrays), **kwargs)
    return to_host(out) if host_in else out


def to_host(obj: Any) -> Any:
    """`obj` with every CuPy array in it (tuples, lists, dicts, dataclasses) copied to NumPy."""
    if _gpu.is_gpu_array(obj):
        return obj.get(order="A")  # keep a Fortran-ordered result Fortran-ordered (CuPy's default is C)
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(to_host(x) for x in obj)
    if isinstance(obj, list):
        return [to_host(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_host(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: to_host(getattr(obj, f.name))
                                           for f in dataclasses.fields(obj) if f.init})
    return obj


def as_label_array(a: Any, name: str, *, ndims: tuple[int, ...] = (2, 3), allow_bool: bool = True) -> np.ndarray:
    """Validate an integer (or bool) NumPy label array and return it C-contiguous."""
    if not isinstance(a, np.ndarray):
        raise InputTypeError(f"`{name}` must be a numpy.ndarray; got {type(a).__name__}")
    return np.ascontiguousarray(check_label_array(a, name, ndims=ndims, allow_bool=allow_bool))


def check_label_array(a: Any, name: str, *, ndims: tuple[int, ...] = (2, 3), allow_bool: bool = True) -> Any:
    """Validate dtype and dimension of a NumPy or CuPy label array; returns it unchanged."""
    if not (isinstance(a, np.ndarray) or _gpu.is_gpu_array(a)):
        raise InputTypeError(f"`{name}` must be a numpy.ndarray or cupy.ndarray; got {type(a).__name__}")
    if a.dtype == np.bool_:
        if not allow_bool:
            raise InputTypeError(f"`{name}` must have an integer dtype; got bool")
    elif a.dtype not in INTEGER_DTYPES:
        raise InputTypeError(
            f"`{name}` must have an integer{' or bool' if allow_bool else ''} dtype; got {a.dtype}"
        )
    if a.ndim not in ndims:
        raise InputError(f"`{name}` must be {' or '.join(f'{d}D' for d in ndims)}; got {a.ndim}D")
    return a


def integral_ids(a: Any, name: str) -> Any:
    """Float label arrays holding whole, non-negative, finite ids become the smallest unsigned
    integer dtype that holds them (the official evaluator takes float truth ids as they are);
    any other array is returned unchanged. NumPy or CuPy.

    Examples
    --------
    >>> integral_ids(np.array([0.0, 3.0, 300.0]), "truth")
    array([  0,   3, 300], dtype=uint16)
    """
    if not (isinstance(a, np.ndarray) or _gpu.is_gpu_array(a)) or a.dtype.kind != "f":
        return a
    xp = array_module(a)
    if a.size == 0:
        return a.astype(np.uint8)
    finite = bool(xp.isfinite(a).all())
    lo, hi = (float(a.min()), float(a.max())) if finite else (0.0, 0.0)
    if not finite or lo < 0 or hi >= 2.0 ** 64 or not bool(xp.array_equal(a, xp.trunc(a))):
        raise InputError(
            f"`{name}` is a float array ({a.dtype}) whose values are not all whole, non-negative, finite "
            "ids; instance labels must hold integer ids (0 = background)"
        )
    for dtype in (np.uint8, np.uint16, np.uint32, np.uint64):
        if hi <= np.iinfo(dtype).max:
            return a.astype(dtype)
    raise AssertionError("unreachable: hi < 2**64")


def as_spacing(values: Any, ndim: int, name: str) -> tuple[float, ...]:
    """Validate a per-axis physical spacing (voxel size): finite and > 0, one per axis."""
    if values is None:
        return (1.0,) * ndim
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size not in (1, ndim):
        raise InputError(f"`{name}` must be a number or {ndim} numbers; got {values!r}")
    if arr.size == 1:
        arr = np.repeat(arr, ndim)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(f"`{name}` must be finite and > 0 on every axis; got {values!r}")
    return tuple(float(v) for v in arr)


def require_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise InputError(f"`{name_a}` and `{name_b}` must have the same shape; got {a.shape} and {b.shape}")
