"""The datasplit CSV: official format, filters, usage rules."""

import csv

import pytest

from pycsc.config import DatasplitConfig
from pycsc.data import make_datasplit, read_datasplit
from pycsc.errors import DataError


def _cfg(toy, tmp_path, **kw):
    return DatasplitConfig(data_root=toy["data_root"], output=tmp_path / "split.csv", **kw)


def test_official_format(toy, tmp_path):
    rows = make_datasplit(_cfg(toy, tmp_path, classes=("mito", "nuc"), validation_fraction=0.5))
    text = (tmp_path / "split.csv").read_text().splitlines()
    assert len(text) == 2 and all(line.startswith('"') and line.count('"') == 10 for line in text)
    for rec, row in zip(csv.reader(text), rows):
        # the official reader: columns 0-4, raw = join(1, 2), gt = join(3, 4)
        assert rec[0] in ("train", "validate") and rec[2] == "recon-1/em/fibsem-uint8"
        assert rec[1].endswith("toy-1/toy-1.zarr") and rec[1] == rec[3]
        assert rec[4].startswith("recon-1/labels/groundtruth/crop") and rec[4].endswith("/[mito,nuc]")
    assert {r.usage for r in rows} == {"train", "validate"}   # both usages with two crops
    assert read_datasplit(tmp_path / "split.csv") == rows


def test_class_filter_and_order(toy, tmp_path):
    rows = make_datasplit(_cfg(toy, tmp_path, classes=("nuc", "er")))
    assert all(r.classes == ("nuc",) for r in rows)


def test_scale_filter(toy, tmp_path):
    with pytest.raises(DataError, match="no crop"):
        make_datasplit(_cfg(toy, tmp_path, classes=("mito",), max_voxel_size_nm=(4.0,)))
    assert len(make_datasplit(_cfg(toy, tmp_path, classes=("mito",), max_voxel_size_nm=(8.0, 8.0, 8.0)))) == 2


def test_crop_patterns(toy, tmp_path):
    rows = make_datasplit(_cfg(toy, tmp_path, classes=("mito",), crops=("crop2",)))
    assert [r.crop.rsplit("/", 1)[1] for r in rows] == ["crop2"]


def test_empty_crop_filter(toy, tmp_path):
    # empty one crop's classes: the filter drops it, the default keeps it
    import zarr

    crop = toy["data_root"] / "toy-1" / "toy-1.zarr" / "recon-1" / "labels" / "groundtruth" / "crop2"
    saved = {}
    for c in ("mito", "nuc"):
        arr = zarr.open_array(str(crop / c / "s0"), mode="r+")
        saved[c] = arr[:]
        arr[:] = 0
    try:
        kept = make_datasplit(_cfg(toy, tmp_path, classes=("mito", "nuc"), skip_empty_crops=True))
        assert [r.crop.rsplit("/", 1)[1] for r in kept] == ["crop1"]
        assert len(make_datasplit(_cfg(toy, tmp_path, classes=("mito", "nuc")))) == 2
    finally:
        for c, data in saved.items():
            zarr.open_array(str(crop / c / "s0"), mode="r+")[:] = data


@pytest.mark.parametrize("force,usage", [("train", "validate"), ("validate", "train")])
def test_force_all_classes_moves_incomplete_crops(toy, tmp_path, force, usage):
    # 'er' exists nowhere, so every crop is incomplete and must avoid the forced usage
    rows = make_datasplit(_cfg(toy, tmp_path, classes=("mito", "er"), force_all_classes=force,
                               validation_fraction=0.0 if usage == "validate" else 1.0))
    assert {r.usage for r in rows} == {usage}


def test_force_all_drops(toy, tmp_path):
    with pytest.raises(DataError):
        make_datasplit(_cfg(toy, tmp_path, classes=("mito", "er"), force_all_classes="all"))


def test_seeded(toy, tmp_path):
    a = make_datasplit(_cfg(toy, tmp_path, classes=("mito",), seed=3, validation_fraction=0.5))
    b = make_datasplit(_cfg(toy, tmp_path, classes=("mito",), seed=3, validation_fraction=0.5))
    assert a == b


def test_bad_csv(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text('"train","a","b"\n')
    with pytest.raises(DataError, match="expected 5 quoted fields"):
        read_datasplit(p)
    with pytest.raises(DataError, match="does not exist"):
        read_datasplit(tmp_path / "nope.csv")


def test_cli(toy, tmp_path, capsys):
    from pycsc.cli.main import main

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[datasplit]\ndata_root = "{toy["data_root"]}"\nclasses = ["mito"]\n')
    assert main(["datasplit", str(cfg), "--output", str(tmp_path / "o.csv")]) == 0
    assert "2 crops" in capsys.readouterr().out
    assert len(read_datasplit(tmp_path / "o.csv")) == 2
