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


def _objects(mask, connectivity, min_size):
    """cc3d components, objects below min_size dropped, renumbered in raster order."""
    fastremap = pytest.importorskip("fastremap")
    labels = cc3d.connected_components(mask.astype(np.uint8), connectivity=connectivity)
    labels = cc3d.dust(labels, threshold=min_size, connectivity=connectivity)
    return fastremap.renumber(labels, in_place=False)[0]


# in memory, and blockwise (a memory budget of ~1 KiB forces blocks)
PATHS = [{}, {"block_shape": (7, 9, 11), "max_memory_gb": 1e-6}, {"block_shape": (20, 5, 28), "max_memory_gb": 1e-6}]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("connectivity", [6, 26])
def test_semantic_and_instance(tmp_path, probs, path, connectivity):
    inp = _predictions(tmp_path, probs)
    results = process(_cfg(tmp_path, inp, min_size=5, thresholds={"er": 0.7}, connectivity=connectivity, **path))
    stored = {k: np.rint(v * 255).astype(np.uint8).astype(np.float32) * np.float32(1 / 255)
              for k, v in probs.items()}
    er = _read(tmp_path, "er")
    assert er.dtype == np.uint8
    np.testing.assert_array_equal(er, stored["er"] > 0.7)
    mito = _read(tmp_path, "mito")
    expected = _objects(stored["mito"] > 0.5, connectivity, 5)
    assert mito.dtype == np.uint8                 # the smallest dtype holding the ids
    np.testing.assert_array_equal(mito, expected)
    assert {r["class"]: r["objects"] for r in results}["mito"] == int(expected.max())
    (lv,) = _store.read_levels(tmp_path / "proc/ds-1.zarr/crop9/mito")
    assert lv.voxel_size == (8.0, 8.0, 8.0) and lv.translation == (4.0, 12.0, 20.0)
    assert _store.read_attrs(tmp_path / "proc/ds-1.zarr/crop9/mito")["pycsc_kind"] == "instance"
    assert all(_store.is_complete(tmp_path / "proc/ds-1.zarr/crop9" / c) for c in ("er", "mito"))
    assert (tmp_path / "proc/ds-1.zarr/crop9/process.toml").is_file()
    assert sorted(p.name for p in (tmp_path / "proc/ds-1.zarr/crop9").iterdir()) == \
        [".zgroup", "er", "mito", "process.toml"]


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_float_predictions(tmp_path, probs, dtype):
    group = tmp_path / "pred" / "ds-1.zarr" / "crop9"
    _store.ensure_parent_groups(group)
    arr = _store.create_volume(group / "mito", probs["mito"].shape, dtype, (8.0,) * 3, (0.0,) * 3, (8, 8, 8))
    arr[:] = probs["mito"].astype(dtype)
    for i, path in enumerate(PATHS[:2]):
        process(_cfg(tmp_path, str(tmp_path / "pred/{dataset}.zarr/{crop}"), overwrite=True, **path))
        expected = _objects(probs["mito"].astype(dtype).astype(np.float32) > 0.5, 26, 0)
        np.testing.assert_array_equal(_read(tmp_path, "mito"), expected)


def test_failure_leaves_only_finished_classes_marked(tmp_path, probs):
    inp = _predictions(tmp_path, {"a_first": probs["mito"], "b_fails": probs["er"], "c_later": probs["mito"]})
    hook = tmp_path / "failing.py"
    hook.write_text("def f(p, class_name, **kw):\n"
                    "    if class_name == 'b_fails':\n"
                    "        raise RuntimeError('boom')\n"
                    "    return (p > 0.5).astype('uint8')\n")
    with pytest.raises(RuntimeError, match="boom"):
        process(_cfg(tmp_path, inp, hook=f"{hook}:f"))
    out = tmp_path / "proc/ds-1.zarr/crop9"
    assert _store.is_complete(out / "a_first") and not _store.is_complete(out / "b_fails")
    hook.write_text("def f(p, **kw):\n    return (p > 0.5).astype('uint8')\n")
    done = process(_cfg(tmp_path, inp, hook=f"{hook}:f"))     # the rerun resumes
    assert [r["class"] for r in done if r.get("skipped")] == ["a_first"]
    assert all(_store.is_complete(out / c) for c in ("a_first", "b_fails", "c_later"))


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


def test_killed_run_resumes(tmp_path, probs):
    """SIGKILL in the middle of a run: only fully stored classes are marked; a rerun finishes."""
    import os
    import subprocess
    import sys

    inp = _predictions(tmp_path, {"a_first": probs["mito"], "b_kill": probs["er"], "c_later": probs["mito"]})
    hook = tmp_path / "killer.py"
    hook.write_text("import os, signal\n"
                    f"FLAG = {str(tmp_path / 'kill_once')!r}\n"
                    "def f(p, class_name, **kw):\n"
                    "    if class_name == 'b_kill' and os.path.exists(FLAG):\n"
                    "        os.remove(FLAG)\n"
                    "        os.kill(os.getpid(), signal.SIGKILL)\n"
                    "    return (p > 0.5).astype('uint8')\n")
    (tmp_path / "kill_once").write_text("")
    cmd = [sys.executable, "-m", "pycsc", "process", "--input", inp, "--output",
           str(tmp_path / "proc/{dataset}.zarr/{crop}"), "--crops", "all", "--hook", f"{hook}:f"]
    import pycsc

    # the child imports the pycsc this test imported (installed, or a built source tree)
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(pycsc.__file__))}
    # cwd: `python -m` puts the working directory first on sys.path (a source tree has no _core)
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == -9, first.stderr
    out = tmp_path / "proc/ds-1.zarr/crop9"
    assert not _store.is_complete(out / "b_kill") and not _store.is_complete(out / "c_later")
    expected = {c: (np.rint(probs[k] * 255).astype(np.uint8) / 255 > 0.5)
                for c, k in (("a_first", "mito"), ("b_kill", "er"), ("c_later", "mito"))}
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    for cls, mask in expected.items():
        assert _store.is_complete(out / cls)
        np.testing.assert_array_equal(_read(tmp_path, cls), mask)
