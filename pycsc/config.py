"""Frozen dataclass configs, one per command, loaded from TOML with command-line overrides.

Precedence: dataclass defaults < TOML file < command-line flags. Unknown keys are errors that
name the key and the file; values are checked against the field's annotation. The resolved
config is written next to every output (:func:`write_resolved`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import types
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, TypeVar, Union, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ConfigError

C = TypeVar("C")


def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML file; a missing file or a syntax error becomes a ConfigError naming it."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist; pass an existing .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check `value` against the type `hint`, converting where the conversion is lossless."""
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: no accepted type fits {value!r}")
    if origin is Literal:
        if value not in get_args(hint):
            raise ConfigError(f"{where} must be one of {list(get_args(hint))}; got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list; got {value!r}")
        args = get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where} must have {len(args)} entries; got {len(value)}")
            items = [_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        else:
            item_hint = args[0] if args else Any
            items = [_coerce(v, item_hint, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table; got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table; got {value!r}")
        return from_mapping(hint, value, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where} must be true or false; got {value!r}")
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"{where} must be an integer; got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{where} must be an integer; got {value!r}") from None
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{where} must be a number; got {value!r}")
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where} must be a number; got {value!r}") from None
    if hint is str:
        if isinstance(value, Path):   # a location given as a Path from Python (data_root, ...)
            return str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string; got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"{where} must be a path string; got {value!r}")
        return Path(value)
    raise ConfigError(f"{where}: unsupported config field type {hint!r}")


def from_mapping(cls: type[C], data: Mapping[str, Any], source: str,
                 key_sources: Mapping[str, str] | None = None) -> C:
    """Build the dataclass `cls` from `data`; `source` names the file (or table) in messages.

    `key_sources` names another origin for some keys (``{"batch_size": "--batch-size"}`` for a
    value given as a flag), so that a bad value is blamed on where it was written.
    """
    key_sources = key_sources or {}
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {unknown[0]!r}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + f"; valid keys are: {', '.join(sorted(names))}"
        )
    values = {k: _coerce(v, hints[k], f"{key_sources.get(k, source)}: `{k}`") for k, v in data.items()}
    try:
        obj = cls(**values)
    except TypeError as exc:  # a required field is absent
        raise ConfigError(f"{source}: {exc}") from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError as exc:
            # Range checks name the key in backticks; blame the flag or file that set it.
            named = re.search(r"`([A-Za-z_][\w.]*)", str(exc))
            key = named.group(1).split(".")[0] if named else None
            origin = key_sources.get(key, source if key in data else None) if key else None
            if origin is None or str(exc).startswith(origin):
                raise
            raise ConfigError(f"{origin}: {exc}") from None
    return obj


