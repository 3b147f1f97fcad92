"""Command-line glue for the config dataclasses: one flag per field, TOML sections, overrides.

Every field of a command's dataclass becomes ``--field-name`` (nested dataclasses give
``--table-field``). Flags are collected as raw values and passed through the same loader as
the TOML file (:func:`pycsc.config.from_mapping`), so a value is checked by one code path
whether it came from the file or the command line. Precedence: defaults < TOML < flags.

argparse-dataclass maps annotations to argparse types directly; it cannot read the postponed
(string) annotations of :mod:`pycsc.config` nor tuple, Optional, Literal[int] or nested
dataclass fields, so this module builds the flags itself from the same dataclass fields.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, get_args, get_origin, get_type_hints

from ..config import PIPELINE_SECTIONS, from_mapping, load_toml
from ..errors import ConfigError

_DEST = "cfg__"
#: Top-level tables a pipeline TOML may hold (the evaluate and simulate helpers read their own).
KNOWN_SECTIONS = frozenset(PIPELINE_SECTIONS) | {"evaluate", "simulate"}


def _is_sequence(hint: Any) -> bool:
    if get_origin(hint) in (tuple, list):
        return True
    return any(get_origin(a) in (tuple, list) for a in get_args(hint))


def _literal_args(hint: Any) -> tuple:
    if get_origin(hint) is Literal:
        return get_args(hint)
    return ()


def _scalar(text: str) -> Any:
    """A command-line word as TOML would read it: int, float, bool or string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def add_config_options(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> None:
    """Add one flag per field of the dataclass `cls` (recursing into nested dataclasses)."""
    hints = get_type_hints(cls)
    group = parser.add_argument_group(f"{prefix.rstrip('.') or cls.__name__} options")
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        key = prefix + f.name
        flag = "--" + key.replace(".", "-").replace("_", "-")
        dest = _DEST + key.replace(".", "__")
        helptext = f.metadata.get("help", "")
        if dataclasses.is_dataclass(hint):
            add_config_options(parser, hint, prefix=key + ".")
            continue
        if hint is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                               default=None, help=helptext)
        elif get_origin(hint) is dict or hint is dict:
            group.add_argument(flag, dest=dest, nargs="+", metavar="KEY=VALUE", default=None,
                               help=helptext)
        elif _is_sequence(hint):
            group.add_argument(flag, dest=dest, nargs="*", metavar="V", default=None,
                               help=helptext + ("" if f.name in WHOLE_ITEM_FIELDS else
                                                " (space- or comma-separated)"))
        else:
            choices = _literal_args(hint)
            group.add_argument(flag, dest=dest, default=None,
                               choices=[str(c) for c in choices] or None, metavar=None if choices
                               else f.name.upper(), help=helptext)


def overrides_from_args(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The flags the user gave, as a nested mapping ready to merge over the TOML table."""
    out: dict[str, Any] = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            sub = _nested_overrides(args, hint, f.name + ".")
            if sub:
                out[f.name] = sub
            continue
        value = getattr(args, _DEST + f.name, None)
        if value is not None:
            out[f.name] = _convert(value, hint, f.name)
    return out


def _nested_overrides(args: argparse.Namespace, cls: type, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        value = getattr(args, _DEST + (prefix + f.name).replace(".", "__"), None)
        if value is not None:
            out[f.name] = _convert(value, hints[f.name], prefix + f.name)
    return out


#: List fields whose items contain commas themselves (``DATASET:z0,y0,x0:z1,y1,x1``).
WHOLE_ITEM_FIELDS = frozenset({"regions"})


def split_commas(words: list[str], name: str = "") -> list[str]:
    """``["mito,nuc", "er"]`` -> ``["mito", "nuc", "er"]``: the official toolbox's lists are
    comma-separated, ours space-separated; both (and mixtures) are accepted.

    Examples
    --------
    >>> split_commas(["mito,nuc", "er"]), split_commas(["6,6,6"])
    (['mito', 'nuc', 'er'], ['6', '6', '6'])
    """
    if name.rsplit(".", 1)[-1] in WHOLE_ITEM_FIELDS:
        return list(words)
    return [part.strip() for word in words for part in str(word).split(",") if part.strip()]


def _convert(value: Any, hint: Any, name: str) -> Any:
    if isinstance(value, bool):
        return value
    if get_origin(hint) is dict or hint is dict:
        table = {}
        for item in value:
            key, sep, text = item.partition("=")
            if not sep or not key:
                raise ConfigError(f"--{name.replace('_', '-')} expects KEY=VALUE pairs; got {item!r}")
            table[key] = _scalar(text)
        return table
    if isinstance(value, list):
        return split_commas(value, name)
    literal = _literal_args(hint)
    if literal and not isinstance(literal[0], str):
        return _scalar(value)
    return value


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(cls: type, path: str | Path | None, section: Optional[str],
                overrides: Mapping[str, Any] | None = None) -> Any:
    """Defaults < the `[section]` table of the TOML file at `path` < `overrides`.

    With `section` None the whole file is the table. A sectioned file may hold only the
    known pipeline tables; a misspelt table is an error naming it and the file.
    """
    table: dict[str, Any] = {}
    source = "command line"
    if path is not None:
        data = load_toml(path)
        source = str(path)
        if section is not None:
            unknown = sorted(k for k in data if k not in KNOWN_SECTIONS)
            if unknown:
                raise ConfigError(
                    f"{path}: unknown key {unknown[0]!r} at the top level; a pipeline config holds "
                    f"only the tables {', '.join(f'[{s}]' for s in sorted(KNOWN_SECTIONS))}")
            if section not in data:
                raise ConfigError(f"{path} has no [{section}] table; add one or pass another file")
            if not isinstance(data[section], Mapping):
                raise ConfigError(f"{path}: [{section}] must be a table")
            table = dict(data[section])
            source = f"{path} [{section}]"
        else:
            table = data
    flags = {key: "--" + key.replace("_", "-") for key, value in (overrides or {}).items()
             if not isinstance(value, Mapping)}
    return from_mapping(cls, _deep_merge(table, overrides or {}), source, key_sources=flags)


def add_command(sub: Any, name: str, cls: type, section: Optional[str], help: str,
                run: Any, description: str | None = None) -> argparse.ArgumentParser:
    """A sub-command taking an optional TOML file plus one flag per config field."""
    parser = sub.add_parser(name, help=help, description=description or help)
    parser.add_argument("config", nargs="?", default=None, metavar="CONFIG.toml",
                        help=f"TOML file{f' with a [{section}] table' if section else ''} "
                        "(optional: defaults and flags alone also work)")
    add_config_options(parser, cls)
    parser.set_defaults(run=run, config_class=cls, config_section=section)
    return parser


def config_from_args(args: argparse.Namespace) -> Any:
    """Resolve the config of the parsed sub-command: defaults < file < flags."""
    cls = args.config_class
    return load_config(cls, args.config, args.config_section, overrides_from_args(args, cls))
