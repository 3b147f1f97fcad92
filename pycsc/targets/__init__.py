"""Training targets per class (binary, signed distance, boundary, affinity) and their layout.

>>> from pycsc.targets import channel_layout, get_target
>>> get_target("sdt").activation, get_target("sdt").default_loss
('tanh', 'mse')
>>> len(channel_layout(["mito", "er"], {"mito": "affinity"}, 3))
5
"""

from . import binary, instance, sdt  # noqa: F401  (registers the kinds)
from .registry import (Channel, Target, channel_layout, class_targets, get_target, list_targets,
                       parse_spec, register_target, target_attrs)

__all__ = ["Channel", "Target", "channel_layout", "class_targets", "get_target", "list_targets",
           "parse_spec", "register_target", "target_attrs"]
