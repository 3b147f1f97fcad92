"""Manifest CSV/Parquet: the official format, checked on the golden manifests."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pycsc.errors import DataError
from pycsc.io.manifest import (CropRow, merge_by_crop, read_manifest, read_manifest_csv, write_manifest_csv,
                               write_manifest_parquet)

GOLDEN = Path("/work/shared/golden")


def _official_parse(path):
    """The official toolbox's parser: split lines and cells on ',' and vectors on ';'."""
    lines = Path(path).read_text().splitlines()[1:]
    out = []
    for line in lines:
        c = line.split(",")
        vec = lambda s, k: tuple(k(v) for v in s.strip("[]").split(";"))  # noqa: E731
        out.append((int(c[0]), c[1], c[2], vec(c[3], float), vec(c[4], float), vec(c[5], int)))
    return out


def _as_tuple(r: CropRow):
    return (r.crop_id, r.dataset, r.class_label, r.voxel_size, r.translation, r.shape)


def test_golden_manifests_parse_like_the_official_parser():
    files = sorted(GOLDEN.glob("*/manifest.csv"))
    if not files:
        pytest.skip("golden cases not available")
    for f in files:
        assert [_as_tuple(r) for r in read_manifest_csv(f)] == _official_parse(f)


def test_csv_and_parquet_round_trip(tmp_path):
    rows = [CropRow(557, "jrc_ctl-id8-1", "mito", (1.74, 2.0, 2.0), (23837.13, 7599.0, 35999.0), (96, 80, 80)),
            CropRow(12, "jrc_sim-1", "nuc", (8.0, 8.0, 8.0), (-1.0, 0.0, 4.0), (1, 2, 3))]
    csv = write_manifest_csv(rows, tmp_path / "m.csv")
    assert csv.read_text().splitlines()[1] == "557,jrc_ctl-id8-1,mito,[1.74;2.0;2.0],[23837.13;7599.0;35999.0],[96;80;80]"
    assert _official_parse(csv) == [_as_tuple(r) for r in rows]
    assert read_manifest(csv) == rows
    pqt = write_manifest_parquet(rows, tmp_path / "m.parquet")
    assert read_manifest(pqt) == rows
    table = pq.read_table(str(pqt))
    import pyarrow as pa
    shape_type = table.schema.field("shape").type
    assert pa.types.is_list(shape_type) and shape_type.value_type == pa.int64()
    assert table.column("crop_name").to_pylist() == [557, 12]


def test_merge_by_crop_takes_min_voxel_and_translation_max_shape():
    rows = [CropRow(1, "d", "a", (4.0, 4.0, 4.0), (10.0, 20.0, 30.0), (5, 5, 5)),
            CropRow(1, "d", "b", (2.0, 8.0, 4.0), (12.0, 18.0, 30.0), (4, 9, 5)),
            CropRow(2, "d", "a", (8.0, 8.0, 8.0), (0.0, 0.0, 0.0), (1, 1, 1))]
    merged = merge_by_crop(rows)
    assert merged[1] == CropRow(1, "d", "test", (2.0, 4.0, 4.0), (10.0, 18.0, 30.0), (5, 9, 5))
    assert merged[2].shape == (1, 1, 1)


@pytest.mark.parametrize("text", ["a,b\n", "crop_name,dataset,class_label,voxel_size,translation,shape\n1,d,c,[1;1;1],[0;0],x\n",
                                  "crop_name,dataset,class_label,voxel_size,translation,shape\nx,d,c,[1;1;1],[0;0;0],[1;1;1]\n",
                                  "crop_name,dataset,class_label,voxel_size,translation,shape\n1,d,c,[1;1;1]\n"])
def test_bad_csv_raises(tmp_path, text):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(DataError):
        read_manifest_csv(tmp_path / "m.csv")
    with pytest.raises(DataError, match="does not exist"):
        read_manifest_csv(tmp_path / "none.csv")
