"""The test-crop manifest CSV."""

from __future__ import annotations

import pytest

from pycsc.errors import DataError
from pycsc.eval.manifest import CropGeometry, InvalidGeometry, crop_id, load_manifest, parse_manifest

HEADER = "crop_name,dataset,class_label,voxel_size,translation,shape\n"


def test_parse_and_last_row_wins():
    m = parse_manifest(HEADER + "104,ds,ves,[1.74;2.0;2.0],[23837.13;7599.0;35999.0],[96;80;80]\n"
                       "104,ds,ves,[1.74;2.0;2.0],[0;0;0],[96;80;80]\n7,ds,mito,[8;8;8],[0;0;0],[1;2;3]\n")
    assert len(m) == 2 and m[(104, "ves")].translation == (0.0, 0.0, 0.0)
    assert m[(104, "ves")].voxel_size == (1.74, 2.0, 2.0) and m[(7, "mito")].num_voxels == 6


@pytest.mark.parametrize("text, match", [("", "empty"), ("a,b\n", "header")])
def test_bad_manifest_files(text, match):
    with pytest.raises(DataError, match=match):
        parse_manifest(text)


@pytest.mark.parametrize("row, match", [
    ("1,ds,m,8;8;8,[0;0;0],[1;1;1]", "bracketed"), ("1,ds,m,[8;8],[0;0;0],[1;1;1]", "3 values"),
    ("1,ds,m,[8;0;8],[0;0;0],[1;1;1]", "> 0"), ("1,ds,m,[8;nan;8],[0;0;0],[1;1;1]", "> 0"),
    ("1,ds,m,[8;8;8],[0;inf;0],[1;1;1]", "translations must be finite"),
    ("1,ds,m,[8;8;8],[0;0;0],[1;0;1]", "> 0"), ("1,ds,m,[8;8;8],[0;0;0]", "6 comma-separated"),
    ("1,ds,m,[8;8;8],[0;0;0],[1;1.5;1]", "not a list of ints"),
])
def test_bad_row_is_an_invalid_geometry_for_its_label_only(row, match):
    m = parse_manifest(HEADER + row + "\n2,ds,m,[8;8;8],[0;0;0],[1;1;1]\n", "m.csv")
    assert isinstance(m[(1, "m")], InvalidGeometry) and match in m[(1, "m")].reason
    assert "m.csv line 2" in m[(1, "m")].reason
    assert m[(2, "m")] == CropGeometry((8.0,) * 3, (0.0,) * 3, (1, 1, 1))


def test_row_without_crop_id_describes_no_label():
    assert parse_manifest(HEADER + "x,ds,m,[8;8;8],[0;0;0],[1;1;1]\n") == {}


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_manifest(tmp_path / "none.csv")


def test_crop_id():
    assert crop_id("crop104") == 104 and crop_id("104") == 104 and crop_id("volume_1") is None
