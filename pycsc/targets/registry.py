"""The target registry: what a network learns per class, and the channel layout it implies.

A *target kind* (``binary``, ``sdt``, ``boundary``, ``affinity``) turns one class's labels
into one or more float32 channels plus a mask (1 = the value is known, 0 = unknown); it
names the activation the network's output goes through, the loss that fits it by default
and the decoder that `csc process` uses to turn predictions back into a segmentation
(:mod:`pycsc.process.decode`). Kinds register themselves where they are defined
(:func:`register_target`), as timm registers its models.

Per class, a training config names a kind, or a table with the kind and its parameters::

    [train.targets]
    mito = {kind = "sdt", scale_nm = 50}
    er = "boundary"
    # classes not listed are "binary"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ConfigError

_REGISTRY: dict[str, "Target"] = {}


class Target:
    """Base class of a target kind; subclasses set the class attributes and :meth:`make`."""

    #: registry name
    name: str = ""
    #: "sigmoid" (outputs in 0..1) or "tanh" (outputs in -1..1)
    activation: str = "sigmoid"
    #: loss that fits the activation: "bce" for sigmoid targets, "mse" for tanh ones
    default_loss: str = "bce"
    #: default decoder name in :mod:`pycsc.process.decode`
    decoder: str = "threshold"
    #: parameters and their defaults (a config may set any of them, nothing else)
    defaults: Mapping[str, Any] = {}
    #: whether :meth:`make` tells objects apart (False: ``labels != 0`` is all it reads)
    needs_ids: bool = True

    def channels(self, ndim: int) -> list[str]:
        """Channel names for a network of `ndim` spatial dimensions ("" for a single channel)."""
        return [""]

    def context_nm(self, voxel_size_nm: Sequence[float], **params: Any) -> float:
        """Context (nm, each side) read beyond the patch so that edge values are exact."""
        return 0.0

    def make(self, labels: np.ndarray, known: np.ndarray, voxel_size_nm: Sequence[float],
             **params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Target channels and their mask from the labels of one class.

        Parameters
        ----------
        labels : numpy.ndarray
            ``(z, y, x)`` integer labels: 0 background, > 0 an object id (or 1 for a
            semantic class); ignored where `known` is False. Axes of length 1 are absent
            (a 2D patch is ``(1, y, x)``).
        known : numpy.ndarray
            Same-shape bool: where the labels are known (inside the annotated crop, or a
            true negative of an unannotated class, where `labels` is 0).
        voxel_size_nm : sequence of float
            ``(z, y, x)`` voxel size of `labels`.
        **params
            The kind's parameters (see :attr:`defaults`), already resolved.

        Returns
        -------
        target, mask : numpy.ndarray
            float32 ``[len(channels(ndim)), z, y, x]``; `target` is 0 where `mask` is 0.
        """
        raise NotImplementedError

    def make_into(self, labels: np.ndarray, known: np.ndarray, voxel_size_nm: Sequence[float],
                  target_out: np.ndarray, mask_out: np.ndarray, core: tuple, **params: Any) -> None:
        """:meth:`make`, cropped to `core` (a slice per axis) and written into the given
        float32 ``[n_channels, ...]`` views (the loader's preallocated batch rows)."""
        target, mask = self.make(labels, known, voxel_size_nm, **params)
        target_out[...] = target[(slice(None), *core)]
        mask_out[...] = mask[(slice(None), *core)]

    def resolve(self, params: Mapping[str, Any], where: str) -> dict[str, Any]:
        """`params` checked against :attr:`defaults` (unknown keys are errors naming `where`)."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "none"
            raise ConfigError(f"{where}: target {self.name!r} has no parameter {unknown[0]!r}; "
                              f"its parameters are: {valid}")
        out = dict(self.defaults)
        for key, value in params.items():
            default = self.defaults[key]
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                    raise ConfigError(f"{where}: `{key}` of target {self.name!r} must be a number "
                                      f"> 0; got {value!r}")
                value = float(value)
            elif isinstance(default, bool) and not isinstance(value, bool):
                raise ConfigError(f"{where}: `{key}` of target {self.name!r} must be true or false; "
                                  f"got {value!r}")
            out[key] = value
        return out


def register_target(cls: type[Target]) -> type[Target]:
    """Class decorator adding a :class:`Target` subclass to the registry under ``cls.name``."""
    _REGISTRY[cls.name] = cls()
    return cls


def list_targets() -> list[str]:
    """Names of the registered target kinds.

    Examples
    --------
    >>> list_targets()
    ['affinity', 'binary', 'boundary', 'sdt']
    """
    return sorted(_REGISTRY)


def get_target(kind: str) -> Target:
    """The target kind registered as `kind`; a ConfigError naming the valid kinds otherwise."""
    try:
        return _REGISTRY[kind]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown target kind {kind!r}; choose one of {', '.join(list_targets())}") from None


@dataclass(frozen=True)
class Channel:
    """One output channel of a network: its class, target kind, channel name and activation."""

    cls: str
    kind: str
    name: str
    activation: str
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """``class`` for a class's only channel, else ``class/name``."""
        return f"{self.cls}/{self.name}" if self.name else self.cls


def parse_spec(cls: str, spec: Any) -> tuple[str, dict[str, Any]]:
    """``(kind, resolved params)`` of one ``[train.targets]`` entry (a name or a table)."""
    where = f"[train.targets] {cls}"
    if isinstance(spec, str):
        kind, params = spec, {}
    elif isinstance(spec, Mapping):
        if "kind" not in spec:
            raise ConfigError(f"{where}: a table needs `kind` (one of {', '.join(list_targets())}); "
                              f"got {dict(spec)!r}")
        kind, params = spec["kind"], {k: v for k, v in spec.items() if k != "kind"}
    else:
        raise ConfigError(f"{where} must be a kind name or a table {{kind = ..., ...}}; got {spec!r}")
    if kind not in _REGISTRY:
        raise ConfigError(f"{where}: unknown target kind {kind!r}; choose one of {', '.join(list_targets())}")
    return kind, _REGISTRY[kind].resolve(params, where)


def class_targets(classes: Sequence[str], targets: Mapping[str, Any] | None) -> dict[str, tuple[str, dict]]:
    """``class -> (kind, params)`` for every class; classes missing from `targets` are binary."""
    targets = dict(targets or {})
    stray = sorted(set(targets) - set(classes))
    if stray:
        raise ConfigError(f"[train.targets] names {stray[0]!r}, which is not in `classes` "
                          f"{list(classes)}; add it to `classes` or remove it from [train.targets]")
    return {c: parse_spec(c, targets.get(c, "binary")) for c in classes}


def channel_layout(classes: Sequence[str], targets: Mapping[str, Any] | None, ndim: int) -> list[Channel]:
    """The network's output channels, class by class in `classes` order.

    Examples
    --------
    >>> [c.label for c in channel_layout(["mito", "er"], {"mito": "boundary"}, 3)]
    ['mito/fg', 'mito/boundary', 'er']
    """
    out = []
    for cls, (kind, params) in class_targets(classes, targets).items():
        t = _REGISTRY[kind]
        out += [Channel(cls, kind, name, t.activation, params) for name in t.channels(ndim)]
    return out


def target_attrs(channels: Sequence[Channel], cls: str) -> dict:
    """What predict stores with a class's array: ``{"kind", "channels", <params>}``."""
    mine = [c for c in channels if c.cls == cls]
    if not mine:
        raise ConfigError(f"class {cls!r} has no output channel")
    return {"kind": mine[0].kind, "channels": [c.name for c in mine], **dict(mine[0].params)}


