"""The official command lines (README, FAQ, the option tables of spec/cli.md) parse with our
parser and map onto the right pycsc call; comma-separated lists work wherever a list is."""

import shlex
from pathlib import Path

import pytest

from pycsc.cli import aliases
from pycsc.cli._options import config_from_args
from pycsc.cli.main import build_parser, main
from pycsc.config import DatasplitConfig, PackConfig, TrainConfig
from pycsc.errors import ConfigError

FETCH = ["--raw-padding", "0", "--dest", "data", "--workers", "32"]

# (official command line, the pycsc command line it must run)
OFFICIAL = [
    ("csc fetch-data", ["fetch", "--crops", "all", *FETCH]),                                   # README
    ("csc fetch-data --raw-padding 128",                                                        # FAQ
     ["fetch", "--crops", "all", "--raw-padding", "128", "--dest", "data", "--workers", "32"]),
    ("csc fetch-data --fetch-all-em-resolutions --raw-padding 128",                             # README sizes
     ["fetch", "--crops", "all", "--raw-padding", "128", "--dest", "data", "--workers", "32", "--all-resolutions"]),
    ("csc fetch-data -c 116,118 -p 64 -d /scratch/data -w 16 -b 128",
     ["fetch", "--crops", "116,118", "--raw-padding", "64", "--dest", "/scratch/data", "--workers", "16"]),
    ("csc fetch-data --crops test", ["fetch", "--crops", "test", *FETCH]),
    ("csc fetch-data --zip --raw-padding 128 -all-res",
     ["fetch", "--crops", "all", "--raw-padding", "128", "--dest", "data", "--workers", "32",
      "--all-resolutions", "--zip"]),
    ("csc fetch-data --access-mode overwrite", ["fetch", "--crops", "all", *FETCH, "--verify"]),
    ("csc make-datasplit -c mito,nuc -s 6.0 6.0 6.0",                                           # FAQ
     ["datasplit", "--classes", "mito", "nuc", "--validation-fraction", "0.1", "--force-all-classes", "no",
      "--raw-name", "em/fibsem-uint8", "--output", "datasplit.csv", "--datasets", "*", "--crops", "*",
      "--max-voxel-size-nm", "6.0", "6.0", "6.0", "--data-root", "data"]),
    ("csc make-datasplit -c nuc,er -s 8 -fa -vr 0.2 -cp split.csv",
     ["datasplit", "--classes", "nuc", "er", "--validation-fraction", "0.2", "--force-all-classes", "all",
      "--raw-name", "em/fibsem-uint8", "--output", "split.csv", "--datasets", "*", "--crops", "*",
      "--max-voxel-size-nm", "8", "--data-root", "data"]),
    ("csc make-datasplit -s3 -c mito -ft -ds jrc_cos7-1a,jrc_hela-2 -cr crop234,crop236 -s 8,8,8",
     ["datasplit", "--classes", "mito", "--validation-fraction", "0.1", "--force-all-classes", "train",
      "--raw-name", "em/fibsem-uint8", "--output", "datasplit.csv", "--datasets", "jrc_cos7-1a", "jrc_hela-2",
      "--crops", "crop234", "crop236", "--max-voxel-size-nm", "8", "8", "8", "--s3"]),
    ("csc make-datasplit -ft -fv --search_path /d/{dataset}/{dataset}.zarr/recon-1/{name}",
     ["datasplit", "--classes", "nuc", "er", "--validation-fraction", "0.1", "--force-all-classes", "all",
      "--raw-name", "em/fibsem-uint8", "--output", "datasplit.csv", "--datasets", "*", "--crops", "*",
      "--data-root", "/d"]),
    ("csc pack-results", ["pack", "--input", "data/processed/{dataset}.zarr/{crop}", "--output", "data/submission.zip"]),
    ("csc pack-results -i out/{dataset}.zarr/{crop} -o sub/final.zarr -O -w 8",
     ["pack", "--input", "out/{dataset}.zarr/{crop}", "--output", "sub/final.zip", "--overwrite"]),
    ("csc pack-results --input_search_path p/{dataset}/{crop} --output_path s.zarr",
     ["pack", "--input", "p/{dataset}/{crop}", "--output", "s.zip"]),
]


