"""Masked losses against torch.nn.functional on the known voxels and MONAI's Dice / focal losses."""

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from pycsc.errors import ConfigError  # noqa: E402
from pycsc.train.losses import ChannelLoss, check_loss_table, confusion_counts  # noqa: E402


def _batch(seed=0, channels=3, shared_mask=False):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, channels, 5, 6, 4, generator=g)
    target = (torch.rand(2, channels, 5, 6, 4, generator=g) > 0.6).float()
    shape = (2, 1, 5, 6, 4) if shared_mask else target.shape
    mask = (torch.rand(*shape, generator=g) > 0.3).float().expand_as(target).contiguous()
    return logits, target, mask


def _channels(*activations):
    return [{"cls": f"c{i}", "kind": "sdt" if a == "tanh" else "binary", "name": "", "activation": a}
            for i, a in enumerate(activations)]


def test_bce_with_class_weights_is_torch_bce_on_known_voxels():
    logits, target, mask = _batch()
    pw = torch.tensor([1.0, 3.0, 0.5])
    got = ChannelLoss({"name": "bce"}, _channels("sigmoid", "sigmoid", "sigmoid"), pw)(logits, target, mask)
    parts = []
    for c in range(3):
        k = mask[:, c] > 0
        parts.append(F.binary_cross_entropy_with_logits(logits[:, c][k], target[:, c][k], pos_weight=pw[c],
                                                        reduction="none"))
    assert float(got) == pytest.approx(float(torch.cat(parts).mean()), rel=1e-5)


def test_nan_targets_are_unknown_like_mask_zero():
    logits, target, mask = _batch(1)
    with_nan = target.clone()
    with_nan[mask == 0] = float("nan")
    loss = ChannelLoss({"name": "bce"}, _channels("sigmoid", "sigmoid", "sigmoid"))
    assert float(loss(logits, with_nan)) == pytest.approx(float(loss(logits, target, mask)), rel=1e-6)


def test_tanh_channels_bce_is_bce_of_rescaled_tanh():
    logits, target, mask = _batch(2, channels=1)
    t = target * 2 - 1                                         # signed targets in {-1, 1}
    got = ChannelLoss({"name": "bce"}, _channels("tanh"))(logits, t, mask)
    k = mask > 0
    p = (torch.tanh(logits[k]) + 1) / 2
    assert float(got) == pytest.approx(float(F.binary_cross_entropy(p, (t[k] + 1) / 2)), rel=1e-4)


@pytest.mark.parametrize("name,fn", [("mse", F.mse_loss), ("l1", F.l1_loss)])
def test_regression_losses_compare_activated_outputs(name, fn):
    logits, target, mask = _batch(3, channels=2)
    t = torch.tanh(torch.randn(target.shape, generator=torch.Generator().manual_seed(9)))   # sdt-like values
    t[:, 1] = target[:, 1]                                        # channel 1 is a sigmoid channel
    got = ChannelLoss({"name": name}, _channels("tanh", "sigmoid"))(logits, t, mask)
    act = torch.stack([torch.tanh(logits[:, 0]), torch.sigmoid(logits[:, 1])], dim=1)
    k = mask > 0
    assert float(got) == pytest.approx(float(fn(act[k], t[k])), rel=1e-5)


def test_auto_uses_each_kinds_default_and_sums():
    logits, target, mask = _batch(4, channels=2)
    t = target.clone()
    t[:, 1] = t[:, 1] * 2 - 1
    got = ChannelLoss({}, _channels("sigmoid", "tanh"))(logits, t, mask)
    k0, k1 = mask[:, 0] > 0, mask[:, 1] > 0
    want = (F.binary_cross_entropy_with_logits(logits[:, 0][k0], t[:, 0][k0])
            + F.mse_loss(torch.tanh(logits[:, 1][k1]), t[:, 1][k1]))
    assert float(got) == pytest.approx(float(want), rel=1e-5)


def test_dice_matches_monai_masked_dice():
    monai = pytest.importorskip("monai.losses")
    logits, target, mask = _batch(5, shared_mask=True)
    got = ChannelLoss({"name": "dice"}, _channels("sigmoid", "sigmoid", "sigmoid"))(logits, target, mask)
    ref = monai.MaskedDiceLoss(sigmoid=True, batch=True)(logits, target, mask[:, :1])
    assert float(got) == pytest.approx(float(ref), rel=1e-5)
    both = ChannelLoss({"name": "bce+dice"}, _channels("sigmoid", "sigmoid", "sigmoid"))(logits, target, mask)
    k = mask > 0
    assert float(both) == pytest.approx(float(ref + F.binary_cross_entropy_with_logits(logits[k], target[k])),
                                        rel=1e-5)


@pytest.mark.parametrize("gamma,alpha", [(2.0, None), (1.5, 0.25)])
def test_focal_matches_monai_focal(gamma, alpha):
    monai = pytest.importorskip("monai.losses")
    logits, target, mask = _batch(6)
    table = {"name": "focal", "gamma": gamma, **({"alpha": alpha} if alpha is not None else {})}
    got = ChannelLoss(table, _channels("sigmoid", "sigmoid", "sigmoid"))(logits, target, mask)
    ref = monai.FocalLoss(gamma=gamma, alpha=alpha, use_softmax=False, reduction="none")(logits, target)
    assert float(got) == pytest.approx(float(ref[mask > 0].mean()), rel=1e-5)


def test_nothing_known_gives_zero_with_gradient():
    x = torch.zeros(1, 2, 3, 3, requires_grad=True)
    for name in ("bce", "dice", "focal", "mse", "l1", "bce+dice"):
        loss = ChannelLoss({"name": name}, _channels("sigmoid", "tanh"))(x, torch.zeros(1, 2, 3, 3),
                                                                         torch.zeros(1, 2, 3, 3))
        loss.backward()
        assert float(loss.detach()) == 0.0 and torch.all(x.grad == 0)


@pytest.mark.parametrize("table,message", [
    ({"name": "dcie"}, r"`name` = 'dcie' is not a loss; use auto, bce, bce\+dice, dice, focal, l1, mse"),
    ({"name": "bce", "gamma": 2}, r"key 'gamma' is not a parameter of loss 'bce'"),
])
def test_bad_loss_table(table, message):
    with pytest.raises(ConfigError, match=message):
        check_loss_table(table)


def test_confusion_counts_of_tanh_channels_use_sign():
    logits = torch.tensor([1.0, -1.0, 1.0, -1.0]).reshape(1, 1, 4)
    target = torch.tensor([0.5, 0.3, -0.2, -0.9]).reshape(1, 1, 4)
    assert confusion_counts(logits, target, None, torch.tensor([True])).tolist() == [[1, 1, 1]]
    assert confusion_counts(logits, target).tolist() == [[0, 2, 0]]      # as probabilities: > 0.5 only
