"""The simulated dataset: layout as the public data, evaluation truth layout, determinism,
label consistency with the official class table, learnable EM contrast."""

import json

import numpy as np
import pytest
import zarr

from pycsc.cli.main import main
from pycsc.errors import DataError, InputError
from pycsc.io.classes import CLASS_IDS, GROUP_MEMBERS, INSTANCE_CLASSES, TESTED_CLASSES, atomic_ids
from pycsc.io.manifest import read_manifest_csv
from pycsc.simulate import simulate

# Lines of the official utils/classes.csv (an independent statement of the groups).
OFFICIAL_GROUPS = {
    "nuc": "20,21,22,23,24,25,26,27,28,29", "mito": "3,4,5", "er": "16,17,18,19,20,21,22,23",
    "ne": "20,21,22,23", "np": "22,23", "chrom": "24,25,26,27", "mt": "30,36", "er_mem_all": "16,18,20",
    "ne_mem_all": "20,22,23", "golgi": "6,7", "ves": "8,9", "perox": "47,48", "eres": "18,19",
    "cell": "2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,"
            "36,38,39,47,48,56,57,58,61,62",
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    return root, simulate(root, "tiny", seed=7)


def multiscale(group):
    return [(d["path"], {c["type"]: c[c["type"]] for c in d["coordinateTransformations"]})
            for d in group.attrs["multiscales"][0]["datasets"]]


def test_class_table_matches_the_official_file():
    for name, ids in OFFICIAL_GROUPS.items():
        assert GROUP_MEMBERS[CLASS_IDS[name]] == tuple(int(i) for i in ids.split(","))
    assert len(TESTED_CLASSES) == 48
    assert sum(c in INSTANCE_CLASSES for c in TESTED_CLASSES) == 10


def test_layout_matches_the_public_data(sim):
    root, result = sim
    assert result.datasets == ["jrc_sim-1", "jrc_sim-2"]
    for ds in result.datasets:
        top = zarr.open_group(str(root / ds / f"{ds}.zarr"), mode="r")
        em = top["recon-1/em/fibsem-uint8"]
        levels = multiscale(em)
        s0 = em[levels[0][0]]
        assert s0.dtype == np.uint8 and [p for p, _ in levels] == [f"s{k}" for k in range(len(levels))]
        for k, (path, t) in enumerate(levels):
            v0, t0 = np.asarray(levels[0][1]["scale"]), np.asarray(levels[0][1]["translation"])
            assert np.allclose(t["scale"], v0 * 2**k)
            assert np.allclose(t["translation"], t0 + (np.asarray(t["scale"]) - v0) / 2)
            assert em[path].shape == tuple(s // 2**k for s in s0.shape)
        gt = top["recon-1/labels/groundtruth"]
        crops = sorted(gt.group_keys())
        assert crops and all(c.startswith("crop") for c in crops)
        for crop in crops:
            assert "all" in gt[crop].group_keys()
            for cls in gt[crop].group_keys():
                g = gt[crop][cls]
                lv = multiscale(g)
                for k, (path, t) in enumerate(lv):
                    assert g[path].shape == tuple(s // 2**k for s in g[lv[0][0]].shape)
                assert json.loads((root / ds / f"{ds}.zarr/recon-1/labels/groundtruth" / crop / cls / "s0/.zarray")
                                  .read_text())["dimension_separator"] == "/"
    voxel_sizes = {r.voxel_size for r in result.train_rows + result.test_rows}
    assert any(v[0] != v[1] for v in voxel_sizes), "an anisotropic crop is expected"
    assert len(voxel_sizes) >= 3


def test_labels_agree_with_the_all_array_and_the_class_table(sim):
    root, result = sim
    for ds in result.datasets:
        gt = zarr.open_group(str(root / ds / f"{ds}.zarr/recon-1/labels/groundtruth"), mode="r")
        for crop in gt.group_keys():
            for path, _ in multiscale(gt[crop]["all"]):
                all_ids = gt[crop]["all"][path][:]
                for cls in gt[crop].group_keys():
                    if cls == "all":
                        continue
                    arr = gt[crop][cls][path][:]
                    np.testing.assert_array_equal(arr > 0, np.isin(all_ids, atomic_ids(cls)), err_msg=f"{crop}/{cls}")
                    if cls in INSTANCE_CLASSES:
                        assert arr.dtype == np.uint32
                        ids = np.unique(arr[arr > 0])
                        np.testing.assert_array_equal(ids, np.arange(1, ids.size + 1))
                    else:
                        assert arr.dtype == np.uint8 and set(np.unique(arr)) <= {0, 1}


def test_hidden_truth_is_in_the_evaluation_layout(sim):
    root, result = sim
    rows = read_manifest_csv(result.test_manifest)
    assert rows == result.test_rows
    truth = zarr.open_group(str(result.truth_path), mode="r")
    by_crop = {}
    for r in rows:
        by_crop.setdefault(r.crop_id, []).append(r)
    assert sorted(truth.group_keys()) == sorted(f"crop{c}" for c in by_crop)
    for crop_id, crop_rows in by_crop.items():
        group = truth[f"crop{crop_id}"]
        assert sorted(group.array_keys()) == sorted(r.class_label for r in crop_rows)
        for r in crop_rows:
            arr = group[r.class_label]
            assert arr.shape == r.shape
            assert arr.attrs["voxel_size"] == list(r.voxel_size)
            assert arr.attrs["translation"] == list(r.translation)
            assert arr.attrs["shape"] == list(r.shape)
            meta = json.loads((result.truth_path / f"crop{crop_id}" / r.class_label / ".zarray").read_text())
            assert meta["dimension_separator"] == "/"
        # held out: no ground truth of a test crop in the dataset itself
        ds = crop_rows[0].dataset
        assert not (root / ds / f"{ds}.zarr/recon-1/labels/groundtruth" / f"crop{crop_id}").exists()
        # on the grid of one EM level
        em = zarr.open_group(str(root / ds / f"{ds}.zarr/recon-1/em/fibsem-uint8"), mode="r")
        r = crop_rows[0]
        level = next(t for _, t in multiscale(em) if np.allclose(t["scale"], r.voxel_size))
        offset = (np.asarray(r.translation) - level["translation"]) / r.voxel_size
        assert np.allclose(offset, np.rint(offset))
    full = [c for c, rs in by_crop.items() if len(rs) == 48]
    assert full and {r.class_label for r in by_crop[full[0]]} == set(TESTED_CLASSES)


def test_train_manifest_matches_crop_metadata(sim):
    root, result = sim
    rows = read_manifest_csv(result.train_manifest)
    assert rows == result.train_rows
    for r in rows:
        g = zarr.open_group(str(root / r.dataset / f"{r.dataset}.zarr/recon-1/labels/groundtruth"
                                / f"crop{r.crop_id}" / r.class_label), mode="r")
        path, t = multiscale(g)[0]
        assert tuple(t["scale"]) == r.voxel_size and tuple(t["translation"]) == r.translation
        assert g[path].shape == r.shape


def test_same_seed_same_bytes_other_seed_other_data(sim, tmp_path):
    root, _ = sim
    again = simulate(tmp_path / "a", "tiny", seed=7)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    for f in files:
        assert (root / f).read_bytes() == (tmp_path / "a" / f).read_bytes(), f
    other = simulate(tmp_path / "b", "tiny", seed=8)
    em = "jrc_sim-1/jrc_sim-1.zarr/recon-1/em/fibsem-uint8/s0"
    assert not np.array_equal(zarr.open_array(str(root / em))[:], zarr.open_array(str(tmp_path / "b" / em))[:])
    assert other.datasets == again.datasets


def test_em_has_learnable_contrast(sim):
    """Membranes darker and extracellular space lighter than cytoplasm by > 1 noise sd."""
    root, result = sim
    samples = {}
    for ds in result.datasets:
        base = root / ds / f"{ds}.zarr/recon-1"
        em = zarr.open_group(str(base / "em/fibsem-uint8"), mode="r")
        gt = zarr.open_group(str(base / "labels/groundtruth"), mode="r")
        for crop in gt.group_keys():
            path, t = multiscale(gt[crop]["all"])[0]
            all_ids = gt[crop]["all"][path][:]
            for lpath, lt in multiscale(em):
                if np.allclose(lt["scale"], t["scale"]):
                    off = np.rint((np.asarray(t["translation"]) - lt["translation"]) / t["scale"]).astype(int)
                    img = em[lpath][tuple(slice(o, o + s) for o, s in zip(off, all_ids.shape))].astype(float)
                    for cid in np.unique(all_ids):
                        samples.setdefault(int(cid), []).append(img[all_ids == cid])
    values = {k: np.concatenate(v) for k, v in samples.items()}
    cyto = values[CLASS_IDS["cyto"]]
    effect = {k: (v.mean() - cyto.mean()) / cyto.std() for k, v in values.items() if v.size >= 30}
    assert effect[CLASS_IDS["ecs"]] > 1.0
    membranes = [k for k in effect if k in (2, 3, 6, 8, 10, 12, 14, 16, 18, 20, 47)]
    assert membranes and all(effect[k] < -1.0 for k in membranes), effect


def test_overwrite_rules_and_bad_preset(sim, tmp_path):
    simulate(tmp_path, "tiny", seed=1)
    with pytest.raises(DataError, match="--overwrite"):
        simulate(tmp_path, "tiny", seed=1)
    simulate(tmp_path, "tiny", seed=1, overwrite=True)
    with pytest.raises(InputError, match="preset"):
        simulate(tmp_path / "x", "huge")


def test_cli(tmp_path, capsys):
    assert main(["simulate", "--dest", str(tmp_path), "--preset", "tiny", "--seed", "2",
                 "--name-prefix", "jrc_demo"]) == 0
    out = capsys.readouterr().out
    assert "jrc_demo-1" in out and (tmp_path / "jrc_demo-2/jrc_demo-2.zarr").is_dir()
    assert 'preset = "tiny"' in (tmp_path / "simulate.toml").read_text()
    assert main(["simulate", "--dest", str(tmp_path), "--preset", "tiny", "--name-prefix", "jrc_demo"]) == 2
    assert "already exists" in capsys.readouterr().err
