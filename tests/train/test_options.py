"""Optimisers and schedules by torch name: kwargs reach torch, warm-up then the schedule."""

import math

import pytest

torch = pytest.importorskip("torch")

from pycsc.config import TrainConfig  # noqa: E402
from pycsc.errors import ConfigError  # noqa: E402
from pycsc.train.options import build_optimizer, build_scheduler  # noqa: E402


def _params():
    return [torch.nn.Parameter(torch.zeros(3))]


def test_default_is_radam_with_decoupled_decay():
    opt = build_optimizer(TrainConfig(learning_rate=0.01, weight_decay=0.1), _params())
    assert isinstance(opt, torch.optim.RAdam)
    assert opt.defaults["lr"] == 0.01 and opt.defaults["weight_decay"] == 0.1 and opt.defaults["decoupled_weight_decay"]


def test_named_optimizer_with_kwargs():
    cfg = TrainConfig(optimizer={"name": "SGD", "momentum": 0.9, "nesterov": True}, learning_rate=0.5)
    opt = build_optimizer(cfg, _params())
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9 and opt.defaults["nesterov"]
    opt = build_optimizer(TrainConfig(optimizer={"name": "AdamW", "betas": [0.8, 0.9]}), _params())
    assert opt.defaults["betas"] == (0.8, 0.9)


def test_cosine_with_warmup_follows_the_formula():
    cfg = TrainConfig(learning_rate=1.0, optimizer={"name": "SGD"},
                      scheduler={"name": "CosineAnnealingLR", "warmup_steps": 4, "eta_min": 0.1})
    opt = build_optimizer(cfg, _params())
    sched = build_scheduler(cfg, opt, total_steps=14)
    lrs = []
    for _ in range(14):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    warm = [0.01 + (1 - 0.01) * t / 4 for t in range(4)]       # linear from lr/100
    cos = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(10)]
    assert lrs == pytest.approx(warm + cos, rel=1e-6)


@pytest.mark.parametrize("scheduler,cls", [("cosine", "CosineAnnealingLR"), ("onecycle", "OneCycleLR"),
                                           ({"name": "PolynomialLR", "power": 2.0}, "PolynomialLR")])
def test_schedule_names(scheduler, cls):
    cfg = TrainConfig(scheduler=scheduler)
    sched = build_scheduler(cfg, build_optimizer(cfg, _params()), total_steps=10)
    assert type(sched).__name__ == cls


@pytest.mark.parametrize("kw,message", [
    ({"optimizer": {"name": "Adamm"}}, r"`name` = 'Adamm' is not a torch.optim optimizer; use one of .*AdamW"),
    ({"optimizer": {"name": "SGD", "momentun": 0.9}}, r"\[train.optimizer\] key 'momentun' is not an argument of SGD"),
    ({"scheduler": "linear"}, r"`scheduler` must be one of none, cosine, onecycle"),
    ({"scheduler": {"name": "CosineAnnealingLR", "tmax": 3}}, r"key 'tmax' is not an argument of CosineAnnealingLR"),
    ({"scheduler": {"name": "CosineAnnealingLR", "warmup_steps": -1}}, r"`warmup_steps` must be an integer >= 0"),
    ({"model": {"name": "unet", "depht": 3}}, r"key 'depht' is not an argument of model 'unet'"),
    ({"model": {"depth": 3}}, r"\[train.model\] needs `name`"),
    ({"model": {"name": "unet"}, "depth": 2}, r"`depth` cannot be combined with a \[train.model\] table"),
    ({"model": {"name": "unet", "depth": 4}, "patch_shape": (24, 24, 24)}, r"must be divisible by 16 for model 'unet'"),
    ({"model": {"name": "cosem_upsample_unet"}}, r"outputs voxel size 4 nm .* but the target voxel size is 8 nm"),
    ({"loss": {"name": "focal", "gama": 2}}, r"key 'gama' is not a parameter of loss 'focal'"),
])
def test_config_errors(kw, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kw).validate()


def test_device_selection():
    from pycsc.train.loop import select_device

    assert select_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert select_device("auto").type == expected
    if not torch.backends.mps.is_available():
        with pytest.raises(ConfigError, match="`device` = 'mps' but torch sees no Apple MPS device"):
            select_device("mps")
    assert TrainConfig(device="mps").device == "mps"
