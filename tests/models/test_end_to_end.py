"""Every registry entry trains 2 steps on the `tiny` preset, is saved, and `csc predict`
rebuilds it from the checkpoint alone and predicts the held-out test crops."""

import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

torch = pytest.importorskip("torch")

from pycsc.config import PredictConfig, TrainConfig  # noqa: E402
from pycsc.errors import ConfigError, DataError  # noqa: E402
from pycsc.predict import predict  # noqa: E402
from pycsc.train import checkpoint as ckpt  # noqa: E402
from pycsc.train import train  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))      # user_nets.py

ENTRIES = [
    ({"name": "unet", "base_channels": 4, "depth": 2}, {}),
    ({"name": "resnet", "base_channels": 4, "n_blocks": 1}, {}),
    ({"name": "vit", "stem_channels": 4, "stem_levels": 1, "embed_dim": 16, "depth": 1, "num_heads": 2}, {}),
    ({"name": "cosem_upsample_unet", "base_channels": 4, "depth": 1},
     {"input_shape": (8, 8, 8), "input_voxel_size_nm": (8.0, 8.0, 8.0), "voxel_size_nm": (4.0, 4.0, 4.0)}),
    ({"name": "user_nets:build", "width": 3}, {}),
    ({"name": "monai.UNet", "channels": (4, 8), "strides": (2,)}, {}),
]


def _train(tiny, out, model, **kw):
    base = dict(datasplit=tiny["datasplit"], data_root=tiny["data_root"], output_dir=out, classes=("mito", "nuc"),
                model=model, patch_shape=(16, 16, 16), batch_size=1, epochs=1, iterations_per_epoch=2,
                num_workers=0, threads=1, validation_batches=0, progress=False, learning_rate=1e-3,
                weighted_sampler=False, augment={"rotate90": False, "transpose": False})
    base.update(kw)
    from pycsc.config import from_mapping

    cfg = from_mapping(TrainConfig, base, "test")
    return cfg, train(cfg)


def _predict(tiny, checkpoint, out, **kw):
    cfg = PredictConfig(checkpoint=checkpoint, data_root=tiny["data_root"], manifest=tiny["manifest"],
                        output=str(out / "{dataset}.zarr/{crop}"), threads=1, progress=False, batch_size=2, **kw)
    results = [r for r in predict(cfg) if not r["skipped"]]
    assert results
    return results


@pytest.mark.parametrize("model,grid", ENTRIES, ids=[m["name"] for m, _ in ENTRIES])
def test_train_save_rebuild_predict(tiny, tmp_path, model, grid):
    if model["name"].startswith("monai."):
        pytest.importorskip("monai")
    cfg, summary = _train(tiny, tmp_path / "run", model, **grid)
    assert summary["steps"] == 2
    state = ckpt.load(summary["latest"])
    assert state["spec"]["model"]["name"] == model["name"]
    results = _predict(tiny, summary["latest"], tmp_path / "pred")
    for r in results:
        for c in r["classes"]:
            arr = zarr.open_array(str(Path(r["output"]) / c / "s0"))[:]
            assert arr.dtype == np.uint8 and arr.shape == tuple(r["shape"])
    if "voxel_size_nm" in grid:            # written on the 4 nm target grid
        from pycsc.data import _store

        r = results[0]
        assert _store.read_levels(Path(r["output"]) / r["classes"][0])[0].voxel_size == (4.0, 4.0, 4.0)


def test_2d_vit_with_orthoplanes(tiny, tmp_path):
    model = {"name": "vit", "stem_channels": 4, "stem_levels": 1, "embed_dim": 16, "depth": 1, "num_heads": 2}
    _, summary = _train(tiny, tmp_path / "run", model, ndim=2, patch_shape=(1, 16, 16))
    assert _predict(tiny, summary["latest"], tmp_path / "pred")


