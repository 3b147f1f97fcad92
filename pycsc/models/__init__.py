"""Networks: one registry, one factory (the timm habit).

>>> from pycsc.models import create_model, list_models
>>> "unet" in list_models()
True

:func:`create_model` builds registered names, ``"monai.<ClassName>"`` (extra ``monai``) and
``"package.module:build_fn"``; :func:`load_weights` puts pretrained weights into a model.
"""

from .registry import (ModelEntry, create_model, list_models, model_entry, register_model, size_divisor,
                       upsample_factor)
from .weights import load_weights

__all__ = ["ModelEntry", "create_model", "list_models", "model_entry", "register_model", "size_divisor",
           "upsample_factor", "load_weights"]
