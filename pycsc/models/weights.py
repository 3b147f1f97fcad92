"""Pretrained weights from a local file, optionally re-mapped onto other output classes.

Accepted files: a pycsc checkpoint (``{"spec", "model"}``), a bare ``state_dict``, or a dict
holding one under ``"state_dict"`` / ``"model_state_dict"`` / ``"model"`` (Lightning and
cellmap-models checkpoints). Nothing is downloaded.

Fine-tuning onto other classes: the output layer (the trailing parameters whose first
dimension is the number of output channels) is copied row by row through `channel_map`
(``{new_channel: old_channel}``, names or source indices); output channels not in the map
keep their fresh initialisation. Channel names are the class (one-channel classes) or
``"class/channel"``. Without a map, channels whose names appear in the source are copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ConfigError, DataError


def _read(path: Path) -> tuple[dict, list[str] | None]:
    import torch

    if not path.is_file():
        raise ConfigError(f"`weights` file {path} does not exist; give a local .pt/.pth file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise DataError(f"`weights` file {path} cannot be read by torch.load ({exc})") from None
    names = None
    if isinstance(obj, Mapping) and "spec" in obj and "model" in obj:
        from .spec import channel_names

        names = channel_names(obj["spec"])
        obj = obj["model"]
    else:
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(hasattr(v, "shape") for v in obj.values()):
        raise DataError(f"`weights` file {path} holds no state_dict (a mapping of parameter tensors)")
    return dict(obj), names


def _output_keys(state: Mapping[str, Any], out_channels: int) -> list[str]:
    keys = []
    for key in reversed(list(state)):
        if state[key].ndim >= 1 and state[key].shape[0] == out_channels:
            keys.append(key)
        elif keys:
            break
    return keys


def _source_index(value, source_names: list[str] | None, n_source: int, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < n_source:
            raise ConfigError(f"`weights_channel_map` {key!r} = {value}: the source has {n_source} channels")
        return value
    if source_names is None or value not in source_names:
        raise ConfigError(f"`weights_channel_map` {key!r} = {value!r} is not a channel of the weights file "
                          f"({source_names or f'unnamed: use indices 0..{n_source - 1}'})")
    return source_names.index(value)


def load_weights(model, path: str | Path, *, strict: bool = True, channel_map: Mapping[str, Any] | None = None,
                 channel_names: Sequence[str] | None = None) -> dict:
    """Load the weights in `path` into `model` (in place).

    Parameters
    ----------
    model : torch.nn.Module
        The freshly built network.
    path : str or Path
        Local checkpoint or state_dict file.
    strict : bool
        Every parameter must be present with the same shape (after channel mapping); when
        False, matching parameters load and the others keep their initialisation.
    channel_map : mapping, optional
        ``{model channel name: source channel name or index}`` for the output layer.
    channel_names : sequence of str, optional
        The model's output channel names (needed by `channel_map`).

    Returns
    -------
    dict
        ``loaded`` (number of tensors), ``skipped`` (names) and ``mapped`` channels.
    """
    import torch

    path = Path(path)
    source, source_names = _read(path)
    target = model.state_dict()
    names = list(channel_names or [])
    mapped: dict[str, int] = {}
    out_keys = _output_keys(target, len(names)) if names else []
    n_source = None
    if out_keys:
        n_source = source[out_keys[-1]].shape[0] if out_keys[-1] in source else None
    if channel_map or (source_names and source_names != names and n_source == len(source_names)):
        if not out_keys or n_source is None:
            raise ConfigError(f"`weights_channel_map`: cannot find the output layer of {path} matching the model")
        wanted = dict(channel_map) if channel_map else {n: n for n in names if n in source_names}
        unknown = [k for k in wanted if k not in names]
        if unknown:
            raise ConfigError(f"`weights_channel_map` key {unknown[0]!r} is not an output channel of the model "
                              f"({names})")
        mapped = {k: _source_index(v, source_names, n_source, k) for k, v in wanted.items()}
        for key in out_keys:
            rows = target[key].clone()
            for new, old in mapped.items():
                rows[names.index(new)] = source[key][old]
            source[key] = rows
    loaded, skipped = {}, []
    for key, value in target.items():
        src = source.get(key)
        if src is not None and tuple(src.shape) == tuple(value.shape):
            loaded[key] = src.to(value.dtype)
        else:
            skipped.append(key)
    extra = [k for k in source if k not in target]
    if strict and (skipped or extra):
        what = (f"parameter {skipped[0]!r} is missing or has another shape" if skipped
                else f"it holds parameter {extra[0]!r} the model lacks")
        raise ConfigError(f"`weights` {path} does not fit the model: {what} ({len(skipped)} missing/mismatched, "
                          f"{len(extra)} unexpected); set weights_strict = false to load what fits, or "
                          "weights_channel_map to re-map output classes")
    with torch.no_grad():
        model.load_state_dict({**target, **loaded})
    return {"loaded": len(loaded), "skipped": skipped, "mapped": mapped}