def test_targets_write_channels_and_decoder_attrs(tiny, tmp_path):
    from pycsc.io.arrays import read_attrs

    _, summary = _train(tiny, tmp_path / "run", {"name": "unet", "base_channels": 4, "depth": 1},
                        targets={"mito": {"kind": "sdt", "scale_nm": 40.0}, "nuc": "boundary"},
                        loss={"name": "auto"})
    spec = ckpt.load(summary["latest"])["spec"]
    assert [c["activation"] for c in spec["channels"]] == ["tanh", "sigmoid", "sigmoid"]
    written = {}
    for r in _predict(tiny, summary["latest"], tmp_path / "pred"):
        for c in r["classes"]:
            written[c] = Path(r["output"]) / c
    assert set(written) <= {"mito", "nuc"} and written
    for c, group in written.items():
        arr = zarr.open_array(str(group / "s0"))[:]
        target = read_attrs(group)["pycsc"]["target"]
        if c == "nuc":
            assert arr.ndim == 4 and arr.shape[0] == 2 and target["channels"] == ["fg", "boundary"]
        else:
            assert arr.ndim == 3 and target["kind"] == "sdt" and target["scale_nm"] == 40.0


def test_weights_init_from_early_stopping_and_best_k(tiny, tmp_path):
    model = {"name": "unet", "base_channels": 4, "depth": 1}
    _, first = _train(tiny, tmp_path / "a", model)
    # fine-tune onto swapped classes: the output rows follow the channel map
    cfg, summary = _train(tiny, tmp_path / "b", model, classes=("nuc", "mito"), init_from=first["latest"],
                          weights_channel_map={"nuc": "nuc", "mito": "mito"}, learning_rate=1e-12,
                          optimizer={"name": "SGD"}, epochs=3, iterations_per_epoch=1, keep_best=2,
                          early_stopping_patience=1)
    a, b = ckpt.load(first["latest"])["model"], ckpt.load(summary["latest"])["model"]
    assert torch.allclose(a["outc.weight"][0], b["outc.weight"][1], atol=1e-6)
    assert torch.allclose(a["inc.0.weight"], b["inc.0.weight"], atol=1e-6)
    assert len(summary["best_k"]) <= 2
    assert all((Path(cfg.output_dir) / "checkpoints" / n).is_file() for n in summary["best_k"])
    assert summary["stopped_early"] == (summary["steps"] < 3)
    with pytest.raises(ConfigError, match="`init_from` .* holds model"):
        _train(tiny, tmp_path / "c", {"name": "unet", "base_channels": 8, "depth": 1}, init_from=first["latest"])


def test_checkpoint_of_another_model_is_one_line(tiny, tmp_path):
    _, summary = _train(tiny, tmp_path / "a", {"name": "unet", "base_channels": 4, "depth": 1})
    state = ckpt.load(summary["latest"])
    state["spec"]["model"] = {"name": "resnet", "kwargs": {"base_channels": 4, "n_blocks": 1}}
    ckpt.save(state, tmp_path / "lying.pt")
    with pytest.raises(DataError, match=r"does not fit the model its spec names .*resnet") as info:
        _predict(tiny, tmp_path / "lying.pt", tmp_path / "pred")
    assert "\n" not in str(info.value)


def test_cli_toml_model_table_flags_and_datasplit_table(tiny, tmp_path):
    """`csc train` reads [train.model]/[train.loss]/[train.scheduler], merges --model flags into the
    table, and makes a missing datasplit with the file's [datasplit] table."""
    from pycsc.cli.main import main
    from pycsc.data.datasplit import read_datasplit

    split = tmp_path / "split.csv"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""[datasplit]
data_root = "{tiny['data_root']}"
output = "ignored.csv"
classes = ["nuc"]
validation_fraction = 0.0

[train]
datasplit = "{split}"
data_root = "{tiny['data_root']}"
output_dir = "{tmp_path / 'run'}"
classes = ["mito", "nuc"]
patch_shape = [16, 16, 16]
batch_size = 1
epochs = 1
iterations_per_epoch = 2
num_workers = 0
threads = 1
validation_batches = 0
progress = false

[train.model]
name = "unet"
base_channels = 8
depth = 1

[train.loss]
name = "bce+dice"

[train.scheduler]
name = "PolynomialLR"
warmup_steps = 1
""")
    assert main(["train", str(cfg), "--model", "base_channels=4"]) == 0
    assert {r.classes for r in read_datasplit(split)} == {("nuc",)}       # the [datasplit] table's classes
    spec = ckpt.load(tmp_path / "run" / "checkpoints" / "latest.pt")["spec"]
    assert spec["model"] == {"name": "unet", "kwargs": {"base_channels": 4, "depth": 1}}
