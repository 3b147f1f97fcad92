"""Post-processing of probability volumes (cc3d and NumPy as oracles)."""

import numpy as np
import pytest
import zarr

cc3d = pytest.importorskip("cc3d")

from pycsc.config import ProcessConfig  # noqa: E402
from pycsc.data import _store  # noqa: E402
from pycsc.errors import ConfigError, DataError  # noqa: E402
from pycsc.process import process  # noqa: E402


def _balls(shape, centres, radius):
    zz, yy, xx = np.indices(shape)
    out = np.zeros(shape, np.float32)
    for c in centres:
        d = np.sqrt((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2)
        out = np.maximum(out, np.clip(1.2 - d / radius, 0, 1))
    return out


def _predictions(tmp_path, probs: dict, crop="crop9", dataset="ds-1"):
    group = tmp_path / "pred" / f"{dataset}.zarr" / crop
    _store.ensure_parent_groups(group)
    for name, p in probs.items():
        arr = _store.create_volume(group / name, p.shape, "uint8", (8.0, 8.0, 8.0), (4.0, 12.0, 20.0), (8, 8, 8))
        arr[:] = np.rint(p * 255).astype(np.uint8)
    return str(tmp_path / "pred/{dataset}.zarr/{crop}")


def _read(tmp_path, name, crop="crop9"):
    return zarr.open_array(str(tmp_path / "proc" / "ds-1.zarr" / crop / name / "s0"))[:]


def _cfg(tmp_path, inp, **kw):
    return ProcessConfig(input=inp, output=str(tmp_path / "proc/{dataset}.zarr/{crop}"), crops=("all",), **kw)


@pytest.fixture
def probs():
    rng = np.random.default_rng(0)
    return {"mito": _balls((20, 24, 28), rng.uniform(3, 20, (8, 3)), 3.0),
            "er": rng.random((20, 24, 28)).astype(np.float32)}


@pytest.mark.parametrize("block", [(256, 256, 256), (7, 9, 11)])
def test_semantic_and_instance(tmp_path, probs, block):
    inp = _predictions(tmp_path, probs)
    results = process(_cfg(tmp_path, inp, block_shape=block, min_size=5, thresholds={"er": 0.7}))
    stored = {k: np.rint(v * 255).astype(np.uint8) / 255 for k, v in probs.items()}
    er = _read(tmp_path, "er")
    assert er.dtype == np.uint8
    np.testing.assert_array_equal(er, stored["er"] > 0.7)
    mito = _read(tmp_path, "mito")
    assert mito.dtype == np.uint32
    labels = cc3d.connected_components((stored["mito"] > 0.5).astype(np.uint8), connectivity=26)
    ids, counts = np.unique(labels, return_counts=True)
    expected = np.where(np.isin(labels, ids[counts < 5]), 0, labels)
    assert np.array_equal(mito > 0, expected > 0)
    pairs = np.unique(np.stack([mito[mito > 0], expected[expected > 0]], 1), axis=0)
    assert len(pairs) == len(np.unique(pairs[:, 0])) == len(np.unique(pairs[:, 1]))
    assert {r["class"]: r["objects"] for r in results}["mito"] == int(mito.max())
    (lv,) = _store.read_levels(tmp_path / "proc/ds-1.zarr/crop9/mito")
    assert lv.voxel_size == (8.0, 8.0, 8.0) and lv.translation == (4.0, 12.0, 20.0)
    assert (tmp_path / "proc/ds-1.zarr/crop9/process.toml").is_file()
    assert not list((tmp_path / "proc/ds-1.zarr/crop9").glob(".*provisional"))


def test_resume_skips_complete_and_overwrite_redoes(tmp_path, probs):
    inp = _predictions(tmp_path, probs)
    process(_cfg(tmp_path, inp))
    assert all(r.get("skipped") for r in process(_cfg(tmp_path, inp)))
    assert not any(r.get("skipped") for r in process(_cfg(tmp_path, inp, overwrite=True)))


def test_hook_replaces_the_default(tmp_path, probs):
    inp = _predictions(tmp_path, probs)
    hook = tmp_path / "myhook.py"
    hook.write_text("import numpy as np\n"
                    "def segment(p, class_name, voxel_size, instance):\n"
                    "    assert voxel_size == (8.0, 8.0, 8.0)\n"
                    "    return (p > 0.9).astype(np.uint16) * (7 if instance else 1)\n")
    process(_cfg(tmp_path, inp, hook=f"{hook}:segment", classes=("mito",)))
    out = _read(tmp_path, "mito")
    expected = (np.rint(probs["mito"] * 255) / 255 > 0.9) * 7
    np.testing.assert_array_equal(out, expected)
    assert not (tmp_path / "proc/ds-1.zarr/crop9/er").exists()


def test_watershed_splits_touching_balls(tmp_path):
    pytest.importorskip("skimage")
    p = _balls((24, 24, 32), [(12, 12, 12), (12, 12, 19)], 6.0)
    inp = _predictions(tmp_path, {"mito": p})
    process(_cfg(tmp_path, inp))
    assert _read(tmp_path, "mito").max() == 1                    # components: one object
    process(_cfg(tmp_path, inp, watershed=True, watershed_min_distance=5, overwrite=True))
    assert _read(tmp_path, "mito").max() == 2                    # watershed: two


def test_manifest_crops_and_shards(tmp_path, probs, toy):
    inp = _predictions(tmp_path, probs, crop="crop9", dataset="toy-1")
    _predictions(tmp_path, probs, crop="crop3", dataset="toy-1")
    cfg = ProcessConfig(input=inp, output=str(tmp_path / "proc/{dataset}.zarr/{crop}"), manifest=toy["manifest"])
    done = process(cfg)   # the manifest lists crop9 with mito and nuc: er is not scored there
    assert {(r["crop"], r["class"]) for r in done} == {("toy-1/crop9", "mito")}
    all_cfg = ProcessConfig(input=inp, output=str(tmp_path / "proc2/{dataset}.zarr/{crop}"), crops=("all",),
                            shard="2/2")
    assert {r["crop"] for r in process(all_cfg)} == {"toy-1/crop9"}   # 2nd of [crop3, crop9]


def test_errors(tmp_path, probs):
    inp = _predictions(tmp_path, probs)
    # no manifest: the shipped official test crops, none of which has predictions here
    assert process(ProcessConfig(input=inp, output=str(tmp_path / "none/{crop}"))) == []
    with pytest.raises(ConfigError, match="file.py:function"):
        process(_cfg(tmp_path, inp, hook="nocolon"))
    bad = tmp_path / "bad.py"
    bad.write_text("def f(p, **kw):\n    return p[:2]\n")
    with pytest.raises(DataError, match="returned shape"):
        process(_cfg(tmp_path, inp, hook=f"{bad}:f"))
