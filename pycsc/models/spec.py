"""The model spec: what a checkpoint stores to rebuild its network without the training config.

::

    {"format": 2, "model": {"name": "unet", "kwargs": {"base_channels": 16, "depth": 3}},
     "ndim": 3, "in_channels": 1, "classes": ["mito", "er"],
     "channels": [{"cls": "mito", "kind": "sdt", "name": "", "activation": "tanh",
                   "params": {"scale_nm": 50.0}}, ...],
     "input_shape": [64, 64, 64], "input_voxel_size_nm": [8, 8, 8],
     "output_shape": [64, 64, 64], "voxel_size_nm": [8, 8, 8]}

``voxel_size_nm`` / ``output_shape`` are the output (target) grid; ``patch_shape`` is kept
equal to ``output_shape`` for readers of the first format. Checkpoints of the first format
(``{"architecture": "unet", "base_channels", "depth", "patch_shape", ...}``, binary targets
only) are upgraded on read by :func:`upgrade_spec`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError

_LEGACY_KEYS = ("architecture", "base_channels", "depth")


def model_table(cfg: Any) -> tuple[str, dict]:
    """``(name, kwargs)`` of a TrainConfig: its ``[train.model]`` table, or the legacy keys
    ``architecture`` / ``base_channels`` / ``depth`` (default: a U-Net, 16 channels, depth 3)."""
    table = dict(cfg.model or {})
    legacy = [k for k in _LEGACY_KEYS if getattr(cfg, k, None) is not None]
    if table:
        if legacy:
            raise ConfigError(f"[train] `{legacy[0]}` cannot be combined with a [train.model] table; "
                              f"move it into [train.model] (e.g. base_channels/depth) or drop it")
        if not isinstance(table.get("name"), str) or not table["name"]:
            raise ConfigError("[train.model] needs `name` (e.g. name = \"unet\"), then the network's arguments")
        name = table.pop("name")
        return name, table
    arch = cfg.architecture or "unet"
    kwargs = {"base_channels": cfg.base_channels if cfg.base_channels is not None else 16}
    depth = cfg.depth if cfg.depth is not None else 3
    kwargs["depth" if arch == "unet" else "n_blocks"] = depth
    return arch, kwargs


def _grids(cfg: Any) -> tuple[tuple, tuple, tuple, tuple]:
    (in_shape, in_vs), (out_shape, out_vs) = cfg.input_grid(), cfg.target_grid()
    return tuple(in_shape), tuple(in_vs), tuple(out_shape), tuple(out_vs)


def check_model(cfg: Any) -> None:
    """Config-time checks of a TrainConfig's model against its grids (one-line ConfigErrors)."""
    from .registry import check_kwargs, model_entry, size_divisor, upsample_factor

    name, kwargs = model_table(cfg)
    if name.startswith("monai.") or ":" in name:
        return                      # checked when built: the network itself reports bad sizes
    check_kwargs(name, model_entry(name).build, kwargs)
    f = size_divisor(name, kwargs)
    up = upsample_factor(name)
    in_shape, in_vs, out_shape, out_vs = _grids(cfg)
    spatial = in_shape[1:] if cfg.ndim == 2 else in_shape
    if any(s % f for s in spatial):
        raise ConfigError(f"input patch {tuple(in_shape)} (`patch_shape` / `input_shape`) must be divisible by "
                          f"{f} for model {name!r} with {kwargs}; change the patch or the model's depth")
    axes = range(1, 3) if cfg.ndim == 2 else range(3)
    for a in axes:
        produced = in_vs[a] / up
        if abs(produced - out_vs[a]) > 0.01 * out_vs[a]:
            raise ConfigError(f"model {name!r} outputs voxel size {produced:g} nm (input {in_vs[a]:g} nm / {up}) "
                              f"on axis {'zyx'[a]}, but the target voxel size is {out_vs[a]:g} nm; set "
                              "`target_voxel_size_nm` / `input_voxel_size_nm` to match or pick another model")
        if out_shape[a] > in_shape[a] * up:
            raise ConfigError(f"`target_shape` {tuple(out_shape)} is larger than the output of model {name!r} "
                              f"({tuple(s * up for s in in_shape)}); enlarge `input_shape` or shrink `target_shape`")


def model_spec(cfg: Any) -> dict:
    """The spec of the model a :class:`~pycsc.config.TrainConfig` describes."""
    from ..targets import channel_layout

    name, kwargs = model_table(cfg)
    in_shape, in_vs, out_shape, out_vs = _grids(cfg)
    channels = [{"cls": c.cls, "kind": c.kind, "name": c.name, "activation": c.activation,
                 "params": dict(c.params)} for c in channel_layout(cfg.classes, cfg.targets, cfg.ndim)]
    return {"format": 2, "model": {"name": name, "kwargs": kwargs}, "ndim": int(cfg.ndim), "in_channels": 1,
            "classes": list(cfg.classes), "channels": channels,
            "input_shape": [int(s) for s in in_shape], "input_voxel_size_nm": [float(v) for v in in_vs],
            "output_shape": [int(s) for s in out_shape], "voxel_size_nm": [float(v) for v in out_vs],
            "patch_shape": [int(s) for s in out_shape]}


def upgrade_spec(spec: dict) -> dict:
    """A spec of any format as format 2 (first-format specs: binary targets, one grid)."""
    if spec.get("format", 1) >= 2:
        return spec
    arch = spec.get("architecture")
    if arch not in ("unet", "resnet"):
        raise ConfigError(f"checkpoint spec has unknown architecture {arch!r}; a first-format spec rebuilds 'unet' or 'resnet'")
    kwargs = {"base_channels": int(spec["base_channels"]),
              ("depth" if arch == "unet" else "n_blocks"): int(spec["depth"])}
    patch = [int(s) for s in spec.get("patch_shape", [64, 64, 64])]
    vs = [float(v) for v in spec.get("voxel_size_nm", [8.0, 8.0, 8.0])]
    channels = [{"cls": c, "kind": "binary", "name": "", "activation": "sigmoid", "params": {}}
                for c in spec["classes"]]
    return {"format": 2, "model": {"name": arch, "kwargs": kwargs}, "ndim": int(spec["ndim"]), "in_channels": 1,
            "classes": list(spec["classes"]), "channels": channels, "input_shape": patch,
            "input_voxel_size_nm": vs, "output_shape": patch, "voxel_size_nm": vs, "patch_shape": patch}


def channel_names(spec: dict) -> list[str]:
    """Output channel names: the class, or ``class/channel`` for multi-channel classes."""
    return [f"{c['cls']}/{c['name']}" if c["name"] else c["cls"] for c in upgrade_spec(spec)["channels"]]


def build_model(spec: dict):
    """Instantiate the network a spec (either format) describes, weights freshly initialised."""
    from .registry import create_model

    spec = upgrade_spec(spec)
    return create_model(spec["model"]["name"], ndim=spec["ndim"], in_channels=spec.get("in_channels", 1),
                        out_channels=len(spec["channels"]), **spec["model"]["kwargs"])
