"""``binary``: 1 on the class, 0 elsewhere (the default, and pycsc's original target)."""

from __future__ import annotations

import numpy as np

from .registry import Target, register_target


@register_target
class Binary(Target):
    """Foreground probability, sigmoid output, BCE loss, threshold (+ connected components)."""

    name = "binary"
    activation = "sigmoid"
    default_loss = "bce"
    decoder = "threshold"
    defaults = {}
    needs_ids = False

    def make(self, labels, known, voxel_size_nm, **params):
        """Examples
        --------
        >>> t, m = Binary().make(np.array([[[0, 3, 0]]]), np.array([[[True, True, False]]]), (8, 8, 8))
        >>> t.tolist(), m.tolist()
        ([[[[0.0, 1.0, 0.0]]]], [[[[1.0, 1.0, 0.0]]]])
        """
        target = ((labels != 0) & known).astype(np.float32)[None]
        return target, known.astype(np.float32)[None]

    def make_into(self, labels, known, voxel_size_nm, target_out, mask_out, core, **params):
        # the loader's hot path: no float temporaries, one write per output voxel
        fg = labels[core] if labels.dtype == np.bool_ else np.not_equal(labels[core], 0)
        known = known[core]
        if any(known.strides):             # not the loader's all-known broadcast view
            fg = fg & known
        np.copyto(target_out[0], fg)
        np.copyto(mask_out[0], known)
