"""Sliding-window prediction: exact coverage and blending (identity model), outputs, CLI."""

import numpy as np
import pytest
import zarr

torch = pytest.importorskip("torch")

from pycsc.config import PredictConfig  # noqa: E402
from pycsc.data import _store  # noqa: E402
from pycsc.errors import ConfigError, DataError  # noqa: E402
from pycsc.predict import plan_jobs, predict  # noqa: E402
from pycsc.predict.run import predict_job  # noqa: E402
from pycsc.train import checkpoint as ckpt  # noqa: E402
from pycsc.train.models import build_model  # noqa: E402


def _spec(ndim=3, patch=(16, 16, 16), classes=("mito", "nuc")):
    return {"architecture": "unet", "ndim": ndim, "classes": list(classes), "base_channels": 2, "depth": 1,
            "patch_shape": list(patch), "voxel_size_nm": [8.0, 8.0, 8.0]}


class Identity:
    """Returns the EM window as the probability of every class: predictions must equal EM."""

    def __init__(self, n_classes):
        self.n, self.calls = n_classes, 0

    def __call__(self, windows, output_window=None):
        self.calls += 1
        assert windows.dtype == np.float32 and windows.min() >= 0 and windows.max() <= 1
        return np.repeat(windows[:, None], self.n, axis=1)


