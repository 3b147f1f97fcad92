"""Networks and the masked loss, against direct formulas."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pycsc.train.losses import confusion_counts, dice_iou, masked_bce  # noqa: E402
from pycsc.train.models import ResNet, UNet, build_model  # noqa: E402


@pytest.mark.parametrize("ndim,shape", [(2, (16, 24)), (3, (8, 16, 8))])
@pytest.mark.parametrize("arch", ["unet", "resnet"])
def test_output_shape(arch, ndim, shape):
    spec = {"architecture": arch, "ndim": ndim, "classes": ["a", "b", "c"], "base_channels": 4, "depth": 2,
            "patch_shape": [1, *shape] if ndim == 2 else list(shape), "voxel_size_nm": [8, 8, 8]}
    model = build_model(spec)
    assert isinstance(model, UNet if arch == "unet" else ResNet)
    x = torch.rand(2, 1, *shape)
    assert model(x).shape == (2, 3, *shape)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model({"architecture": "vit", "ndim": 3, "classes": ["a"], "base_channels": 4, "depth": 1})


def _bce(x, t, w):
    # -[w t log s(x) + (1 - t) log(1 - s(x))], written out independently of torch
    s = 1 / (1 + np.exp(-x))
    return -(w * t * np.log(s) + (1 - t) * np.log(1 - s))


def test_masked_bce_is_mean_over_known_voxels():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5, 6)).astype(np.float64)
    target = rng.integers(0, 2, size=logits.shape).astype(np.float32)
    target[rng.random(target.shape) < 0.4] = np.nan
    target[:, 2] = np.nan                               # one class unannotated everywhere
    pw = np.array([1.0, 4.0, 2.0])
    known = ~np.isnan(target)
    expected = _bce(logits, np.nan_to_num(target), pw[None, :, None, None])[known].mean()
    got = masked_bce(torch.from_numpy(logits).float(), torch.from_numpy(target), torch.tensor(pw, dtype=torch.float32))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)
    loss = masked_bce(x, torch.full((1, 1, 2, 2), float("nan")))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.all(x.grad == 0)


def test_confusion_and_dice():
    logits = torch.tensor([[[1.0, 1.0, -1.0, -1.0, 1.0]], [[1.0, -1.0, -1.0, 1.0, -1.0]]]).reshape(2, 1, 5)
    target = torch.tensor([[[1.0, 0.0, 1.0, 0.0, float("nan")]], [[1.0, 0.0, 0.0, float("nan"), 1.0]]]).reshape(2, 1, 5)
    counts = confusion_counts(logits, target)
    assert counts.tolist() == [[2, 1, 2]]
    dice, iou = dice_iou(counts)
    assert dice[0] == pytest.approx(4 / 7) and iou[0] == pytest.approx(2 / 5)
    assert np.isnan(dice_iou(torch.zeros(1, 3, dtype=torch.long))[0][0])
