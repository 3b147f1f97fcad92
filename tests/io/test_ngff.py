"""OME-NGFF metadata: round trips, the 0.5 variant, golden files written by the official stack."""

import json
from pathlib import Path

import numpy as np
import pytest
import zarr

from pycsc.errors import DataError
from pycsc.io.ngff import (Multiscale, ScaleLevel, parse_multiscales, pyramid, read_multiscale, to_attrs,
                           write_multiscale)

GOLDEN = Path("/work/shared/golden")


def test_pyramid_round_trips_through_attrs():
    ms = pyramid((2.62, 2, 2), (-1.31, -1, -1), 5)
    again = parse_multiscales(json.loads(json.dumps(to_attrs(ms))))
    assert again == ms
    assert again.levels[2].voxel_size == pytest.approx((10.48, 8, 8))
    assert again.finest().path == "s0"


def test_spec_example_layout():
    attrs = to_attrs(pyramid((4, 4, 4), (2, 2, 2), 2))
    entry = attrs["multiscales"][0]
    assert entry["version"] == "0.4"
    assert [a["name"] for a in entry["axes"]] == ["z", "y", "x"]
    assert all(a["unit"] == "nanometer" and a["type"] == "space" for a in entry["axes"])
    assert entry["datasets"][1] == {"path": "s1", "coordinateTransformations": [
        {"type": "scale", "scale": [8.0, 8.0, 8.0]},
        {"type": "translation", "translation": [4.0, 4.0, 4.0]}]}


def test_ome_05_with_channel_axis_and_global_scale():
    attrs = {"ome": {"version": "0.5", "multiscales": [{
        "axes": [{"name": "c", "type": "channel"}, {"name": "z", "type": "space"},
                 {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "coordinateTransformations": [{"type": "scale", "scale": [1, 2, 2, 2]}],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1, 1, 2, 3]}, {"type": "translation", "translation": [0, 5, 6, 7]}]}]}]}}
    ms = parse_multiscales(attrs)
    assert ms.axes == ("z", "y", "x")
    assert ms.levels == (ScaleLevel("0", (2.0, 4.0, 6.0), (10.0, 12.0, 14.0)),)


@pytest.mark.parametrize("attrs", [{}, {"multiscales": []}, {"multiscales": [{"datasets": []}]},
                                   {"multiscales": [{"datasets": [{"path": "s0"}]}]}])
def test_bad_metadata_raises(attrs):
    with pytest.raises(DataError):
        parse_multiscales(attrs, "somewhere")


def test_golden_multiscale_submission_groups():
    group = GOLDEN / "g11_multiscale_groups/submission.zarr/crop117/perox"
    if not group.exists():
        pytest.skip("golden cases not available")
    raw = json.loads((group / ".zattrs").read_text())["multiscales"][0]
    ms = read_multiscale(group)
    assert [lv.path for lv in ms.levels] == [d["path"] for d in raw["datasets"]]
    for lv, d in zip(ms.levels, raw["datasets"]):
        t = {c["type"]: c[c["type"]] for c in d["coordinateTransformations"]}
        assert lv.voxel_size == tuple(t["scale"]) and lv.translation == tuple(t["translation"])


def test_write_multiscale_is_read_by_zarr_python(tmp_path):
    rng = np.random.default_rng(0)
    levels = [rng.integers(0, 255, (9, 10, 11), dtype=np.uint8), rng.integers(0, 255, (4, 5, 5), dtype=np.uint8)]
    ms = pyramid((8, 8, 8), (4, 4, 4), 2)
    write_multiscale(tmp_path / "g", levels, ms, chunks=(4, 4, 4), extra_attrs={"note": 1})
    group = zarr.open_group(str(tmp_path / "g"), mode="r")
    assert group.attrs["note"] == 1
    assert parse_multiscales(dict(group.attrs)) == ms
    for data, lv in zip(levels, ms.levels):
        np.testing.assert_array_equal(group[lv.path][:], data)
    meta = json.loads((tmp_path / "g/s0/.zarray").read_text())
    assert meta["dimension_separator"] == "/" and meta["zarr_format"] == 2
    with pytest.raises(DataError, match="levels"):
        write_multiscale(tmp_path / "h", levels[:1], ms, chunks=(4, 4, 4))


def test_level_lookup():
    ms = Multiscale((ScaleLevel("s0", (1.0,) * 3, (0.0,) * 3),))
    assert ms.level("s0").voxel_size == (1.0, 1.0, 1.0)
    with pytest.raises(DataError, match="s1"):
        ms.level("s1")
