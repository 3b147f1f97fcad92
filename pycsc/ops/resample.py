"""Resampling that reproduces ``skimage.transform.rescale`` bit for bit (order 0 and 1).

The official evaluator brings every prediction onto the test grid with
``skimage.transform.rescale(img, scale, order, mode="constant", preserve_range=True)``:
nearest neighbour (order 0) for instance labels, linear (order 1, then ``> 0.5``) for
semantic masks. :func:`rescale` returns the same shape, dtype and values, computed by a
fused C++ kernel (``csrc/rescale.cpp``) or, for CuPy input or ``device="gpu"``, by CUDA
kernels (``csrc/cuda/rescale.cu``, driver :mod:`pycsc.gpu.resample`) that give the same
bits.

Grid convention (``ndimage.zoom(grid_mode=True)``): voxel edges line up, so output
voxel ``k`` samples input coordinate ``(k + 0.5) * n_in / n_out - 0.5``::

    input  |  0  |  1  |  2  |  3  |      x0.5: output 0 samples 0.5 -> nearest voxel 1
    output |     0     |     1     |                output 1 samples 2.5 -> nearest voxel 3
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import _core, _gpu
from ..errors import InputError, InputTypeError
from ..gpu import resample as _gpu_resample
from ._dispatch import INTEGER_DTYPES, choose_device, run_on_gpu

__all__ = ["rescale"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default, as skimage calls it


def rescale(
    image: Any,
    scale: Any,
    order: int,
    *,
    anti_aliasing: bool | None = None,
    device: str = "auto",
) -> Any:
    """Rescale a 2D or 3D image exactly as scikit-image 0.26 does.

    Equal to ``skimage.transform.rescale(image, scale, order=order, mode="constant",
    preserve_range=True, anti_aliasing=anti_aliasing)``: output shape
    ``max(1, round_half_even(scale * shape))``; optional Gaussian anti-aliasing
    (sigma ``(n_in / n_out - 1) / 2``, truncated at 4 sigma, zero padding); nearest or
    linear interpolation on the pixel-edge grid with zeros outside the input; clipping to
    the input range (widened to 0 where the zero padding shows).

    Parameters
    ----------
    image : numpy.ndarray or cupy.ndarray
        2D or 3D array of any integer dtype, bool, float32 or float64; any memory layout.
    scale : float or sequence of float
        Zoom factor, one for all axes or one per axis; finite and > 0.
    order : {0, 1}
        0 = nearest neighbour (keeps the dtype), 1 = linear (float32 stays float32,
        every other dtype becomes float64). bool images need order 0.
    anti_aliasing : bool, optional
        Gaussian smoothing before sampling. ``None`` (default) = scikit-image's default:
        on when some axis shrinks, unless the image is bool or (integer and order 0).
    device : {"auto", "cpu", "gpu"}
        Where to run. "gpu" runs the CUDA kernels (NumPy input is copied to the device
        and the result back); "auto" does so for CuPy input, and for NumPy input of at
        least 4 Mi voxels when a GPU is usable; "cpu" runs the C++ kernel (NumPy input
        only). Both paths return the same bits (NaN payloads aside).

    Returns
    -------
    numpy.ndarray or cupy.ndarray
        The rescaled image, C-contiguous, of the dtype scikit-image returns, on the
        device of `image`; bitwise equal to scikit-image's except for NaN payloads and
        the sign of zeros.

    Raises
    ------
    InputTypeError
        `image` is not a NumPy or CuPy array or has an unsupported dtype.
    InputError
        Wrong `image` dimensionality or an empty axis; `scale` not positive, not finite
        or with the wrong number of entries; `order` not 0 or 1; a bool image with
        order 1 or anti-aliasing; CuPy input with ``device="cpu"``.
    BackendUnavailableError
        ``device="gpu"`` (or CuPy input) without a usable GPU.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], np.uint32)
    >>> rescale(labels, 0.5, order=0)
    array([[1, 2],
           [3, 4]], dtype=uint32)
    >>> rescale(np.array([[0.0, 1.0]], np.float32), (1, 2), order=1)
    array([[0.  , 0.25, 0.75, 0.75]], dtype=float32)
    """
    on = choose_device(device, image)
    img = _check_image(image)
    order = _check_order(order)
    if img.dtype == np.bool_ and order != 0:
        raise InputError(
            "`order` must be 0 for a bool `image` (scikit-image refuses linear interpolation "
            "of bool); cast the image to float32 first for order 1"
        )
    scales = _check_scale(scale, img.ndim)
    in_shape = img.shape
    requested = np.maximum(np.round(scales * np.asarray(in_shape)), 1)
    if anti_aliasing is None:
        anti_aliasing = (
            img.dtype != np.bool_
            and not (img.dtype.kind in "iu" and order == 0)
            and any(o < i for o, i in zip(requested, in_shape))
        )
    elif not isinstance(anti_aliasing, (bool, np.bool_)):
        raise InputError(f"`anti_aliasing` must be None, True or False; got {anti_aliasing!r}")
    if anti_aliasing and img.dtype == np.bool_:
        raise InputError("`anti_aliasing` must be False for a bool `image` (as in scikit-image)")
    # skimage hands ndimage.zoom the factors 1 / (n_in / n_out); zoom rounds them back
    # to a shape and samples with n_in / shape.
    factors = np.divide(in_shape, requested)
    out_shape = tuple(int(round(n * (1 / f))) for n, f in zip(in_shape, factors))
    sigmas = np.maximum(0, (factors - 1) / 2)
    kernels = [
        _gaussian_weights(s) if anti_aliasing and s > 1e-15 else np.empty(0) for s in sigmas
    ]
    if on == "gpu":
        return run_on_gpu(_gpu_resample.rescale, img, out_shape=out_shape, order=order, kernels=kernels)
    work_dtype = _working_dtype(img.dtype, order)
    if out_shape == in_shape:
        # ndimage.zoom returns its input unchanged when every factor is 1; the
        # anti-aliasing sigmas are then all 0, so nothing is smoothed either.
        return np.array(img, dtype=work_dtype, order="C")
    pad = 3 - img.ndim
    src = np.ascontiguousarray(img).reshape((1,) * pad + in_shape)
    out = _core.rescale(src, (1,) * pad + out_shape, order, [np.empty(0)] * pad + kernels)
    return out.reshape(out_shape)


def _check_image(image: Any) -> Any:
    if not (isinstance(image, np.ndarray) or _gpu.is_gpu_array(image)):
        raise InputTypeError(
            f"`image` must be a numpy.ndarray or cupy.ndarray; got {type(image).__name__}"
        )
    if not image.dtype.isnative:
        image = image.astype(image.dtype.newbyteorder("="))
    dt = image.dtype
    if not (dt == np.bool_ or dt in INTEGER_DTYPES or dt in _FLOAT_DTYPES):
        raise InputTypeError(
            f"`image` must have an integer, bool, float32 or float64 dtype; got {dt}"
        )
    if image.ndim not in (2, 3):
        raise InputError(f"`image` must be 2D or 3D; got {image.ndim}D with shape {image.shape}")
    if 0 in image.shape:
        raise InputError(f"`image` must have at least one voxel on every axis; got shape {image.shape}")
    return image


def _check_order(order: Any) -> int:
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral) or order not in (0, 1):
        raise InputError(f"`order` must be 0 (nearest) or 1 (linear); got {order!r}")
    return int(order)


def _check_scale(scale: Any, ndim: int) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(scale, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError(f"`scale` must be a number or {ndim} numbers; got {scale!r}") from None
    if arr.ndim != 1 or arr.size not in (1, ndim):
        raise InputError(f"`scale` must be a number or {ndim} numbers (one per axis); got {scale!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(f"`scale` must be finite and > 0 on every axis; got {scale!r}")
    return arr


def _working_dtype(dtype: np.dtype, order: int) -> np.dtype:
    """skimage's dtype: order 0 keeps it; order 1 keeps float32/float64, else float64."""
    if order == 0 or dtype in _FLOAT_DTYPES:
        return dtype
    return np.dtype(np.float64)


def _gaussian_weights(sigma: np.float64) -> np.ndarray:
    """scipy.ndimage.gaussian_filter1d's kernel, computed with the same numpy operations
    (so that numpy's own exp gives the same float64 weights)."""
    radius = int(_TRUNCATE * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return np.ascontiguousarray((phi / phi.sum())[::-1])
