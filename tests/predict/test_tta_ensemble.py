"""Test-time augmentation and ensembles: invariances with models built to have them, and
'off' meaning bit-identical outputs."""

import numpy as np
import pytest
import zarr

torch = pytest.importorskip("torch")

from pycsc.config import PredictConfig  # noqa: E402
from pycsc.errors import ConfigError  # noqa: E402
from pycsc.predict import plan_jobs, predict  # noqa: E402
from pycsc.predict.run import predict_job  # noqa: E402
from pycsc.predict.tta import TTA, transforms, wrap_tta  # noqa: E402
from pycsc.train import checkpoint as ckpt  # noqa: E402
from pycsc.train.models import build_model  # noqa: E402


class Conv:
    """A 3x3x3 convolution + sigmoid as a window-batch callable (two output classes)."""

    def __init__(self, weight):
        self.weight = torch.as_tensor(weight, dtype=torch.float32)

    def __call__(self, windows, output_window=None):   # same-size output: the window is the output
        x = torch.from_numpy(np.ascontiguousarray(windows))[:, None]
        y = torch.nn.functional.conv3d(x, self.weight, padding=1)
        return torch.sigmoid(y).numpy()


def _symmetric_kernel():
    """Depends only on the sorted |offsets|: invariant under every flip and axis swap."""
    off = np.abs(np.indices((3, 3, 3)) - 1)
    key = np.sort(off, axis=0)
    k = 0.5 - 0.3 * key[0] + 0.2 * key[1] - 0.4 * key[2]
    return np.stack([k, -k])[:, None]


def test_transform_counts_respect_anisotropy():
    assert len(transforms((8, 8, 8), (8, 8, 8), "flips")) == 8
    assert len(transforms((8, 8, 8), (8, 8, 8), "flips+transposes")) == 48
    assert len(transforms((8, 8, 8), (6.96, 8, 8), "flips+transposes")) == 16    # z never swapped
    assert len(transforms((8, 16, 16), (8, 8, 8), "flips+transposes")) == 16     # window anisotropic
    assert len(transforms((1, 8, 8), (8, 8, 8), "flips+transposes")) == 8       # 2D slice: y<->x, 4 flips
    assert transforms((8, 8, 8), (8, 8, 8), "none") == [((), (0, 1, 2))]
    with pytest.raises(ConfigError, match="`tta` must be one of"):
        TTA(lambda w: w, "rotations", (8, 8, 8))


@pytest.mark.parametrize("mode", ["flips", "flips+transposes"])
def test_equivariant_model_is_unchanged(mode):
    windows = np.random.default_rng(0).random((2, 6, 6, 6), dtype=np.float32)
    model = Conv(_symmetric_kernel())
    np.testing.assert_allclose(TTA(model, mode, (8, 8, 8))(windows), model(windows), rtol=1e-6, atol=1e-7)


def test_random_model_changes_and_stays_a_probability():
    rng = np.random.default_rng(1)
    windows = rng.random((2, 6, 6, 6), dtype=np.float32)
    model = Conv(rng.normal(size=(2, 1, 3, 3, 3)))
    plain = model(windows)
    for mode in ("flips", "flips+transposes"):
        out = TTA(model, mode, (8, 8, 8))(windows)
        assert out.shape == plain.shape and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1
        assert np.abs(out - plain).max() > 1e-3
    # the mean over flips, computed independently with torch.flip
    x = torch.from_numpy(windows)[:, None]
    w = torch.as_tensor(model.weight)
    expected = torch.zeros_like(torch.from_numpy(plain))
    for dims in ([], [2], [3], [4], [2, 3], [2, 4], [3, 4], [2, 3, 4]):
        y = torch.sigmoid(torch.nn.functional.conv3d(torch.flip(x, dims), w, padding=1))
        expected += torch.flip(y, dims)
    np.testing.assert_allclose(TTA(model, "flips", (8, 8, 8))(windows), expected.numpy() / 8, rtol=1e-5,
                               atol=1e-6)


