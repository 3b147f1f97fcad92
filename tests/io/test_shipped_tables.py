"""The official tables shipped as package data: identical to the project's copies, and
read by the loaders every command uses by default."""

import filecmp
from pathlib import Path

import pytest

from pycsc.io.classes import CLASS_IDS, GROUP_MEMBERS, INSTANCE_CLASSES, TESTED_CLASSES
from pycsc.io.manifest import (SHIPPED_TABLES, TEST_MANIFEST_ENV, load_test_manifest, shipped_table,
                               resolve_test_manifest, write_manifest_csv)

OFFICIAL = Path("/work/shared/data/official")


def test_shipped_manifest_loads_413_rows_of_known_classes():
    rows = load_test_manifest()
    assert len(rows) == 413
    assert len({r.crop_id for r in rows}) == 16
    assert {r.class_label for r in rows} <= set(TESTED_CLASSES)
    assert sum(r.class_label in INSTANCE_CLASSES for r in rows) == 100   # data.md section 8
    assert all(len(r.voxel_size) == len(r.translation) == len(r.shape) == 3 for r in rows)


def test_class_table_agrees_with_the_shipped_csv():
    for line in shipped_table("classes.csv").read_text().splitlines():
        name, cid, members = line.split(",", 2)
        assert CLASS_IDS[name] == int(cid)
        ids = tuple(int(v) for v in members.strip('"').split(",") if v)
        assert GROUP_MEMBERS.get(int(cid), ()) == ids
    tested = [n for n in shipped_table("tested_classes.csv").read_text().split() if n]
    assert tuple(tested) == TESTED_CLASSES


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason="the project's shared folder is not here")
@pytest.mark.parametrize("name", SHIPPED_TABLES)
def test_tables_are_unchanged_copies(name):
    assert filecmp.cmp(shipped_table(name), OFFICIAL / name, shallow=False)


def test_path_and_environment_override(tmp_path, monkeypatch):
    mine = write_manifest_csv(load_test_manifest()[:3], tmp_path / "mine.csv")
    monkeypatch.delenv(TEST_MANIFEST_ENV, raising=False)
    assert resolve_test_manifest() == shipped_table("test_crop_manifest.csv")
    assert len(load_test_manifest(mine)) == 3
    monkeypatch.setenv(TEST_MANIFEST_ENV, str(mine))
    assert len(load_test_manifest()) == 3
    assert resolve_test_manifest(tmp_path / "x.csv") == tmp_path / "x.csv"     # a path wins over the variable
