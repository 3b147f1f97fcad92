"""One registry, one factory: every network pycsc can train is built by :func:`create_model`.

Three kinds of names are understood::

    "unet", "resnet", "vit", ...        an entry registered with @register_model below
    "monai.SegResNet"                   a class (or factory) of monai.networks.nets (extra `monai`)
    "my_package.my_module:build_fn"     any importable callable returning a torch.nn.Module

Every builder receives ``ndim``, ``in_channels`` and ``out_channels`` plus the keyword
arguments of the ``[train.model]`` table. Keyword arguments are checked against the builder's
signature before the call, so a typo is one line naming the key and the accepted ones.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError


@dataclass(frozen=True)
class ModelEntry:
    """A registered network.

    ``upsample`` is how many times finer the output grid is than the input grid (1: same
    grid; 2: the COSEM setup_04 shape, 8 nm in, 4 nm out). ``divisor`` is what every
    spatial input size must be divisible by (given the kwargs).
    """

    name: str
    build: Callable[..., Any]
    ndims: tuple[int, ...] = (2, 3)
    upsample: int = 1
    divisor: Callable[[dict], int] = lambda kwargs: 1
    summary: str = ""


_REGISTRY: dict[str, ModelEntry] = {}
_FIXED = ("ndim", "in_channels", "out_channels")


def register_model(name: str, *, ndims: tuple[int, ...] = (2, 3), upsample: int = 1,
                   divisor: Callable[[dict], int] | None = None):
    """Decorator registering ``build(ndim, in_channels, out_channels, **kwargs)`` as `name`."""

    def wrap(build):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        doc = (inspect.getdoc(build) or "").split("\n")[0]
        _REGISTRY[name] = ModelEntry(name, build, tuple(ndims), upsample, divisor or (lambda kw: 1), doc)
        return build

    return wrap


def list_models() -> list[str]:
    """Names of the registered networks (MONAI classes and user callables are named on use)."""
    _load_builtins()
    return sorted(_REGISTRY)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of a built-in `name` (ConfigError listing the names when unknown)."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ConfigError(f"[train.model] `name` = {name!r} is not a known model; use one of "
                          f"{', '.join(list_models())}, 'monai.<ClassName>' (extra `monai`) "
                          "or 'package.module:build_fn'")
    return _REGISTRY[name]


def _load_builtins() -> None:
    from . import cellmap, convnets, cosem, vit  # noqa: F401  (registration happens on import)


def check_kwargs(name: str, fn: Callable, kwargs: dict, fixed=_FIXED) -> None:
    """Raise a one-line ConfigError when `kwargs` does not fit the signature of `fn`."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):   # builtins without a signature: let the call decide
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p for p in params if p not in fixed and p != "self"]
    bad = sorted(set(kwargs) - set(accepted))
    if bad:
        raise ConfigError(f"[train.model] key {bad[0]!r} is not an argument of model {name!r}; "
                          f"accepted keys: {', '.join(accepted) or '(none)'}")
    missing = [p for p, v in params.items() if p not in fixed and p != "self" and v.default is v.empty
               and v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY) and p not in kwargs]
    if missing:
        raise ConfigError(f"[train.model] model {name!r} needs key {missing[0]!r}; add it to the table")


def _user_callable(name: str) -> Callable:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"[train.model] `name` = {name!r}: cannot import {module_name!r} ({exc}); "
                          "install it or put it on PYTHONPATH") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"[train.model] `name` = {name!r}: {module_name} has no callable {attr!r}")
    return fn


def _call(name: str, fn: Callable, kwargs: dict):
    try:
        model = fn(**kwargs)
    except ConfigError:
        raise
    except ImportError as exc:   # e.g. MONAI's SwinUNETR without einops
        raise ConfigError(f"[train.model] model {name!r} needs a package that is not installed "
                          f"({str(exc).splitlines()[0]}); pip install 'pycsc[monai]' or the package named") from None
    except (TypeError, ValueError, AssertionError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"[train.model] model {name!r} rejected its arguments ({message}); "
                          "fix the keys of the [train.model] table") from None
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"[train.model] {name!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def create_model(name: str, *, ndim: int, in_channels: int, out_channels: int, **kwargs: Any):
    """Build the network `name` with freshly initialised weights.

    Parameters
    ----------
    name : str
        A registered name (:func:`list_models`), ``"monai.<ClassName>"`` or
        ``"package.module:callable"``.
    ndim : int
        2 or 3 spatial dimensions.
    in_channels, out_channels : int
        Input channels (1 for EM) and output channels (one per target channel).
    **kwargs
        The network's own arguments (the other keys of ``[train.model]``).

    Returns
    -------
    torch.nn.Module
        Maps ``[B, in_channels, *spatial]`` to ``[B, out_channels, *spatial']``.

    Raises
    ------
    ConfigError
        Unknown name, an argument the network does not take, a missing one, or an
        unsupported `ndim`; one line naming the key and the fix.

    Examples
    --------
    >>> net = create_model("unet", ndim=2, in_channels=1, out_channels=3, base_channels=4, depth=1)
    >>> import torch; tuple(net(torch.zeros(1, 1, 8, 8)).shape)
    (1, 3, 8, 8)
    """
    if ndim not in (2, 3):
        raise ConfigError(f"`ndim` must be 2 or 3; got {ndim}")
    if name.startswith("monai."):
        from ._monai import monai_builder

        fn, call_kwargs = monai_builder(name, ndim, in_channels, out_channels)
        check_kwargs(name, fn, kwargs, fixed=tuple(call_kwargs))
        return _call(name, fn, {**call_kwargs, **kwargs})
    if ":" in name:
        fn = _user_callable(name)
        check_kwargs(name, fn, kwargs)
        return _call(name, fn, dict(ndim=ndim, in_channels=in_channels, out_channels=out_channels, **kwargs))
    entry = model_entry(name)
    if ndim not in entry.ndims:
        raise ConfigError(f"model {name!r} supports ndim {list(entry.ndims)}; got ndim = {ndim}")
    check_kwargs(name, entry.build, kwargs)
    return _call(name, entry.build, dict(ndim=ndim, in_channels=in_channels, out_channels=out_channels,
                                         **kwargs))


def upsample_factor(name: str) -> int:
    """How many times finer the output grid of `name` is than its input grid."""
    if name.startswith("monai.") or ":" in name:
        return 1
    return model_entry(name).upsample


def size_divisor(name: str, kwargs: dict) -> int:
    """What input sizes of `name` must be divisible by (1 when unknown)."""
    if name.startswith("monai.") or ":" in name:
        return 1
    return int(model_entry(name).divisor(kwargs))
