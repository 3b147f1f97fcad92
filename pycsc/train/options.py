"""Optimisers and learning-rate schedules by torch name, and the config-time checks of
``[train.model]``, ``[train.loss]``, ``[train.optimizer]`` and ``[train.scheduler]``.

::

    [train.optimizer]
    name = "AdamW"            # any torch.optim class; default RAdam (decoupled weight decay)
    betas = [0.9, 0.99]       # its keyword arguments; lr and weight_decay come from [train]

    [train.scheduler]
    name = "CosineAnnealingLR"   # any torch.optim.lr_scheduler class, stepped once per step
    warmup_steps = 200           # linear warm-up from lr/100, then the schedule
    eta_min = 1e-6               # its keyword arguments

The length arguments a schedule needs and the config does not give are filled from the run:
``T_max`` / ``total_iters`` = steps after warm-up, ``OneCycleLR``'s ``total_steps`` and ``max_lr``.
The strings ``"none"``, ``"cosine"`` and ``"onecycle"`` (the first format) still work.
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from ..errors import ConfigError

_LEGACY_SCHEDULES = {"cosine": "CosineAnnealingLR", "onecycle": "OneCycleLR"}
_FILLED = {"optimizer", "params", "last_epoch", "verbose"}


def _accepted(cls) -> list[str]:
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p not in ("self",) and p not in _FILLED
            and params[p].kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]


def _check_kwargs(where: str, cls, kwargs: Mapping, extra: tuple[str, ...] = ()) -> None:
    accepted = _accepted(cls) + list(extra)
    bad = sorted(set(kwargs) - set(accepted))
    if bad:
        raise ConfigError(f"{where} key {bad[0]!r} is not an argument of {cls.__name__}; accepted: "
                          f"{', '.join(accepted)}")


def optimizer_table(cfg: Any) -> tuple[str, dict]:
    table = dict(cfg.optimizer or {})
    return table.pop("name", "RAdam"), table


def scheduler_table(cfg: Any) -> tuple[str | None, dict]:
    if isinstance(cfg.scheduler, str):
        if cfg.scheduler == "none":
            return None, {}
        if cfg.scheduler in _LEGACY_SCHEDULES:
            return _LEGACY_SCHEDULES[cfg.scheduler], {}
        return cfg.scheduler, {}
    table = dict(cfg.scheduler)
    if "name" not in table:
        raise ConfigError("[train.scheduler] needs `name` (a torch.optim.lr_scheduler class, e.g. CosineAnnealingLR)")
    return table.pop("name"), table


def _optimizer_class(name: str):
    import torch

    cls = getattr(torch.optim, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)):
        names = sorted(n for n, v in vars(torch.optim).items()
                       if inspect.isclass(v) and issubclass(v, torch.optim.Optimizer) and n != "Optimizer")
        raise ConfigError(f"[train.optimizer] `name` = {name!r} is not a torch.optim optimizer; use one of "
                          f"{', '.join(names)}")
    return cls


def _scheduler_class(name: str):
    import torch

    cls = getattr(torch.optim.lr_scheduler, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, torch.optim.lr_scheduler.LRScheduler)):
        raise ConfigError(f"`scheduler` must be one of none, cosine, onecycle or a [train.scheduler] table "
                          f"naming a torch.optim.lr_scheduler class (CosineAnnealingLR, OneCycleLR, "
                          f"PolynomialLR, ...); got {name!r}")
    return cls


def check_train_options(cfg: Any) -> None:
    """Config-time checks: the model against the grids, and the loss/optimizer/scheduler tables
    (skipped without torch: such a config can be read and written, not trained)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    from ..models.spec import check_model
    from .losses import check_loss_table

    check_model(cfg)
    check_loss_table(dict(cfg.loss or {}))
    name, kwargs = optimizer_table(cfg)
    _check_kwargs("[train.optimizer]", _optimizer_class(name), kwargs)
    name, kwargs = scheduler_table(cfg)
    if name is not None:
        _check_kwargs("[train.scheduler]", _scheduler_class(name), kwargs, extra=("warmup_steps",))
        warmup = kwargs.get("warmup_steps", 0)
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            raise ConfigError(f"[train.scheduler] `warmup_steps` must be an integer >= 0; got {warmup!r}")


def build_optimizer(cfg: Any, parameters):
    """The optimizer of `cfg` over `parameters` (lr and weight_decay from ``[train]``)."""
    name, kwargs = optimizer_table(cfg)
    cls = _optimizer_class(name)
    accepted = _accepted(cls)
    kwargs = {"lr": cfg.learning_rate, **kwargs}
    if "weight_decay" in accepted:
        kwargs.setdefault("weight_decay", cfg.weight_decay)
    if name == "RAdam":
        kwargs.setdefault("decoupled_weight_decay", True)
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return cls(parameters, **kwargs)


def build_scheduler(cfg: Any, optimizer, total_steps: int):
    """The per-step schedule of `cfg` (None for ``"none"``), with its linear warm-up."""
    import torch

    name, kwargs = scheduler_table(cfg)
    if name is None:
        return None
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    warmup = int(kwargs.pop("warmup_steps", 0))
    if warmup >= total_steps and warmup:
        raise ConfigError(f"[train.scheduler] `warmup_steps` ({warmup}) must be below the run's "
                          f"{total_steps} steps")
    cls = _scheduler_class(name)
    rest = max(1, total_steps - warmup)
    accepted = _accepted(cls)
    if name == "OneCycleLR":
        kwargs.setdefault("max_lr", cfg.learning_rate)
        if not {"epochs", "steps_per_epoch"} & set(kwargs):
            kwargs.setdefault("total_steps", rest)
    for length in ("T_max", "total_iters"):
        if length in accepted:
            kwargs.setdefault(length, rest)
    try:
        main = cls(optimizer, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[train.scheduler] {name} rejected its arguments ({exc}); fix the table") from None
    if not warmup:
        return main
    ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, end_factor=1.0, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
