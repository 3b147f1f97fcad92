"""What `csc visualize` finds on disk, and where it places it (no browser, no neuroglancer needed).

Geometry is checked against the files themselves: the OME-NGFF ``.zattrs`` JSON, the
manifest CSV and the submission arrays' attributes, read here with json/csv/zarr directly.
"""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from pycsc.errors import ConfigError, DataError
from pycsc.viz import VisualizeConfig, build_scene


def _ngff(group: Path, level: str = "s0"):
    doc = json.loads((group / ".zattrs").read_text())["multiscales"][0]
    ds = next(d for d in doc["datasets"] if d["path"] == level)
    t = {c["type"]: c[c["type"]] for c in ds["coordinateTransformations"]}
    return tuple(t["scale"]), tuple(t["translation"])


def _manifest_boxes(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    boxes = {}
    with open(path) as fh:
        for row in csv.DictReader(fh):
            vec = lambda key: np.array([float(v) for v in row[key].strip("[]").split(";")])  # noqa: E731
            lower = vec("translation") - vec("voxel_size") / 2
            upper = lower + vec("shape") * vec("voxel_size")
            name = f"crop{row['crop_name']}"
            if name in boxes:
                lower, upper = np.minimum(boxes[name][0], lower), np.maximum(boxes[name][1], upper)
            boxes[name] = (lower, upper)
    return boxes


def test_ground_truth_and_em_placed_by_their_ngff_metadata(sim_root):
    scene = build_scene(VisualizeConfig(data_root=sim_root, datasets=("jrc_sim-1",), crops=("1", "crop2"),
                                        classes=("mito",), kinds=("em", "gt")))
    crops = sim_root / "jrc_sim-1" / "jrc_sim-1.zarr" / "recon-1" / "labels" / "groundtruth"
    assert [v.name for v in scene.volumes] == ["em jrc_sim-1", "gt crop1 mito", "gt crop2 mito"]
    for vol in scene.volumes[1:]:
        vs, tr = _ngff(crops / vol.crop / "mito")
        assert vol.voxel_size == vs and vol.translation == tr
        assert vol.location == str(crops / vol.crop / "mito" / "s0")
        box = next(b for b in scene.boxes if b.crop == vol.crop)
        shape = json.loads((crops / vol.crop / "mito" / "s0" / ".zarray").read_text())["shape"]
        np.testing.assert_allclose(box.lower_nm, np.subtract(tr, np.divide(vs, 2)))
        np.testing.assert_allclose(box.upper_nm, np.add(box.lower_nm, np.multiply(shape, vs)))
    em = scene.volumes[0]
    em_group = sim_root / "jrc_sim-1" / "jrc_sim-1.zarr" / "recon-1" / "em" / "fibsem-uint8"
    # the EM level whose voxel size matches the labels' (8 nm) is served
    assert (em.voxel_size, em.translation) == _ngff(em_group, Path(em.location).name)
    assert em.voxel_size == scene.volumes[1].voxel_size


def test_em_level_can_be_chosen(sim_root):
    scene = build_scene(VisualizeConfig(data_root=sim_root, datasets=("jrc_sim-1",), crops=("1",),
                                        kinds=("em",), em_level="s0"))
    em_group = sim_root / "jrc_sim-1" / "jrc_sim-1.zarr" / "recon-1" / "em" / "fibsem-uint8"
    assert (scene.volumes[0].voxel_size, scene.volumes[0].translation) == _ngff(em_group, "s0")
    with pytest.raises(DataError, match="no level 's9'"):
        build_scene(VisualizeConfig(data_root=sim_root, crops=("1",), kinds=("em",), em_level="s9"))


def test_test_crops_come_from_the_manifest(sim_root):
    scene = build_scene(VisualizeConfig(data_root=sim_root, crops=("test",), kinds=("em",)))
    expected = _manifest_boxes(sim_root / "test_crop_manifest.csv")
    assert sorted(b.crop for b in scene.boxes) == sorted(expected)
    for b in scene.boxes:
        np.testing.assert_allclose(b.lower_nm, expected[b.crop][0])
        np.testing.assert_allclose(b.upper_nm, expected[b.crop][1])
    assert {v.name for v in scene.volumes} == {"em jrc_sim-1", "em jrc_sim-2"}


@pytest.mark.parametrize("form", ["zip", "zarr"])
def test_submission_zip_or_zarr(sim_root, tmp_path, form):
    import zarr

    from pycsc.demo import background_submission

    zipped = background_submission(sim_root / "test_crop_manifest.csv", tmp_path / "submission.zip")
    path = zipped if form == "zip" else zipped.with_suffix(".zarr")
    scene = build_scene(VisualizeConfig(data_root=sim_root, crops=("test",), classes=("mito", "ecs"),
                                        kinds=("em", "submission"), submission=path))
    subs = [v for v in scene.volumes if v.kind == "submission"]
    with open(sim_root / "test_crop_manifest.csv") as fh:
        wanted = sorted(f"submission crop{r['crop_name']} {r['class_label']}" for r in csv.DictReader(fh)
                        if r["class_label"] in ("mito", "ecs"))
    assert sorted(v.name for v in subs) == wanted and len(wanted) >= 3
    folder = zarr.open_group(str(zipped.with_suffix(".zarr")), mode="r")
    for v in subs:
        attrs = folder[f"{v.crop}/{v.name.split()[-1]}"].attrs
        assert v.voxel_size == tuple(attrs["voxel_size"]) and v.translation == tuple(attrs["translation"])
        assert v.dataset == "jrc_sim-1" if v.crop == "crop901" else v.dataset == "jrc_sim-2"


def test_nothing_found_names_where_it_looked(sim_root):
    with pytest.raises(DataError, match=r"nothing to show.*crops \[.77.\].*--data-root"):
        build_scene(VisualizeConfig(data_root=sim_root, crops=("77",)))
    with pytest.raises(DataError, match="test-crop manifest"):
        build_scene(VisualizeConfig(data_root=sim_root / "jrc_sim-1", crops=("test",)))


def test_config_errors():
    with pytest.raises(ConfigError, match="kinds.*labels"):
        VisualizeConfig(kinds=("labels",))
    with pytest.raises(ConfigError, match="--submission"):
        VisualizeConfig(kinds=("submission",))


def test_submission_arrays_read_in_place_from_the_zip(sim_root, tmp_path):
    """Chunks served from inside the zip equal the packed folder's (read with zarr directly)."""
    import zarr

    from pycsc.demo import background_submission
    from pycsc.viz.arrays import LazyVolume, segmentation_dtype

    zipped = background_submission(sim_root / "test_crop_manifest.csv", tmp_path / "submission.zip")
    folder = zarr.open_group(str(zipped.with_suffix(".zarr")), mode="r+")
    folder["crop901/mito"][2:5] = 7  # make the folder differ: the zip keeps zeros
    scene = build_scene(VisualizeConfig(data_root=sim_root, crops=("test",), classes=("mito",),
                                        kinds=("submission",), submission=zipped))
    vol = scene.volumes[0]
    assert vol.location.startswith(f"{zipped}::") and vol.location.endswith("crop901/mito")
    data = LazyVolume(vol.location, segmentation_dtype(np.uint8))
    assert data.shape == folder["crop901/mito"].shape
    assert not data[1:6, :, :].any()