def resolve(cls: type[C], path: str | os.PathLike | None, overrides: Mapping[str, Any] | None = None,
            section: str | None = None) -> C:
    """Defaults < TOML file (optionally one `[section]` of it) < overrides that are not None."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        data = load_toml(path)
        if section is not None:
            table = data.get(section, {})
            if not isinstance(table, Mapping):
                raise ConfigError(f"{source}: [{section}] must be a table")
            data = dict(table)
            source = f"{source} [{section}]"
    merged = dict(data)
    for key, value in (overrides or {}).items():
        if value is not None:
            merged[key] = value
    return from_mapping(cls, merged, source)


def _toml_key(key: Any) -> str:
    key = str(key)
    return key if key and all(ch.isalnum() or ch in "_-" for ch in key) else _to_toml_value(key)


def _to_toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        s = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_to_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):  # inline table, e.g. a [train.targets] entry
        return "{" + ", ".join(f"{_toml_key(k)} = {_to_toml_value(v)}" for k, v in value.items()
                               if v is not None) + "}"
    raise ConfigError(f"cannot write {value!r} to TOML")


def to_toml(cfg: Any, table: str | None = None) -> str:
    """Serialise a config dataclass: its fields under ``[table]`` (top level when None),
    nested dataclasses and dicts as sub-tables; None is omitted (it is every field's "unset")."""
    flat, tables = [], []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value is None:
            continue
        sub = f"{table}.{f.name}" if table else f.name
        if dataclasses.is_dataclass(value):
            tables.append(to_toml(value, sub))
        elif isinstance(value, Mapping):
            body = "".join(f"{_toml_key(str(k))} = {_to_toml_value(v)}\n"
                           for k, v in value.items() if v is not None)
            tables.append(f"\n[{sub}]\n" + body)
        else:
            flat.append(f"{f.name} = {_to_toml_value(value)}\n")
    head = f"\n[{table}]\n" if table else ""
    return head + "".join(flat) + "".join(tables)


def write_resolved(cfg: Any, dest: str | os.PathLike) -> Path:
    """Atomically write the resolved config to `dest` (a file path) and return it.

    The file is a config of the command that made the output: a pipeline command's fields
    sit in its own table (``[predict]``, ``[process]``, ...), as the command reads them, so
    ``csc <command> <dest>`` reruns exactly that command.
    """
    from ._atomic import atomic_write_bytes

    section = next((name for name, cls in PIPELINE_SECTIONS.items() if type(cfg) is cls), None)
    text = (f"# resolved {type(cfg).__name__}, written by pycsc; rerun with the command that "
            f"reads it\n" + to_toml(cfg, section).lstrip("\n"))
    return atomic_write_bytes(dest, text.encode())


__all__ = ["load_toml", "from_mapping", "resolve", "to_toml", "write_resolved"]


# --- data: `csc simulate` and `csc fetch` ------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SimulateConfig:
    """`csc simulate`: a synthetic dataset in the public layout."""

    dest: Path = Path("data")
    preset: Literal["tiny", "small", "medium"] = "small"
    seed: int = 0
    name_prefix: str = "jrc_sim"
    overwrite: bool = False

    def validate(self) -> None:
        if not self.name_prefix or "/" in self.name_prefix or "\\" in self.name_prefix:
            raise ConfigError(f"`name_prefix` must be a non-empty name without slashes; got {self.name_prefix!r}")


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """`csc fetch`: ground-truth crops and the raw EM around them from S3."""

    bucket: str = "janelia-cosem-datasets"
    endpoint_url: str | None = None
    anonymous: bool = True
    dest: Path = Path("data")
    datasets: tuple[str, ...] = ()        # glob patterns; empty = every dataset with crops
    crops: str = "all"                    # "all", "test", or comma-separated ids
    classes: tuple[str, ...] = ()         # empty = every class (and `all`)
    raw_padding: int = 0                  # EM voxels added on each side, per level
    all_resolutions: bool = False         # also EM levels finer than the annotation
    workers: int = 32
    dry_run: bool = False
    verify: bool = False
    test_manifest: Path | None = None  # test crops whose EM is fetched; None: the shipped official one
    alignment: str = "recon-1"
    raw_name: str = "em/fibsem-uint8"
    retries: int = 5
    progress: bool = True
    zip: bool = False                     # the official pre-zipped bundle instead (crops = all)

    def validate(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"`workers` must be >= 1; got {self.workers}")
        if self.raw_padding < 0:
            raise ConfigError(f"`raw_padding` must be >= 0 voxels; got {self.raw_padding}")
        if self.retries < 0:
            raise ConfigError(f"`retries` must be >= 0; got {self.retries}")
        if not self.bucket:
            raise ConfigError("`bucket` must not be empty")


__all__ += ["SimulateConfig", "FetchConfig"]


# --------------------------------------------------------------------------------------------
# Pipeline commands: datasplit, train, predict, process, pack, demo.
# One frozen dataclass per command; `metadata["help"]` is the command-line help text.
# Paths are relative to the working directory. Voxel sizes and boxes are zyx nanometres.
# --------------------------------------------------------------------------------------------

from .io.classes import INSTANCE_CLASSES as OFFICIAL_INSTANCE_CLASSES  # noqa: E402


def _opt(default: Any, help: str) -> Any:
    if isinstance(default, (list, dict)):
        proto = default
        return dataclasses.field(default_factory=lambda: type(proto)(proto), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_shard(shard: str | None) -> None:
    if shard is None:
        return
    parts = shard.split("/")
    ok = len(parts) == 2 and all(p.isdigit() for p in parts) and 1 <= int(parts[0]) <= int(parts[1])
    _check(ok, f"`shard` must look like 'i/N' with 1 <= i <= N (array-job index, e.g. '1/4'); "
           f"got {shard!r}")


@dataclasses.dataclass(frozen=True)
class S3StreamConfig:
    """Reading arrays straight from S3 (any ``s3://`` path in a datasplit, `data_root` or `em_root`)."""

    endpoint_url: Optional[str] = _opt(None, "S3-compatible server, e.g. http://127.0.0.1:9000 (default: AWS)")
    anonymous: bool = _opt(True, "unsigned requests (public buckets); false signs with the usual AWS credentials")
    region: str = _opt("us-east-1", "bucket region")
    em_root: Optional[str] = _opt(
        None, "mixed mode: read EM from this root (e.g. s3://janelia-cosem-datasets), labels from data_root")
    cache_mb: int = _opt(1024, "in-memory chunk cache shared by all streamed arrays, per process (MB)")
    concurrency: int = _opt(32, "parallel S3 requests per process")
    retries: int = _opt(10, "retries of a request on 5xx, throttling or a dropped connection")
    retry_delay_s: float = _opt(0.1, "first retry delay (doubles each retry, at most 30 s)")
    crawl_cache: Path = _opt(Path(".pycsc_cache/crawl"), "where bucket listings are kept between runs")
    refresh_crawl: bool = _opt(False, "list the bucket again instead of using the cached listing")

    def validate(self) -> None:
        _check(self.cache_mb >= 0, f"`s3.cache_mb` must be >= 0; got {self.cache_mb}")
        _check(self.concurrency >= 1, f"`s3.concurrency` must be >= 1; got {self.concurrency}")
        _check(self.retries >= 0, f"`s3.retries` must be >= 0; got {self.retries}")
        _check(self.retry_delay_s > 0, f"`s3.retry_delay_s` must be > 0; got {self.retry_delay_s}")
        _check(self.em_root is None or self.em_root.startswith("s3://") or "://" not in self.em_root,
               f"`s3.em_root` must be a local folder or an s3://bucket URL; got {self.em_root!r}")


@dataclasses.dataclass(frozen=True)
class DatasplitConfig:
    """`csc datasplit`: the train/validate CSV in the official format, from local data or S3."""

    data_root: str = _opt("data", "folder holding <dataset>/<dataset>.zarr, or s3://bucket[/prefix]")
    output: Path = _opt(Path("datasplit.csv"), "CSV to write (replaced if present)")
    classes: tuple[str, ...] = _opt(("mito", "er"), "classes to look for")
    datasets: tuple[str, ...] = _opt(("*",), "dataset name patterns (glob)")
    crops: tuple[str, ...] = _opt(("*",), "crop folder patterns, e.g. crop234 (glob)")
    max_voxel_size_nm: Optional[tuple[float, ...]] = _opt(
        None, "keep a (crop, class) only if its s0 voxel size is <= this on every axis (1 or 3 values)")
    validation_fraction: float = _opt(0.15, "probability that a crop goes to validation")
    force_all_classes: Literal["no", "all", "train", "validate"] = _opt(
        "no", "crops lacking a class: 'all' drops them, 'train'/'validate' keeps them out of that usage")
    skip_empty_crops: bool = _opt(False, "drop crops where no requested class has a foreground voxel")
    seed: int = _opt(42, "seed of the train/validate draw")
    raw_name: str = _opt("em/fibsem-uint8", "EM group below recon-1/")
    s3: S3StreamConfig = _opt(S3StreamConfig(), "S3 access when data_root or s3.em_root is s3://")

    def validate(self) -> None:
        _check(len(self.classes) > 0, "`classes` must name at least one class")
        _check(0.0 <= self.validation_fraction <= 1.0,
               f"`validation_fraction` must be in [0, 1]; got {self.validation_fraction}")
        if self.max_voxel_size_nm is not None:
            _check(len(self.max_voxel_size_nm) in (1, 3) and min(self.max_voxel_size_nm) > 0,
                   f"`max_voxel_size_nm` must be 1 or 3 positive numbers; got {self.max_voxel_size_nm}")


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation; the same draw moves EM, labels and masks of a patch.

    Each transform has its probability (``*_prob``); geometry is applied in nm about the
    patch centre, so inputs and targets on different grids stay aligned.
    """

    mirror: tuple[str, ...] = _opt(("z", "y", "x"), "axes that may be mirrored")
    mirror_prob: tuple[float, float, float] = _opt((0.5, 0.5, 0.5), "mirror probability per axis (z, y, x)")
    transpose: bool = _opt(True, "randomly permute axes that share a voxel size and patch length")
    rotate90: bool = _opt(True, "random multiple of 90 degrees in the y-x plane")
    rotate_deg: float = _opt(0.0, "arbitrary rotation: an angle from [-rotate_deg, rotate_deg] per axis")
    rotate_axes: tuple[str, ...] = _opt(("z",), "axes to rotate about (z = in the y-x plane; z, y, x = any 3D turn)")
    rotate_prob: float = _opt(1.0, "probability of the arbitrary rotation")
    scale_prob: float = _opt(0.0, "probability of a zoom")
    scale_range: tuple[float, float] = _opt((0.8, 1.25), "isotropic zoom factor range (> 1 magnifies)")
    anisotropic_scale: float = _opt(0.0, "per-axis zoom varies further by a factor in [1-a, 1+a]")
    elastic_prob: float = _opt(0.0, "probability of a smooth elastic deformation")
    elastic_magnitude_nm: float = _opt(16.0, "standard deviation of the displacement (nm)")
    elastic_spacing_nm: float = _opt(256.0, "distance between the displacement's control points (nm)")
    contrast_prob: float = _opt(1.0, "probability of the contrast/brightness change")
    intensity_scale: float = _opt(0.1, "contrast factor drawn from [1-s, 1+s]")
    intensity_shift: float = _opt(0.1, "brightness shift drawn from [-s, s] (intensities in 0..1)")
    gamma_prob: float = _opt(0.0, "probability of a gamma change")
    gamma_range: tuple[float, float] = _opt((0.7, 1.5), "gamma drawn log-uniformly from this range")
    blur_prob: float = _opt(0.0, "probability of a Gaussian blur")
    blur_sigma_nm: tuple[float, float] = _opt((4.0, 12.0), "blur sigma range (nm)")
    noise_std: float = _opt(0.0, "standard deviation of added Gaussian noise")
    noise_prob: float = _opt(1.0, "probability of the noise (when noise_std > 0)")

    def validate(self) -> None:
        for name in ("mirror", "rotate_axes"):
            bad = sorted(set(getattr(self, name)) - {"z", "y", "x"})
            _check(not bad, f"`augment.{name}` axes must be among z, y, x; got {bad}")
        _check(0.0 <= self.rotate_deg <= 180.0, f"`augment.rotate_deg` must be in [0, 180]; got {self.rotate_deg}")
        for name in ("rotate_prob", "scale_prob", "elastic_prob", "contrast_prob", "gamma_prob",
                     "blur_prob", "noise_prob", *(f"mirror_prob[{i}]" for i in range(3))):
            value = self.mirror_prob[int(name[-2])] if name.startswith("mirror_prob") else getattr(self, name)
            _check(0.0 <= value <= 1.0, f"`augment.{name}` must be a probability in [0, 1]; got {value}")
        for name in ("intensity_scale", "intensity_shift", "noise_std", "elastic_magnitude_nm"):
            _check(getattr(self, name) >= 0, f"`augment.{name}` must be >= 0; got {getattr(self, name)}")
        _check(0.0 <= self.anisotropic_scale < 1.0,
               f"`augment.anisotropic_scale` must be in [0, 1); got {self.anisotropic_scale}")
        _check(self.elastic_spacing_nm > 0, f"`augment.elastic_spacing_nm` must be > 0; got {self.elastic_spacing_nm}")
        for name in ("scale_range", "gamma_range", "blur_sigma_nm"):
            lo, hi = getattr(self, name)
            _check(0 < lo <= hi, f"`augment.{name}` must be [low, high] with 0 < low <= high; got {[lo, hi]}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """`csc train`: a 2D or 3D network on random patches of the crops in a datasplit CSV."""

    datasplit: Path = _opt(Path("datasplit.csv"), "train/validate CSV (made from data_root if missing)")
    data_root: str = _opt("data", "data (local folder or s3://bucket), used only to create a missing datasplit")
    output_dir: Path = _opt(Path("runs/3d_unet"), "checkpoints, logs and the resolved config go here")
    classes: tuple[str, ...] = _opt(("mito", "er"), "output channels, in order")
    model: dict = _opt({}, "[train.model]: `name` (pycsc.models.list_models(), 'monai.<Class>' or "
                       "'pkg.module:fn') + the network's keyword arguments; empty = unet")
    architecture: Optional[Literal["unet", "resnet"]] = _opt(None, "legacy: prefer [train.model] name")
    ndim: int = _opt(3, "2 (slices; patch_shape[0] must be 1) or 3")
    patch_shape: tuple[int, int, int] = _opt((64, 64, 64), "patch size in voxels (z, y, x)")
    voxel_size_nm: tuple[float, float, float] = _opt((8.0, 8.0, 8.0), "training voxel size (z, y, x)")
    base_channels: Optional[int] = _opt(None, "legacy (unet/resnet width, default 16): prefer [train.model]")
    depth: Optional[int] = _opt(None, "legacy (unet depth / resnet blocks, default 3): prefer [train.model]")
    batch_size: int = _opt(4, "patches per step")
    epochs: int = _opt(10, "epochs (each ends with a checkpoint and a validation)")
    iterations_per_epoch: int = _opt(100, "optimizer steps per epoch")
    learning_rate: float = _opt(1e-4, "optimizer learning rate")
    weight_decay: float = _opt(0.0, "decoupled weight decay")
    loss: dict = _opt({}, "[train.loss]: `name` (auto = per target kind, bce, dice, bce+dice, focal, "
                      "mse, l1) + parameters (focal: gamma, alpha)")
    optimizer: dict = _opt({}, "[train.optimizer]: `name` of a torch.optim class (default RAdam) + kwargs")
    scheduler: Union[str, dict] = _opt("none", "'none', 'cosine', 'onecycle' or [train.scheduler]: `name` of "
                                       "a torch.optim.lr_scheduler class + kwargs (+ warmup_steps)")
    weights: Optional[Path] = _opt(None, "pretrained weights (.pt state_dict or checkpoint) loaded at the start")
    weights_strict: bool = _opt(True, "every parameter of `weights` must fit (false: load what fits)")
    weights_channel_map: dict = _opt({}, "output channels taken from `weights`: {new = \"old\" or index}")
    init_from: Optional[Path] = _opt(None, "fine-tune: start from this checkpoint's weights (same model)")
    early_stopping_patience: int = _opt(0, "stop after this many validations without improvement (0 = off)")
    keep_best: int = _opt(1, "also keep the best k epoch checkpoints as checkpoints/best-<k>.pt")
    validation_seconds: float = _opt(0.0, "stop each validation after this many seconds (0 = no limit)")
    gradient_accumulation: int = _opt(1, "batches whose gradients are summed per optimizer step")
    max_grad_norm: Optional[float] = _opt(None, "clip the gradient norm to this (off when unset)")
    mixed_precision: bool = _opt(True, "bfloat16/float16 autocast on CUDA (ignored on the CPU)")
    device: Literal["auto", "cpu", "cuda", "mps"] = _opt("auto", "where to train (auto: cuda, mps, cpu)")
    num_workers: int = _opt(2, "data-loading processes (0 = in the training process)")
    threads: int = _opt(0, "torch CPU threads (0 = torch's default)")
    seed: int = _opt(42, "seeds torch, numpy and the samplers")
    weight_loss: bool = _opt(True, "positive-class weight = background / foreground voxels per class")
    weighted_sampler: bool = _opt(True, "pick crops so that every class is seen equally often")
    true_negatives: bool = _opt(True, "an unannotated class is 0 where a mutually exclusive class is 1")
    validation_batches: int = _opt(8, "validation batches per epoch (0 = no validation)")
    checkpoint_every: int = _opt(0, "also save 'latest' every this many steps (0 = per epoch only)")
    resume: bool = _opt(True, "continue from output_dir/checkpoints/latest.pt when it exists")
    progress: bool = _opt(True, "show a progress bar")
    # which checkpoint is best (pycsc/train/official.py)
    validation_metric: Literal["loss", "dice", "official"] = _opt(
        "dice", "best.pt maximises: mean validation Dice, -validation loss, or the official score of "
        "whole validation crops (predict + process + pack + evaluate)")
    validate_every: int = _opt(1, "validate after every this many epochs (and after the last)")
    validation_min_size: int = _opt(0, "official validation: process min_size (voxels) for instance classes")
    augment: AugmentConfig = _opt(AugmentConfig(), "augmentation")
    s3: S3StreamConfig = _opt(S3StreamConfig(), "S3 access for s3:// paths in the datasplit")
    targets: dict = _opt({}, "per-class target: kind name or {kind = ..., <params>} "
                         "(binary, sdt, boundary, affinity); unlisted classes are binary")
    input_voxel_size_nm: Optional[tuple[float, float, float]] = _opt(
        None, "network input voxel size (z, y, x); unset = voxel_size_nm")
    input_shape: Optional[tuple[int, int, int]] = _opt(None, "network input patch (voxels); unset = patch_shape")
    target_voxel_size_nm: Optional[tuple[float, float, float]] = _opt(
        None, "target / output voxel size (z, y, x); unset = voxel_size_nm")
    target_shape: Optional[tuple[int, int, int]] = _opt(None, "target patch (voxels); unset = patch_shape")

    def input_grid(self) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
        """``(shape, voxel_size_nm)`` of the network input (``patch_shape`` and ``voxel_size_nm``
        unless ``input_shape`` / ``input_voxel_size_nm`` are set)."""
        return (self.input_shape or self.patch_shape, self.input_voxel_size_nm or self.voxel_size_nm)

    def target_grid(self) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
        """``(shape, voxel_size_nm)`` of the targets and the network output."""
        return (self.target_shape or self.patch_shape, self.target_voxel_size_nm or self.voxel_size_nm)

    def validate(self) -> None:
        from .targets import class_targets

        class_targets(self.classes, self.targets)
        for name in ("input_voxel_size_nm", "target_voxel_size_nm", "input_shape", "target_shape"):
            value = getattr(self, name)
            _check(value is None or min(value) > 0, f"`{name}` must be positive; got {value}")
        _check(len(self.classes) > 0, "`classes` must name at least one class")
        _check(len(set(self.classes)) == len(self.classes), f"`classes` has duplicates: {list(self.classes)}")
        _check(self.ndim in (2, 3), f"`ndim` must be 2 or 3; got {self.ndim}")
        _check(min(self.patch_shape) >= 1, f"`patch_shape` must be positive; got {self.patch_shape}")
        if self.ndim == 2:
            _check(self.patch_shape[0] == 1,
                   f"`patch_shape` of a 2D model must be (1, y, x); got {self.patch_shape}")
        _check(min(self.voxel_size_nm) > 0, f"`voxel_size_nm` must be positive; got {self.voxel_size_nm}")
        for name in ("base_channels", "depth"):
            _check(getattr(self, name) is None or getattr(self, name) >= 1,
                   f"`{name}` must be >= 1; got {getattr(self, name)}")
        for name in ("batch_size", "epochs", "iterations_per_epoch", "gradient_accumulation", "keep_best"):
            _check(getattr(self, name) >= 1, f"`{name}` must be >= 1; got {getattr(self, name)}")
        _check(self.validate_every >= 1, f"`validate_every` must be >= 1; got {self.validate_every}")
        from .train.options import check_train_options

        check_train_options(self)   # model vs grids, loss, optimizer, scheduler
        for name in ("num_workers", "threads", "validation_batches", "checkpoint_every",
                     "early_stopping_patience", "validation_seconds", "validation_min_size"):
            _check(getattr(self, name) >= 0, f"`{name}` must be >= 0; got {getattr(self, name)}")
        _check(self.learning_rate > 0, f"`learning_rate` must be > 0; got {self.learning_rate}")


@dataclasses.dataclass(frozen=True)
class PredictConfig:
    """`csc predict`: sliding-window inference into OME-NGFF probability volumes."""

    checkpoint: Path = _opt(Path("runs/3d_unet/checkpoints/best.pt"), "trained model (.pt)")
    data_root: str = _opt("data", "folder holding <dataset>/<dataset>.zarr, or s3://bucket[/prefix]")
    manifest: Optional[Path] = _opt(None, "test-crop manifest CSV for crops = test (default: the official "
                                    "one shipped with pycsc, or $PYCSC_TEST_MANIFEST)")
    crops: tuple[str, ...] = _opt(("test",), "'test' (manifest crops), 'all' (local crops) or crop ids")
    regions: tuple[str, ...] = _opt(
        (), "extra boxes 'DATASET:z0,y0,x0:z1,y1,x1' in nm, written as crop 'region<i>'")
    output: str = _opt("predictions/{dataset}.zarr/{crop}", "output group template")
    classes: tuple[str, ...] = _opt((), "subset of the model's classes to write (empty = all)")
    batch_size: int = _opt(4, "windows per forward pass")
    device: Literal["auto", "cpu", "cuda", "mps"] = _opt("auto", "where to run the model (auto: cuda, mps, cpu)")
    threads: int = _opt(0, "torch CPU threads (0 = torch's default)")
    overlap: float = _opt(0.25, "fraction of the window shared by neighbours (0 <= overlap < 1)")
    blend: Literal["gaussian", "constant"] = _opt("gaussian", "weights of overlapping windows")
    orthoplanes: bool = _opt(True, "2D models: average the z, y and x slicing directions")
    dtype: Literal["uint8", "float16", "float32"] = _opt("uint8", "stored probability type")
    overwrite: bool = _opt(False, "replace existing outputs (else finished crops are skipped)")
    shard: Optional[str] = _opt(None, "'i/N' (1 <= i <= N): only the i-th of N slices of the crops")
    progress: bool = _opt(True, "show a progress bar")
    s3: S3StreamConfig = _opt(S3StreamConfig(), "S3 access when data_root or s3.em_root is s3://")
    # test-time augmentation and ensembles (pycsc/predict/tta.py, pycsc/predict/ensemble.py)
    tta: Literal["none", "flips", "flips+transposes"] = _opt(
        "none", "average over flipped windows (8 in 3D), and axis swaps where window and voxel size allow")
    checkpoints: tuple[Path, ...] = _opt(
        (), "ensemble: average these checkpoints on the first one's grid (then `checkpoint` is unused)")
    weights: tuple[float, ...] = _opt((), "ensemble weights, one per entry of `checkpoints` (default: equal)")
    class_models: dict = _opt({}, "per-class checkpoint, e.g. {mito = 'mito.pt'}: that class from it alone")

    def validate(self) -> None:
        _check(0.0 <= self.overlap < 1.0, f"`overlap` must be in [0, 1); got {self.overlap}")
        _check(self.batch_size >= 1, f"`batch_size` must be >= 1; got {self.batch_size}")
        _check("{crop}" in self.output, f"`output` must contain '{{crop}}'; got {self.output!r}")
        _check_shard(self.shard)
        _check(not self.weights or len(self.weights) == len(self.checkpoints),
               f"`weights` needs one value per entry of `checkpoints` ({len(self.checkpoints)}); "
               f"got {len(self.weights)}")
        _check(all(w > 0 for w in self.weights), f"`weights` must be > 0; got {list(self.weights)}")
        for name, path in self.class_models.items():
            _check(isinstance(path, str) and path != "",
                   f"`class_models.{name}` must be a checkpoint path string; got {path!r}")


@dataclasses.dataclass(frozen=True)
class ProcessConfig:
    """`csc process`: probabilities -> masks (semantic) or labelled objects (instance)."""

    input: str = _opt("predictions/{dataset}.zarr/{crop}", "prediction group template")
    output: str = _opt("processed/{dataset}.zarr/{crop}", "output group template")
    manifest: Optional[Path] = _opt(None, "test-crop manifest CSV for crops = test (default: the official "
                                    "one shipped with pycsc, or $PYCSC_TEST_MANIFEST)")
    crops: tuple[str, ...] = _opt(("test",), "'test', 'all' (every group found) or crop ids")
    classes: tuple[str, ...] = _opt((), "classes to process (empty = every class found)")
    threshold: float = _opt(0.5, "foreground where probability > threshold")
    thresholds: dict = _opt({}, "per-class thresholds, e.g. {mito = 0.6}")
    instance_classes: tuple[str, ...] = _opt(OFFICIAL_INSTANCE_CLASSES, "classes labelled as objects")
    connectivity: int = _opt(26, "6, 18 or 26 neighbours for connected components")
    min_size: int = _opt(0, "remove objects with fewer voxels (instance classes)")
    min_sizes: dict = _opt({}, "per-class minimum object sizes, e.g. {mito = 500}")
    watershed: bool = _opt(False, "split touching objects with a distance watershed (scikit-image)")
    watershed_min_distance: int = _opt(4, "voxels between watershed seeds")
    decoders: dict = _opt({}, "per-class decoder replacing the one of the stored target kind, "
                          "e.g. {mito = \"sdt_cc\"} (threshold, sdt_cc, sdt_watershed, "
                          "boundary_watershed, affinity_watershed)")
    seed_threshold: float = _opt(0.75, "sdt/boundary/affinity decoders: how sure a voxel must be to seed an object")
    hook: Optional[str] = _opt(None, "'file.py:function' or 'module:function' replacing the default")
    block_shape: tuple[int, int, int] = _opt((256, 256, 256), "blockwise processing unit (voxels)")
    max_memory_gb: Optional[float] = _opt(None, "working memory per class volume: larger volumes are "
                                          "labelled blockwise (default: half the available memory)")
    overwrite: bool = _opt(False, "replace existing outputs (else finished classes are skipped)")
    shard: Optional[str] = _opt(None, "'i/N' (1 <= i <= N): only the i-th of N slices of the crops")

    def validate(self) -> None:
        _check(self.connectivity in (6, 18, 26), f"`connectivity` must be 6, 18 or 26; got {self.connectivity}")
        for name, value in {"threshold": self.threshold, **{f"thresholds.{k}": v for k, v in
                                                            self.thresholds.items()}}.items():
            _check(isinstance(value, (int, float)) and 0.0 <= value <= 1.0,
                   f"`{name}` must be a probability in [0, 1]; got {value!r}")
        for name, value in {"min_size": self.min_size, **{f"min_sizes.{k}": v for k, v in
                                                          self.min_sizes.items()}}.items():
            _check(isinstance(value, int) and value >= 0, f"`{name}` must be an integer >= 0; got {value!r}")
        _check(min(self.block_shape) >= 1, f"`block_shape` must be positive; got {self.block_shape}")
        _check(self.max_memory_gb is None or (isinstance(self.max_memory_gb, (int, float))
                                              and self.max_memory_gb > 0),
               f"`max_memory_gb` must be a positive number of GiB; got {self.max_memory_gb!r}")
        from .process.decode import list_decoders

        for cls, name in self.decoders.items():
            _check(name in list_decoders(), f"`decoders.{cls}` must be one of {list_decoders()}; got {name!r}")
        _check(0.0 < self.seed_threshold < 1.0, f"`seed_threshold` must be in (0, 1); got {self.seed_threshold}")
        _check("{crop}" in self.input and "{crop}" in self.output,
               "`input` and `output` must contain '{crop}'")
        _check_shard(self.shard)


@dataclasses.dataclass(frozen=True)
class PackConfig:
    """`csc pack`: processed volumes -> the submission zarr-2 zip, on every test crop's grid."""

    input: str = _opt("processed/{dataset}.zarr/{crop}", "processed group template")
    manifest: Optional[Path] = _opt(None, "test-crop manifest CSV (default: the official one shipped "
                                    "with pycsc, or $PYCSC_TEST_MANIFEST)")
    output: Path = _opt(Path("submission.zip"), "the zip to write (a .zarr folder is built beside it)")
    instance_classes: tuple[str, ...] = _opt(OFFICIAL_INSTANCE_CLASSES, "classes kept as object ids")
    missing: Literal["error", "skip", "empty"] = _opt(
        "error", "manifest pairs without a processed volume: stop ('error'), leave them out "
        "('skip', scored as missing) or submit all-background arrays ('empty')")
    overwrite: bool = _opt(False, "replace an existing submission")

    def validate(self) -> None:
        _check("{crop}" in self.input, f"`input` must contain '{{crop}}'; got {self.input!r}")


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """`csc demo`: simulate, train briefly, predict, process, pack and evaluate, offline."""

    workdir: Path = _opt(Path("demo"), "everything is written below this folder")
    seed: int = _opt(0, "seed of the simulation and the training")
    preset: Literal["tiny", "small", "medium"] = _opt("small", "size of the simulated data")
    classes: tuple[str, ...] = _opt(("ecs", "cyto", "mito", "cell"), "classes to train and predict")
    voxel_size_nm: tuple[float, float, float] = _opt((8.0, 8.0, 8.0), "training voxel size")
    patch_shape: tuple[int, int, int] = _opt((32, 32, 32), "training patch (voxels)")
    base_channels: int = _opt(8, "UNet width")
    depth: int = _opt(2, "UNet depth")
    iterations: int = _opt(300, "training steps")
    batch_size: int = _opt(4, "patches per step")
    learning_rate: float = _opt(3e-3, "RAdam learning rate")
    threads: int = _opt(2, "torch CPU threads")
    min_size: int = _opt(20, "smallest object kept by process (voxels)")
    progress: bool = _opt(True, "show progress bars")
    validation_metric: Literal["loss", "dice", "official"] = _opt(
        "official", "how training picks best.pt (official: whole validation crops scored as a submission)")

    def validate(self) -> None:
        _check(len(self.classes) > 0, "`classes` must name at least one class")
        _check(self.iterations >= 1, f"`iterations` must be >= 1; got {self.iterations}")
        f = 2 ** self.depth
        _check(all(s % f == 0 for s in self.patch_shape),
               f"`patch_shape` {self.patch_shape} must be divisible by 2**depth = {f}")


#: Section names a pipeline TOML file may hold; anything else is reported as a typo.
PIPELINE_SECTIONS = {"datasplit": DatasplitConfig, "train": TrainConfig, "predict": PredictConfig,
                     "process": ProcessConfig, "pack": PackConfig}

__all__ += ["S3StreamConfig", "DatasplitConfig", "AugmentConfig", "TrainConfig", "PredictConfig", "ProcessConfig",
            "PackConfig", "DemoConfig", "PIPELINE_SECTIONS", "OFFICIAL_INSTANCE_CLASSES"]
