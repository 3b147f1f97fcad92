"""Pipeline configs: TOML sections, command-line overrides, validation messages."""

from pathlib import Path

import pytest

from pycsc.cli._options import config_from_args, load_config
from pycsc.cli.main import build_parser, main
from pycsc.config import DatasplitConfig, DemoConfig, PackConfig, PredictConfig, ProcessConfig, TrainConfig
from pycsc.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name,section,cls", [
    ("3d.toml", "datasplit", DatasplitConfig), ("3d.toml", "train", TrainConfig),
    ("3d.toml", "predict", PredictConfig), ("2d.toml", "datasplit", DatasplitConfig),
    ("2d.toml", "train", TrainConfig), ("2d.toml", "predict", PredictConfig),
    ("process.toml", "process", ProcessConfig), ("process.toml", "pack", PackConfig),
    ("demo.toml", None, DemoConfig)])
def test_shipped_configs_load(name, section, cls):
    cfg = load_config(cls, CONFIGS / name, section)
    assert isinstance(cfg, cls)


def test_2d_config_is_2d_and_3d_is_3d():
    assert load_config(TrainConfig, CONFIGS / "2d.toml", "train").ndim == 2
    assert load_config(TrainConfig, CONFIGS / "3d.toml", "train").patch_shape == (128, 128, 128)


def _write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_unknown_key_names_key_and_file(tmp_path):
    p = _write(tmp_path, "[train]\nclases = ['mito']\n")
    with pytest.raises(ConfigError, match=r"c\.toml \[train\]: unknown key 'clases'"):
        load_config(TrainConfig, p, "train")


def test_unknown_nested_key(tmp_path):
    p = _write(tmp_path, "[train.augment]\nrotate = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'rotate'"):
        load_config(TrainConfig, p, "train")


def test_unknown_section_is_an_error(tmp_path):
    p = _write(tmp_path, "[trian]\nepochs = 3\n[train]\n")
    with pytest.raises(ConfigError, match=r"c\.toml: unknown key 'trian' at the top level"):
        load_config(TrainConfig, p, "train")


def test_missing_section(tmp_path):
    p = _write(tmp_path, "[process]\n")
    with pytest.raises(ConfigError, match=r"has no \[train\] table"):
        load_config(TrainConfig, p, "train")


@pytest.mark.parametrize("text,message", [
    ("[train]\nepochs = 'ten'\n", "`epochs` must be an integer"),
    ("[train]\nndim = 4\n", "`ndim` must be 2 or 3"),
    ("[train]\nndim = 2\npatch_shape = [4, 64, 64]\n", r"must be \(1, y, x\)"),
    ("[train]\npatch_shape = [30, 64, 64]\ndepth = 3\n", "must be divisible by 8"),
    ("[train]\narchitecture = 'resnet'\npatch_shape = [30, 64, 64]\n", "must be divisible by 4"),
    ("[train]\nclasses = []\n", "at least one class"),
    ("[train]\nscheduler = 'linear'\n", "must be one of"),
])
def test_invalid_values(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(TrainConfig, _write(tmp_path, text), "train")


def test_flags_override_file(tmp_path):
    p = _write(tmp_path, "[train]\nepochs = 3\nclasses = ['mito']\n[train.augment]\nrotate_deg = 10.0\n")
    args = build_parser().parse_args(["train", str(p), "--epochs", "5", "--classes", "er", "nuc",
                                      "--augment-noise-std", "0.2", "--no-resume", "--ndim", "2",
                                      "--patch-shape", "1", "64", "64"])
    cfg = config_from_args(args)
    assert cfg.epochs == 5 and cfg.classes == ("er", "nuc") and cfg.resume is False and cfg.ndim == 2
    assert cfg.augment.rotate_deg == 10.0 and cfg.augment.noise_std == 0.2   # file kept, flag added
    assert cfg.patch_shape == (1, 64, 64)


def test_dict_flags_and_optional(tmp_path):
    args = build_parser().parse_args(["process", "--thresholds", "mito=0.7", "nuc=0.3", "--shard", "1/4",
                                      "--min-sizes", "mito=50"])
    cfg = config_from_args(args)
    assert cfg.thresholds == {"mito": 0.7, "nuc": 0.3} and cfg.min_sizes == {"mito": 50} and cfg.shard == "1/4"


@pytest.mark.parametrize("argv,message", [
    (["process", "--shard", "0/4"], "`shard` must look like .i/N. with 1 <= i <= N"),
    (["process", "--thresholds", "mito"], "KEY=VALUE"),
    (["process", "--thresholds", "mito=1.5"], r"probability in \[0, 1\]"),
    (["predict", "--overlap", "1.0"], r"`overlap` must be in \[0, 1\)"),
    (["train", "--epochs", "x"], "must be an integer"),
])
def test_bad_flags_exit_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"csc {argv[0]}: error:") and len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err)


def test_resolved_config_round_trips(tmp_path):
    from pycsc.config import write_resolved

    cfg = load_config(TrainConfig, CONFIGS / "3d.toml", "train")
    path = write_resolved(cfg, tmp_path / "resolved.toml")
    assert load_config(TrainConfig, path, "train") == cfg
    proc = load_config(ProcessConfig, CONFIGS / "process.toml", "process")
    path = write_resolved(proc, tmp_path / "p.toml")
    assert load_config(ProcessConfig, path, "process") == proc
