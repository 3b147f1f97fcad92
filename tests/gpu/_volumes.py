"""Random label volumes shared by the GPU label and overlap tests, and error capture."""

from __future__ import annotations

import numpy as np

from pycsc.errors import InputError, InputTypeError


def palette(dtype: np.dtype, ids: str) -> list[int]:
    """Non-zero ids of a test volume: small, at the top of the dtype, or negative."""
    if dtype == np.bool_:
        return [1]
    info = np.iinfo(dtype)
    if ids == "small":
        return [1, 2, 3, 5, 6]
    if ids == "max":
        top = [info.max, info.max - 1, info.max // 2 + 1, 1]
        return top + ([2**32 + 3, 2**32 - 1, 2**40] if dtype.itemsize == 8 else [])
    assert ids == "negative" and dtype.kind == "i"
    return [-1, int(info.min), int(info.min) + 1, 4, int(info.max)]


def make_labels(shape, dtype, ids: str, layout: str, rng) -> np.ndarray:
    """Runs of ids along the flat order with background and isolated voxels, in `layout`."""
    dtype = np.dtype(dtype)
    full = (2 * shape[0],) + tuple(shape[1:]) if layout == "strided" else tuple(shape)
    size = int(np.prod(full))
    pal = np.array(palette(dtype, ids), dtype=object)
    runs = rng.integers(1, 25, size=size // 3 + 2)
    values = pal[rng.integers(0, pal.size, size=runs.size)]
    values[rng.random(runs.size) < 0.4] = 0
    flat = np.repeat(values, runs)[:size]
    noise = rng.random(size) < 0.05
    flat[noise] = pal[rng.integers(0, pal.size, size=int(noise.sum()))]
    a = np.array(list(flat), dtype=object).astype(dtype) if size else np.zeros(0, dtype)
    a = a.reshape(full)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        return np.flip(a[::2], axis=-1)
    return a


def outcome(fn, *args, **kwargs):
    """The result, or (exception type, message) for the errors the public functions raise."""
    try:
        return fn(*args, **kwargs)
    except (InputError, InputTypeError) as exc:
        return type(exc), str(exc)