@pytest.mark.parametrize("line,expected", OFFICIAL, ids=[t[0] for t in OFFICIAL])
def test_official_line_maps_to_pycsc(line, expected):
    argv = shlex.split(line)[1:]
    assert aliases.translate(argv) == expected
    build_parser().parse_args(expected)           # and the pycsc line is valid for our parser


def test_faq_datasplit_line_resolves_to_the_right_config():
    args = build_parser().parse_args(aliases.translate(shlex.split("make-datasplit -c mito,nuc -s 6.0 6.0 6.0")))
    cfg = config_from_args(args)
    assert isinstance(cfg, DatasplitConfig)
    assert cfg.classes == ("mito", "nuc") and cfg.max_voxel_size_nm == (6.0, 6.0, 6.0)
    assert cfg.validation_fraction == 0.1 and str(cfg.data_root) == "data"


def test_pack_results_resolves_to_pack_config():
    args = build_parser().parse_args(aliases.translate(["pack-results", "-O", "--manifest", "m.csv"]))
    cfg = config_from_args(args)
    assert isinstance(cfg, PackConfig) and cfg.overwrite and cfg.output == Path("data/submission.zip")


@pytest.mark.parametrize("line,message", [
    ("make-datasplit -s 1 2", "one value or three"),
    ("make-datasplit -sp data/{dataset}/raw", "public layout"),
    ("make-datasplit -cn labels/{crop}/{label}", "crops at"),
    ("get-counts", "no single pycsc command line"),
])
def test_unsupported_official_values_are_clear(line, message):
    with pytest.raises(ConfigError, match=message):
        aliases.translate(shlex.split(line))


def test_comma_lists_wherever_a_list_is(tmp_path):
    args = build_parser().parse_args(["train", "--classes", "mito,nuc", "er", "--patch-shape", "32,32,32",
                                      "--augment-mirror", "y,x"])
    cfg = config_from_args(args)
    assert isinstance(cfg, TrainConfig)
    assert cfg.classes == ("mito", "nuc", "er") and cfg.patch_shape == (32, 32, 32)
    assert cfg.augment.mirror == ("y", "x")
    args = build_parser().parse_args(["predict", "--regions", "ds:0,0,0:8,8,8", "--crops", "1,2"])
    cfg = config_from_args(args)
    assert cfg.regions == ("ds:0,0,0:8,8,8",) and cfg.crops == ("1", "2")   # a region keeps its commas


def test_help_names_the_pycsc_command(capsys):
    for name, (target, *_rest) in aliases.ALIASES.items():
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert f"csc {target}" in capsys.readouterr().out


def test_get_counts_and_make_datasplit_on_local_data(tmp_path, monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("toy", Path(__file__).parents[1] / "data" / "_toy.py")
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)
    info = toy.build_toy(tmp_path / "t")
    monkeypatch.chdir(tmp_path / "t")
    assert main(["get-counts", "-c", "mito,nuc,er"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == [info["dataset"], "2", "2", "0"] and out[-1].split() == ["total", "2", "2", "0"]
    assert main(["make-datasplit", "-c", "mito,nuc", "-vr", "0.5"]) == 0
    lines = (tmp_path / "t" / "datasplit.csv").read_text().splitlines()
    assert len(lines) == 2 and all(line.endswith('/[mito,nuc]"') for line in lines)


def test_batch_eval_rows_and_cluster_without_bsub(tmp_path, monkeypatch):
    csv_path = tmp_path / "evals.csv"
    csv_path.write_text("data_path,evaluation_id\nsubs/a.zip,run1\nsubs/b.zip,run2\n")
    args = build_parser().parse_args(["batch-eval", "-c", str(csv_path), "-n", "4"])
    rows = aliases.batch_rows(csv_path)
    assert rows == [("subs/a.zip", "run1"), ("subs/b.zip", "run2")]
    assert aliases.evaluate_argv(args, *rows[0]) == [
        "evaluate", "subs/a.zip", "--truth", "data/ground_truth.zarr", "--output", "subs/eval_run1.results",
        "--workers", "4"]
    build_parser().parse_args(aliases.evaluate_argv(args, *rows[0]))
    monkeypatch.setenv("PATH", str(tmp_path))        # no bsub anywhere
    assert main(["batch-eval", "-c", str(csv_path), "--cluster"]) == 2
    csv_path.write_text("path,id\n")
    assert main(["batch-eval", "-c", str(csv_path)]) == 2
