"""Packing: crop-grid alignment (scikit-image oracle), validation, zip layout."""

import zipfile

import numpy as np
import pytest
import zarr

from pycsc.config import PackConfig
from pycsc.data import _store
from pycsc.errors import DataError
from pycsc.pack import align_to_crop, pack

skimage_transform = pytest.importorskip("skimage.transform")


def _volume(path, data, vs, tr):
    _store.ensure_parent_groups(path)
    _store.create_volume(path, data.shape, data.dtype, vs, tr, (8, 8, 8))[:] = data
    return path


def test_same_grid_is_identity_and_keeps_wide_ids(tmp_path):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 70000, (10, 12, 14)).astype(np.uint32)
    g = _volume(tmp_path / "p.zarr" / "mito", ids, (4.0, 4.0, 4.0), (2.0, 6.0, 10.0))
    out = align_to_crop(g, (4.0, 4.0, 4.0), (2.0, 6.0, 10.0), (10, 12, 14), instance=True)
    assert out.dtype == np.uint32
    np.testing.assert_array_equal(out, ids)                 # 256, 257, ... are not wrapped
    sem = align_to_crop(g, (4.0, 4.0, 4.0), (2.0, 6.0, 10.0), (10, 12, 14), instance=False)
    assert sem.dtype == np.uint8
    np.testing.assert_array_equal(sem, ids > 0)


@pytest.mark.parametrize("factor", [2.0, 0.5])
def test_other_voxel_size_follows_the_evaluator(tmp_path, factor):
    rng = np.random.default_rng(1)
    src = np.zeros((12, 12, 12), np.uint32)
    src[2:9, 3:10, 1:7] = 5
    src[rng.random(src.shape) < 0.1] = 9
    vs_src, vs_crop = 8.0 * factor, 8.0
    # same lower edge (0 nm): translations are the voxel centres
    g = _volume(tmp_path / "p.zarr" / "x", src, (vs_src,) * 3, (vs_src / 2,) * 3)
    shape = tuple(int(round(12 * factor)) for _ in range(3))
    inst = align_to_crop(g, (vs_crop,) * 3, (vs_crop / 2,) * 3, shape, instance=True)
    expected = skimage_transform.rescale(src, factor, order=0, mode="constant", preserve_range=True,
                                         anti_aliasing=False).astype(src.dtype)
    np.testing.assert_array_equal(inst, expected)
    sem = align_to_crop(g, (vs_crop,) * 3, (vs_crop / 2,) * 3, shape, instance=False)
    expected = skimage_transform.rescale((src > 0).astype(np.float32), factor, order=1, mode="constant",
                                         preserve_range=True) > 0.5
    np.testing.assert_array_equal(sem, expected)


def test_placement_by_lower_edge(tmp_path):
    data = np.arange(1, 5 * 6 * 7 + 1, dtype=np.uint32).reshape(5, 6, 7)
    g = _volume(tmp_path / "p.zarr" / "x", data, (8.0, 8.0, 8.0), (20.0, 4.0, -12.0))
    # crop grid: edge at (0, 0, 0): the source starts 2 voxels later in z, 2 earlier in x
    out = align_to_crop(g, (8.0, 8.0, 8.0), (4.0, 4.0, 4.0), (6, 4, 6), instance=True)
    expected = np.zeros((6, 4, 6), np.uint32)
    expected[2:6, 0:4, 0:5] = data[0:4, 0:4, 2:7]
    np.testing.assert_array_equal(out, expected)


def _processed(tmp_path, toy, classes=("mito", "nuc")):
    for name in classes:
        lab = toy["labels"][name][8:40, 8:40, 8:40]
        _volume(tmp_path / "proc" / "toy-1.zarr" / "crop9" / name, lab.astype(np.uint32), (8.0,) * 3, (64.0,) * 3)
    return str(tmp_path / "proc/{dataset}.zarr/{crop}")


def test_pack_zip_layout(tmp_path, toy, capsys):
    inp = _processed(tmp_path, toy)
    result = pack(PackConfig(input=inp, manifest=toy["manifest"], output=tmp_path / "sub.zip"))
    assert "2 arrays in 1 crops" in capsys.readouterr().out and result["missing"] == []
    with zipfile.ZipFile(tmp_path / "sub.zip") as zf:
        names = zf.namelist()
        assert ".zgroup" in names and "crop9/.zgroup" in names and "crop9/mito/.zarray" in names
        assert not any(n.endswith("/") for n in names)                   # files only
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())
        zf.extractall(tmp_path / "unzipped")
    root = zarr.open_group(str(tmp_path / "unzipped"), mode="r", zarr_format=2)
    mito = root["crop9/mito"]
    assert mito.dtype == np.uint32 and dict(mito.attrs) == {
        "voxel_size": [8.0, 8.0, 8.0], "translation": [64.0, 64.0, 64.0], "shape": [32, 32, 32]}
    np.testing.assert_array_equal(mito[:], toy["labels"]["mito"][8:40, 8:40, 8:40])
    with pytest.raises(DataError, match="--overwrite"):
        pack(PackConfig(input=inp, manifest=toy["manifest"], output=tmp_path / "sub.zip"))
    pack(PackConfig(input=inp, manifest=toy["manifest"], output=tmp_path / "sub.zip", overwrite=True))


def test_missing_pairs_are_listed(tmp_path, toy, capsys):
    inp = _processed(tmp_path, toy, classes=("mito",))
    with pytest.raises(DataError, match=r"1 of 2 manifest \(crop, class\) pairs.*crop9: nuc"):
        pack(PackConfig(input=inp, manifest=toy["manifest"], output=tmp_path / "s.zip"))
    result = pack(PackConfig(input=inp, manifest=toy["manifest"], output=tmp_path / "s.zip", missing="skip"))
    assert result["missing"] == [("crop9", "nuc")] and "(crop9 1); left out" in capsys.readouterr().out
    assert "crop9/nuc/.zarray" not in zipfile.ZipFile(tmp_path / "s.zip").namelist()
    result = pack(PackConfig(input=inp, manifest=toy["manifest"], output=tmp_path / "s.zip", missing="empty",
                             overwrite=True))
    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="r", zarr_format=2)
    assert root["crop9/nuc"].shape == (32, 32, 32) and not root["crop9/nuc"][:].any()
    with pytest.raises(DataError, match="all 2 classes"):
        pack(PackConfig(input=str(tmp_path / "none/{crop}"), manifest=toy["manifest"], output=tmp_path / "t.zip"))


def test_packed_truth_scores_perfectly(tmp_path, toy):
    """The zip is accepted by `pycsc evaluate`; packing the truth itself scores 1 per class,
    also with object ids above 255 (which the official uint8 cast would wrap)."""
    from pycsc.eval import score_submission

    for name in ("mito", "nuc"):
        lab = toy["labels"][name][8:40, 8:40, 8:40].astype(np.uint32)
        lab[lab > 0] += 1000
        _volume(tmp_path / "proc" / "toy-1.zarr" / "crop9" / name, lab, (8.0,) * 3, (64.0,) * 3)
    inp = str(tmp_path / "proc/{dataset}.zarr/{crop}")
    pack(PackConfig(input=inp, manifest=toy["manifest"], output=tmp_path / "sub.zip"))
    scores = score_submission(tmp_path / "sub.zip", toy["truth"], toy["manifest"])
    for name in ("mito", "nuc"):
        assert scores["label_scores"][name]["combined_score"] == pytest.approx(1.0)
        assert scores["label_scores"][name]["fp"] == 0 and scores["label_scores"][name]["fn"] == 0
