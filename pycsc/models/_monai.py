"""MONAI networks by name: ``"monai.<ClassName>"`` is ``monai.networks.nets.<ClassName>``.

MONAI is optional (``pip install "pycsc[monai]"``) and imported only when such a name is
used. Every MONAI network takes ``spatial_dims``, ``in_channels`` and ``out_channels``;
SwinUNETR needs spatial sizes divisible by 32 and MedNeXtS/B/M/L are MONAI's preset sizes
(``monai.MedNeXt`` takes the full set of arguments, e.g. a smaller ``init_filters``).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from ..errors import ConfigError


def monai_builder(name: str, ndim: int, in_channels: int, out_channels: int) -> tuple[Callable, dict[str, Any]]:
    """The MONAI constructor named by `name` and the arguments pycsc supplies to it."""
    class_name = name.split(".", 1)[1]
    try:
        import monai.networks.nets as nets
    except ImportError:
        raise ConfigError(f"[train.model] `name` = {name!r} needs MONAI: pip install 'pycsc[monai]'") from None
    fn = getattr(nets, class_name, None)
    if fn is None or not callable(fn) or class_name.startswith("_"):
        available = sorted(n for n, v in vars(nets).items() if inspect.isclass(v) and not n.startswith("_"))
        raise ConfigError(f"[train.model] `name` = {name!r}: monai.networks.nets has no {class_name!r}; "
                          f"e.g. {', '.join(a for a in available if 'U' in a or 'Res' in a or 'Med' in a)}")
    return fn, {"spatial_dims": ndim, "in_channels": in_channels, "out_channels": out_channels}
