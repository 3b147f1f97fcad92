"""Every pipeline command through the command line, chained on the toy dataset."""

import zipfile

import pytest

pytest.importorskip("torch")

from pycsc.cli.main import main  # noqa: E402


def test_datasplit_train_predict_process_pack_evaluate(toy, tmp_path, capsys):
    cfg = tmp_path / "pipeline.toml"
    cfg.write_text(f"""
[datasplit]
data_root = "{toy['data_root']}"
output = "{tmp_path / 'split.csv'}"
classes = ["mito", "nuc"]
validation_fraction = 0.5

[train]
datasplit = "{tmp_path / 'split.csv'}"
output_dir = "{tmp_path / 'run'}"
classes = ["mito", "nuc"]
patch_shape = [16, 16, 16]
base_channels = 4
depth = 2
batch_size = 2
epochs = 1
iterations_per_epoch = 2
num_workers = 0
threads = 1
progress = false

[predict]
checkpoint = "{tmp_path / 'run' / 'checkpoints' / 'latest.pt'}"
data_root = "{toy['data_root']}"
manifest = "{toy['manifest']}"
output = "{tmp_path}/pred/{{dataset}}.zarr/{{crop}}"
threads = 1
progress = false

[process]
input = "{tmp_path}/pred/{{dataset}}.zarr/{{crop}}"
output = "{tmp_path}/proc/{{dataset}}.zarr/{{crop}}"
manifest = "{toy['manifest']}"
block_shape = [16, 16, 16]

[pack]
input = "{tmp_path}/proc/{{dataset}}.zarr/{{crop}}"
manifest = "{toy['manifest']}"
output = "{tmp_path / 'submission.zip'}"
""")
    for command in ("datasplit", "train", "predict", "process", "pack"):
        assert main([command, str(cfg)]) == 0, command
    assert main(["evaluate", str(tmp_path / "submission.zip"), "--truth", str(toy["truth"]),
                 "--manifest", str(toy["manifest"]), "--output", str(tmp_path / "results.json"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 crops (1 train, 1 validate)" in out and "1 crops written" in out
    assert "2 volumes written" in out and "2 arrays in 1 crops" in out
    names = zipfile.ZipFile(tmp_path / "submission.zip").namelist()
    assert {"crop9/mito/.zarray", "crop9/nuc/.zarray"} <= set(names)
    assert (tmp_path / "run" / "train.toml").is_file() and (tmp_path / "submission.pack.toml").is_file()
    import json

    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["label_scores"]) == {"mito", "nuc"} and "overall_score" in results
