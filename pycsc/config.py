"""Frozen dataclass configs, one per command, loaded from TOML with command-line overrides.

Precedence: dataclass defaults < TOML file < command-line flags. Unknown keys are errors that
name the key and the file; values are checked against the field's annotation. The resolved
config is written next to every output (:func:`write_resolved`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, Literal, Mapping, TypeVar, Union, get_args, get_origin, get_type_hints

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
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string; got {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"{where} must be a path string; got {value!r}")
        return Path(value)
    raise ConfigError(f"{where}: unsupported config field type {hint!r}")


def from_mapping(cls: type[C], data: Mapping[str, Any], source: str) -> C:
    """Build the dataclass `cls` from `data`; `source` names the file (or table) in messages."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {unknown[0]!r}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + f"; valid keys are: {', '.join(sorted(names))}"
        )
    values = {k: _coerce(v, hints[k], f"{source}: `{k}`") for k, v in data.items()}
    try:
        obj = cls(**values)
    except TypeError as exc:  # a required field is absent
        raise ConfigError(f"{source}: {exc}") from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
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
    raise ConfigError(f"cannot write {value!r} to TOML")


def to_toml(cfg: Any) -> str:
    """Serialise a config dataclass (flat fields, nested dataclasses as tables); None is omitted."""
    flat, tables = [], []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            tables.append(f"\n[{f.name}]\n" + to_toml(value))
        elif isinstance(value, dict):
            body = "".join(f"{k} = {_to_toml_value(v)}\n" for k, v in value.items() if v is not None)
            tables.append(f"\n[{f.name}]\n" + body)
        else:
            flat.append(f"{f.name} = {_to_toml_value(value)}\n")
    return "".join(flat) + "".join(tables)


def write_resolved(cfg: Any, dest: str | os.PathLike) -> Path:
    """Atomically write the resolved config to `dest` (a file path) and return it."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(f"# resolved {type(cfg).__name__}, written by pycsc\n")
            fh.write(to_toml(cfg))
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


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
    test_manifest: Path | None = None  # test-crop manifest CSV: EM around those crops too
    alignment: str = "recon-1"
    raw_name: str = "em/fibsem-uint8"
    retries: int = 5
    progress: bool = True

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