class CentreIdentity(Identity):
    """EM up-sampled `factor` times (nearest), centre-cropped to the output window."""

    def __init__(self, n_classes, factor=1):
        super().__init__(n_classes)
        self.factor = factor

    def __call__(self, windows, output_window=None):
        self.calls += 1
        for axis in (1, 2, 3):
            windows = np.repeat(windows, self.factor, axis=axis)
        cut = tuple(slice((h - w) // 2, (h - w) // 2 + w) for h, w in zip(windows.shape[1:], output_window))
        return np.repeat(windows[(slice(None), *cut)][:, None], self.n, axis=1)


@pytest.mark.parametrize("in_shape,in_vs,out_shape,out_vs,factor", [
    ((24, 24, 24), 8.0, (16, 16, 16), 8.0, 1),        # more input context, same grid
    ((8, 8, 8), 8.0, (16, 16, 16), 4.0, 2),           # COSEM setup_04 shape: 8 nm in, 4 nm out
])
def test_input_and_output_grids(toy, tmp_path, in_shape, in_vs, out_shape, out_vs, factor):
    from pycsc.models.spec import upgrade_spec

    spec = upgrade_spec(_spec())
    spec.update(input_shape=list(in_shape), input_voxel_size_nm=[in_vs] * 3, output_shape=list(out_shape),
                voxel_size_nm=[out_vs] * 3)
    cfg = PredictConfig(manifest=toy["manifest"], data_root=toy["data_root"], overlap=0.0, blend="constant",
                        output=str(tmp_path / "p/{dataset}.zarr/{crop}"), progress=False)
    (job,) = plan_jobs(cfg, spec)
    assert job.shape == (32 * factor,) * 3
    predict_job(cfg, spec, CentreIdentity(2, factor), job)
    expected = toy["em"][8:40, 8:40, 8:40]
    for axis in range(3):
        expected = np.repeat(expected, factor, axis=axis)
    got = zarr.open_array(str(tmp_path / "p/toy-1.zarr/crop9/mito/s0"))[:]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("patch,ndim,overlap,blend", [
    ((16, 16, 16), 3, 0.0, "constant"), ((16, 16, 16), 3, 0.5, "gaussian"), ((12, 20, 8), 3, 0.25, "gaussian"),
    ((48, 48, 48), 3, 0.25, "gaussian"),            # window larger than the crop
    ((1, 16, 16), 2, 0.25, "gaussian"),             # orthoplanes
])
def test_identity_model_reproduces_em_exactly(toy, tmp_path, patch, ndim, overlap, blend):
    cfg = PredictConfig(checkpoint=tmp_path / "none.pt", data_root=toy["data_root"], manifest=toy["manifest"],
                        output=str(tmp_path / "p/{dataset}.zarr/{crop}"), overlap=overlap, blend=blend,
                        batch_size=3, progress=False)
    spec = _spec(ndim, patch)
    (job,) = plan_jobs(cfg, spec)
    assert job.shape == (32, 32, 32) and job.translation == (64.0, 64.0, 64.0)
    model = Identity(2)
    predict_job(cfg, spec, model, job)
    expected = toy["em"][8:40, 8:40, 8:40]
    for c in ("mito", "nuc"):
        group = tmp_path / "p" / "toy-1.zarr" / "crop9" / c
        np.testing.assert_array_equal(zarr.open_array(str(group / "s0"))[:], expected)
        assert _store.is_complete(group)
        (level,) = _store.read_levels(group)
        assert level.voxel_size == (8.0, 8.0, 8.0) and level.translation == (64.0, 64.0, 64.0)


def test_coarser_model_grid_covers_the_crop(toy, tmp_path):
    cfg = PredictConfig(manifest=toy["manifest"], data_root=toy["data_root"], output=str(tmp_path / "{crop}"))
    spec = _spec()
    spec["voxel_size_nm"] = [12.0, 16.0, 16.0]
    (job,) = plan_jobs(cfg, spec)
    # crop: 32 voxels of 8 nm from 60 nm; model grid starts at the same edge and covers it
    assert job.shape == (22, 16, 16)
    np.testing.assert_allclose(job.translation, (66.0, 68.0, 68.0))


def _checkpoint(tmp_path, spec):
    torch.manual_seed(0)
    path = tmp_path / "model.pt"
    ckpt.save({"spec": spec, "model": build_model(spec).state_dict()}, path)
    return path


def test_predict_end_to_end_and_resume(toy, tmp_path, capsys):
    spec = _spec()
    path = _checkpoint(tmp_path, spec)
    out = str(tmp_path / "pred/{dataset}.zarr/{crop}")
    cfg = PredictConfig(checkpoint=path, data_root=toy["data_root"], manifest=toy["manifest"], output=out,
                        progress=False, threads=1, dtype="float16", classes=("nuc",))
    (r,) = predict(cfg)
    assert r["classes"] == ["nuc"] and not r["skipped"]
    arr = zarr.open_array(str(tmp_path / "pred/toy-1.zarr/crop9/nuc/s0"))
    assert arr.dtype == np.float16 and arr.shape == (32, 32, 32)
    assert not (tmp_path / "pred/toy-1.zarr/crop9/mito").exists()
    assert (tmp_path / "pred/toy-1.zarr/crop9/predict.toml").is_file()
    data = arr[:].astype(np.float32)
    assert 0 <= data.min() and data.max() <= 1 and data.std() > 0
    assert predict(cfg)[0]["skipped"]                       # complete: not redone
    from pycsc.cli.main import main

    assert main(["predict", "--checkpoint", str(path), "--data-root", str(toy["data_root"]),
                 "--crops", "all", "--regions", "toy-1:0,0,0:64,64,64", "--output", out,
                 "--shard", "1/2", "--no-progress", "--threads", "1"]) == 0
    assert "2 crops written" in capsys.readouterr().out     # shard 1/2 of [crop1, crop2, region0]
    assert (tmp_path / "pred/toy-1.zarr/crop1/mito/s0").is_dir()
    from pycsc.io.arrays import read_attrs

    assert read_attrs(tmp_path / "pred/toy-1.zarr/crop1/mito")["pycsc"]["target"] == {"kind": "binary",
                                                                                      "channels": [""]}
    assert (tmp_path / "pred/toy-1.zarr/region0/mito/s0").is_dir()
    assert not (tmp_path / "pred/toy-1.zarr/crop2").exists()


def test_plan_errors(toy, tmp_path):
    spec = _spec()
    # no manifest: the official test crops shipped with pycsc (every one scores mito or nuc)
    shipped = plan_jobs(PredictConfig(), spec)
    assert len(shipped) == 16 and {j.target.crop for j in shipped} >= {"crop557", "crop982"}
    with pytest.raises(ConfigError, match="not outputs of the model"):
        plan_jobs(PredictConfig(manifest=toy["manifest"], classes=("er",)), spec)
    with pytest.raises(DataError, match="no local crop"):
        plan_jobs(PredictConfig(data_root=toy["data_root"], crops=("77",)), spec)
    with pytest.raises(ConfigError, match="DATASET:z0"):
        plan_jobs(PredictConfig(crops=(), regions=("toy-1:0,0:1,1",)), spec)
    other = _spec(classes=("er",))
    assert plan_jobs(PredictConfig(manifest=toy["manifest"]), other) == []   # nothing to predict there
    with pytest.raises(DataError, match="does not exist"):
        predict(PredictConfig(checkpoint=tmp_path / "missing.pt", manifest=toy["manifest"]))