def test_tta_through_the_sliding_window(toy, tmp_path):
    """The sweep with an equivariant model: TTA output equals the plain output."""
    base = dict(data_root=toy["data_root"], manifest=toy["manifest"], progress=False, dtype="float32",
                overlap=0.0, batch_size=8)
    spec = {"architecture": "unet", "ndim": 3, "classes": ["mito", "nuc"], "base_channels": 2, "depth": 1,
            "patch_shape": [16, 16, 16], "voxel_size_nm": [8.0, 8.0, 8.0]}
    outs = {}
    for mode in ("none", "flips+transposes"):
        cfg = PredictConfig(output=str(tmp_path / mode / "{dataset}.zarr/{crop}"), tta=mode, **base)
        (job,) = plan_jobs(cfg, spec)
        model = Conv(_symmetric_kernel())
        wrapped = wrap_tta(model, mode, spec["voxel_size_nm"])
        assert (wrapped is model) == (mode == "none")
        predict_job(cfg, spec, wrapped, job)
        outs[mode] = zarr.open_array(str(tmp_path / mode / "toy-1.zarr/crop9/mito/s0"))[:]
    np.testing.assert_allclose(outs["flips+transposes"], outs["none"], rtol=1e-6, atol=1e-6)


def _checkpoint(path, ndim=3, patch=(16, 16, 16), voxel=(8.0, 8.0, 8.0), seed=0):
    spec = {"architecture": "unet", "ndim": ndim, "classes": ["mito", "nuc"], "base_channels": 2, "depth": 1,
            "patch_shape": list(patch), "voxel_size_nm": list(voxel)}
    torch.manual_seed(seed)
    ckpt.save({"spec": spec, "model": build_model(spec).state_dict()}, path)
    return path


def _read(root, cls="mito"):
    return zarr.open_array(str(root / "toy-1.zarr/crop9" / cls / "s0"))[:]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {"a": _checkpoint(d / "a.pt"), "b2d": _checkpoint(d / "b.pt", 2, (1, 16, 16), seed=1),
            "c16": _checkpoint(d / "c.pt", voxel=(16.0, 16.0, 16.0), seed=2)}


def _cfg(toy, out, **kw):
    return PredictConfig(data_root=toy["data_root"], manifest=toy["manifest"],
                         output=str(out / "{dataset}.zarr/{crop}"), progress=False, threads=1, **kw)


def test_ensemble_of_a_checkpoint_with_itself_is_bit_identical(toy, tmp_path, models):
    predict(_cfg(toy, tmp_path / "single", checkpoint=models["a"]))
    predict(_cfg(toy, tmp_path / "ens", checkpoints=(models["a"], models["a"])))
    predict(_cfg(toy, tmp_path / "cls", checkpoints=(models["a"],), class_models={"nuc": str(models["a"])}))
    for cls in ("mito", "nuc"):
        single = _read(tmp_path / "single", cls)
        assert single.dtype == np.uint8 and single.std() > 0
        np.testing.assert_array_equal(_read(tmp_path / "ens", cls), single)
        np.testing.assert_array_equal(_read(tmp_path / "cls", cls), single)
    assert not list((tmp_path / "ens").glob(".pycsc-ensemble-*"))          # temporaries removed


def test_weighted_2d_3d_ensemble_and_class_models(toy, tmp_path, models):
    f32 = dict(dtype="float32")
    predict(_cfg(toy, tmp_path / "a", checkpoint=models["a"], **f32))
    predict(_cfg(toy, tmp_path / "b", checkpoint=models["b2d"], **f32))
    predict(_cfg(toy, tmp_path / "e", checkpoints=(models["a"], models["b2d"]), weights=(1.0, 3.0),
                 class_models={"nuc": str(models["b2d"])}, **f32))
    a, b = _read(tmp_path / "a"), _read(tmp_path / "b")
    np.testing.assert_allclose(_read(tmp_path / "e"), (a + 3 * b) / 4, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(_read(tmp_path / "e", "nuc"), _read(tmp_path / "b", "nuc"))


def test_mixed_voxel_sizes_average_on_the_first_grid(toy, tmp_path, models):
    out = tmp_path / "m"
    (r,) = predict(_cfg(toy, out, checkpoints=(models["a"], models["c16"]), dtype="float32", tta="flips"))
    data = _read(out)
    assert data.shape == (32, 32, 32) and 0 <= data.min() and data.max() <= 1   # the 8 nm grid
    assert r["classes"] == ["mito", "nuc"]


def test_config_errors(tmp_path, models, toy):
    with pytest.raises(ConfigError, match="one value per entry"):
        PredictConfig(checkpoints=(models["a"],), weights=(1.0, 2.0)).validate()
    with pytest.raises(ConfigError, match="does not predict"):
        predict(_cfg(toy, tmp_path, checkpoints=(models["a"],), class_models={"er": str(models["a"])}))
