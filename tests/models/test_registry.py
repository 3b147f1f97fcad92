"""The model registry: every entry builds and runs in 2D and 3D; bad names and kwargs are one line."""

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from pycsc.errors import ConfigError  # noqa: E402
from pycsc.models import create_model, list_models, upsample_factor  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))      # user_nets.py, the "package.module:fn" example

#: (name, kwargs, spatial size per axis): small widths keep the whole file fast
BUILTIN = [("unet", {"base_channels": 4, "depth": 2}, 16), ("resnet", {"base_channels": 4, "n_blocks": 1}, 16),
           ("vit", {"stem_channels": 4, "stem_levels": 1, "patch_size": 2, "embed_dim": 16, "depth": 1,
                    "num_heads": 2}, 16),
           ("cosem_upsample_unet", {"base_channels": 4, "depth": 2}, 8),
           ("user_nets:build", {"width": 3}, 8)]
MONAI = [("monai.BasicUNet", {"features": (4, 4, 8, 8, 16, 4)}, 32),
         ("monai.UNet", {"channels": (4, 8), "strides": (2,)}, 16),
         ("monai.SegResNet", {"init_filters": 8, "blocks_down": (1, 1), "blocks_up": (1,)}, 16),
         ("monai.SwinUNETR", {"feature_size": 12, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 1, 1),
                              "window_size": 2, "norm_name": "batch"}, 32),
         ("monai.MedNeXt", {"init_filters": 4, "blocks_down": (1, 1, 1, 1), "blocks_bottleneck": 1,
                            "blocks_up": (1, 1, 1, 1), "kernel_size": 3}, 32)]


def test_list_models_names_the_builtins():
    assert {"unet", "resnet", "vit", "cosem_upsample_unet"} <= set(list_models())


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("name,kwargs,size", BUILTIN)
def test_builtin_forward(name, kwargs, size, ndim):
    torch.manual_seed(0)
    net = create_model(name, ndim=ndim, in_channels=1, out_channels=3, **kwargs)
    x = torch.rand(2, 1, *([size] * ndim))
    up = upsample_factor(name)
    y = net(x)
    assert y.shape == (2, 3, *([size * up] * ndim))
    y.mean().backward()                          # trainable end to end
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("name,kwargs,size", MONAI)
def test_monai_forward(name, kwargs, size, ndim):
    pytest.importorskip("monai")
    torch.manual_seed(0)
    net = create_model(name, ndim=ndim, in_channels=1, out_channels=2, **kwargs).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 1, *([size] * ndim))).shape == (1, 2, *([size] * ndim))


@pytest.mark.parametrize("size", ["S", "B", "M", "L"])
def test_mednext_presets_build(size):
    pytest.importorskip("monai")
    net = create_model(f"monai.MedNeXt{size}", ndim=3, in_channels=1, out_channels=2)
    assert sum(p.numel() for p in net.parameters()) > 0


@pytest.mark.parametrize("name,kwargs,message", [
    ("unte", {}, r"`name` = 'unte' is not a known model; use one of cellmap_cosem, cosem_upsample_unet, resnet, unet, vit"),
    ("unet", {"detph": 2}, r"key 'detph' is not an argument of model 'unet'; accepted keys: base_channels, depth"),
    ("unet", {"depth": 0}, r"`depth` must be an integer >= 1; got 0"),
    ("vit", {"embed_dim": 10, "num_heads": 4}, r"`embed_dim` \(10\) must be divisible by `num_heads`"),
    ("user_nets:nothing", {}, r"has no callable 'nothing'"),
    ("no_such_module_xyz:build", {}, r"cannot import 'no_such_module_xyz'"),
    ("user_nets:not_a_module", {}, r"returned str, not a torch.nn.Module"),
    ("user_nets:build", {"depth": 2}, r"key 'depth' is not an argument of model 'user_nets:build'; accepted keys: width"),
])
def test_bad_input_is_one_line(name, kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        create_model(name, ndim=3, in_channels=1, out_channels=1, **kwargs)
    assert "\n" not in str(info.value)


def test_monai_errors():
    pytest.importorskip("monai")
    with pytest.raises(ConfigError, match=r"monai.networks.nets has no 'NoSuchNet'"):
        create_model("monai.NoSuchNet", ndim=3, in_channels=1, out_channels=1)
    with pytest.raises(ConfigError, match=r"model 'monai.UNet' needs key 'channels'"):
        create_model("monai.UNet", ndim=3, in_channels=1, out_channels=1)
    with pytest.raises(ConfigError, match=r"key 'chanels' is not an argument of model 'monai.UNet'"):
        create_model("monai.UNet", ndim=3, in_channels=1, out_channels=1, chanels=(4, 8), strides=(2,))


def test_monai_missing_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_monai(name, *args, **kwargs):
        if name.startswith("monai"):
            raise ImportError("No module named 'monai'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_monai)
    with pytest.raises(ConfigError, match=r"needs MONAI: pip install 'pycsc\[monai\]'"):
        create_model("monai.BasicUNet", ndim=3, in_channels=1, out_channels=1)


@pytest.mark.parametrize("flags,message", [
    (["--model", "name=unte"], "`name` = 'unte' is not a known model; use one of"),
    (["--model", "name=unet", "detph=3"], "key 'detph' is not an argument of model 'unet'; accepted keys"),
])
def test_cli_bad_model_is_one_line(flags, message, capsys):
    from pycsc.cli.main import main

    assert main(["train", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("csc train: error:") and message in err and len(err.strip().splitlines()) == 1
