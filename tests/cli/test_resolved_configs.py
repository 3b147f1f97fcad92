"""A resolved config written next to an output is a config: `csc <command> <it>` reruns it."""

import dataclasses
from pathlib import Path

import pytest

from pycsc import config
from pycsc.cli.main import build_parser
from pycsc.cli._options import config_from_args
from pycsc.eval.config import EvaluateConfig

# Each pipeline command with a config that differs from its defaults in every kind of field:
# scalars, Optional, tuples, dicts (sub-tables) and nested dataclasses.
PIPELINE = {
    "datasplit": config.DatasplitConfig(classes=("mito", "er"), validation_fraction=0.3,
                                        max_voxel_size_nm=(8.0, 8.0, 8.0)),
    "train": config.TrainConfig(classes=("mito", "nuc"), batch_size=3, max_grad_norm=2.5,
                                augment=config.AugmentConfig(mirror=("x",), rotate_deg=30.0)),
    "predict": config.PredictConfig(crops=("234", "236"), batch_size=2, overlap=0.5,
                                    manifest=Path("m.csv"), shard="2/3"),
    "process": config.ProcessConfig(thresholds={"mito": 0.6, "cell": 0.4}, min_sizes={"nuc": 500},
                                    threshold=0.45, block_shape=(64, 64, 64)),
    "pack": config.PackConfig(manifest=Path("data/test crop manifest.csv"), missing="empty"),
}


@pytest.mark.parametrize("command", sorted(PIPELINE))
def test_pipeline_config_reruns_from_its_resolved_file(tmp_path, command):
    cfg = PIPELINE[command]
    path = config.write_resolved(cfg, tmp_path / f"{command}.toml")
    assert f"[{command}]" in path.read_text()
    args = build_parser().parse_args([command, str(path)])
    assert config_from_args(args) == cfg


@pytest.mark.parametrize("cfg", [
    EvaluateConfig(truth=Path("gt.zarr"), workers=3),
    config.SimulateConfig(),
    config.FetchConfig(),
    config.DemoConfig(classes=("mito",), iterations=7),
], ids=lambda c: type(c).__name__)
def test_flat_config_reruns_from_its_resolved_file(tmp_path, cfg):
    path = config.write_resolved(cfg, tmp_path / "resolved.toml")
    assert config.resolve(type(cfg), path) == cfg


def test_demo_command_reads_its_resolved_file(tmp_path):
    cfg = config.DemoConfig(classes=("mito", "cell"), iterations=5, workdir=tmp_path / "w")
    path = config.write_resolved(cfg, tmp_path / "demo.toml")
    assert config_from_args(build_parser().parse_args(["demo", str(path)])) == cfg


def test_resolved_strings_with_quotes_and_backslashes_survive(tmp_path):
    cfg = config.PredictConfig(output='out/"odd"\\name/{crop}')
    path = config.write_resolved(cfg, tmp_path / "p.toml")
    assert config_from_args(build_parser().parse_args(["predict", str(path)])).output == cfg.output


def test_every_field_of_a_pipeline_config_is_written(tmp_path):
    cfg = PIPELINE["train"]
    text = config.write_resolved(cfg, tmp_path / "t.toml").read_text()
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            assert f"\n[train.{f.name}]\n" in text, f.name
        else:
            assert f"\n{f.name} = " in text, f.name
