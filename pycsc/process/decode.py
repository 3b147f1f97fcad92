"""Decoders: stored predictions of a target kind -> a mask (semantic) or objects (instance).

Predictions arrive as stored by `csc predict`: activated outputs mapped to 0..1 (sigmoid
as is, tanh ``t`` as ``(t + 1) / 2``), shape ``[z, y, x]`` for one channel or
``[C, z, y, x]``, with the target kind in the array's ``pycsc.target`` attributes
(:func:`target_of`). Each decoder is a registry entry, picked from the kind
(:attr:`pycsc.targets.Target.decoder`) unless process.toml names another per class::

    sdt       t = 2p - 1 (tanh of the signed distance)
      sdt_cc            foreground t > 0, connected components (objects that meet only
                        diagonally stay apart with connectivity 6, not 26)
      sdt_watershed     seeds: components of p > seed_threshold (deep inside objects);
                        watershed on -p inside the foreground
    boundary  channels fg, boundary
      boundary_watershed  seeds: components of fg & boundary < 1 - seed_threshold;
                          watershed on the boundary map inside the foreground
    affinity  channels fg, aff_<axis> (v with v - e_axis)
      affinity_watershed  boundary map = 1 - weakest affinity of each voxel's face links,
                          then as boundary_watershed

Foreground components that hold no seed become objects of their own, so no foreground
voxel is lost. Watershed is scikit-image's, imported only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ConfigError, DataError


@dataclass(frozen=True)
class DecodeParams:
    """What every decoder may use (from process.toml)."""

    threshold: float = 0.5          # foreground probability
    seed_threshold: float = 0.75    # how sure a voxel must be to seed an object
    connectivity: int = 26
    instance: bool = True


_DECODERS: dict[str, tuple[str, Callable]] = {}


def register_decoder(name: str, kind: str):
    """Decorator: `fn(probabilities, params) -> labels or mask` decodes target `kind`."""
    def wrap(fn):
        _DECODERS[name] = (kind, fn)
        return fn
    return wrap


def list_decoders() -> list[str]:
    """
    Examples
    --------
    >>> list_decoders()
    ['affinity_watershed', 'boundary_watershed', 'sdt_cc', 'sdt_watershed', 'threshold']
    """
    return sorted(_DECODERS)


def target_of(attrs: dict) -> dict:
    """The ``pycsc.target`` attributes of a prediction group; binary when absent."""
    return dict(attrs.get("pycsc", {}).get("target") or {"kind": "binary", "channels": [""]})


def choose_decoder(target: dict, override: str | None, where: str) -> str:
    """The decoder for a prediction of `target`; `override` (process.toml) must decode its kind."""
    from ..targets import get_target

    kind = target.get("kind", "binary")
    if override is None:
        return get_target(kind).decoder
    if override not in _DECODERS:
        raise ConfigError(f"{where}: unknown decoder {override!r}; choose one of {', '.join(list_decoders())}")
    if _DECODERS[override][0] != kind:
        fits = [n for n, (k, _) in _DECODERS.items() if k == kind]
        raise ConfigError(f"{where}: decoder {override!r} decodes {_DECODERS[override][0]} predictions, "
                          f"but these are {kind!r}; use one of {', '.join(sorted(fits))}")
    return override


def decode(name: str, probabilities: np.ndarray, params: DecodeParams) -> np.ndarray:
    """Run decoder `name`; uint8 mask (semantic) or uint64 labels 1..n (instance)."""
    return _DECODERS[name][1](probabilities, params)


# ---- helpers -------------------------------------------------------------------------------

def _components(mask: np.ndarray, connectivity: int) -> np.ndarray:
    from ..ops import connected_components

    return np.asarray(connected_components(mask.astype(np.uint8), connectivity=connectivity)[0]).astype(np.int64)


def _seeded_watershed(elevation: np.ndarray, seeds: np.ndarray, foreground: np.ndarray,
                      connectivity: int) -> np.ndarray:
    """Watershed from the components of `seeds` over `elevation`, inside `foreground`;
    foreground components without a seed are added as objects of their own."""
    try:
        from skimage.segmentation import watershed
    except ImportError:
        raise ConfigError("watershed decoders need scikit-image: pip install scikit-image") from None
    markers = _components(seeds & foreground, 6)
    labels = watershed(elevation, markers, mask=foreground).astype(np.int64)
    orphans = foreground & (labels == 0)
    if orphans.any():
        extra = _components(orphans, connectivity)
        labels[orphans] = extra[orphans] + labels.max()
    return labels.astype(np.uint64)


def _channels(p: np.ndarray, n: int, name: str) -> np.ndarray:
    if p.ndim != 4 or p.shape[0] != n:
        raise DataError(f"decoder {name!r} needs {n} channels [C, z, y, x]; got an array of shape {p.shape}")
    return p


# ---- decoders ------------------------------------------------------------------------------

@register_decoder("threshold", "binary")
def _threshold(p, params):
    fg = p > params.threshold
    return _components(fg, params.connectivity).astype(np.uint64) if params.instance else fg.astype(np.uint8)


@register_decoder("sdt_cc", "sdt")
def _sdt_cc(p, params):
    return _threshold(p, DecodeParams(0.5, params.seed_threshold, params.connectivity, params.instance))


@register_decoder("sdt_watershed", "sdt")
def _sdt_watershed(p, params):
    fg = p > 0.5
    if not params.instance:
        return fg.astype(np.uint8)
    return _seeded_watershed(-p, p > params.seed_threshold, fg, params.connectivity)


def _boundary_decode(fg_prob, boundary, params):
    fg = fg_prob > params.threshold
    if not params.instance:
        return fg.astype(np.uint8)
    return _seeded_watershed(boundary, boundary < 1.0 - params.seed_threshold, fg, params.connectivity)


@register_decoder("boundary_watershed", "boundary")
def _boundary_watershed(p, params):
    p = _channels(p, 2, "boundary_watershed")
    return _boundary_decode(p[0], p[1], params)


def affinity_boundary(affinities: np.ndarray) -> np.ndarray:
    """``1 - min`` of the affinities on each voxel's face links (links out of the array are
    left out): 0 deep inside an object, 1 on a voxel linked weakly to any neighbour, like
    the ``boundary`` target. `affinities` is ``[n_axes, z, y, x]`` for the last `n_axes` axes."""
    n_axes = affinities.shape[0]
    weakest = np.ones(affinities.shape[1:], np.float32)
    for k in range(n_axes):
        ax = 3 - n_axes + k
        a = affinities[k]
        lower = [slice(None)] * 3
        lower[ax] = slice(1, None)
        upper = [slice(None)] * 3
        upper[ax] = slice(0, -1)
        np.minimum(weakest[tuple(lower)], a[tuple(lower)], out=weakest[tuple(lower)])   # link v-e <-> v at v
        np.minimum(weakest[tuple(upper)], a[tuple(lower)], out=weakest[tuple(upper)])   # seen from v - e
    return 1.0 - weakest


@register_decoder("affinity_watershed", "affinity")
def _affinity_watershed(p, params):
    if p.ndim != 4 or p.shape[0] not in (3, 4):
        raise DataError(f"decoder 'affinity_watershed' needs [fg, aff...] channels; got shape {p.shape}")
    return _boundary_decode(p[0], affinity_boundary(p[1:]), params)


# ---- one prediction group ----------------------------------------------------------------

def decode_group(in_group, out_group, cls: str, decoder: str, params: DecodeParams, min_size: int) -> dict:
    """Decode the whole prediction volume `in_group` into the OME-NGFF group `out_group`."""
    from ..data import _store
    from ..predict.run import decode_probabilities
    from .run import _filter_sizes
    from .segment import id_dtype

    s0 = _store.read_levels(in_group)[0]
    probs = decode_probabilities(_store.open_array(s0.path).read().result())
    result = decode(decoder, probs, params)
    if params.instance:
        result = _filter_sizes(result, min_size)
        result = result.astype(id_dtype(int(result.max(initial=0))))
    out = _store.create_volume(out_group, s0.shape, result.dtype, s0.voxel_size, s0.translation,
                               tuple(min(64, s) for s in s0.shape),
                               attrs={"pycsc_kind": "instance" if params.instance else "semantic"})
    out[:] = result
    _store.mark_complete(out_group, {"decoder": decoder, "instance": params.instance})
    n = int(result.max(initial=0)) if params.instance else None
    return {"class": cls, "instance": params.instance, "objects": n, "decoder": decoder, "output": str(out_group)}
