"""Every target kind round-trips through its decoder; touching objects stay apart where
binary + connected components merge them (scipy and NumPy as oracles)."""

import numpy as np
import pytest
import zarr
from scipy import ndimage as ndi

pytest.importorskip("skimage")

from pycsc.config import ProcessConfig  # noqa: E402
from pycsc.data import _store  # noqa: E402
from pycsc.errors import ConfigError  # noqa: E402
from pycsc.process import process  # noqa: E402
from pycsc.process.decode import DecodeParams, affinity_boundary, decode  # noqa: E402
from pycsc.targets import get_target  # noqa: E402

VS = (8.0, 8.0, 8.0)


def _touching_spheres():
    """Two spheres sharing a disc, and a third one alone (ids 1..3)."""
    zz, yy, xx = np.indices((32, 32, 40))
    lab = np.zeros(zz.shape, np.uint32)
    for k, (c, r) in enumerate([((16, 16, 11), 6.0), ((16, 16, 22), 6.0), ((16, 16, 34), 4.0)], 1):
        lab[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r] = k
    assert ndi.label(lab > 0)[1] == 2          # the first two touch
    return lab


def _as_prediction(kind, lab, **params):
    """What a perfect network would store for `kind`: activated outputs mapped to 0..1."""
    m = int(np.ceil(get_target(kind).context_nm(VS, **params) / VS[0])) + 1   # context, as the loader reads
    padded = np.pad(lab, m)
    t, known = get_target(kind).make(padded, np.ones(padded.shape, bool), VS, **params)
    t = t[:, m:-m, m:-m, m:-m]
    assert known[:, m:-m, m:-m, m:-m].all()
    p = (t + 1) / 2 if get_target(kind).activation == "tanh" else t
    return np.rint(p * 255) / 255                # the uint8 storage's precision


def _matched(truth, pred, iou=0.6):
    """Number of truth objects matched one-to-one by a prediction object with IoU > `iou`."""
    n = 0
    for t in range(1, int(truth.max()) + 1):
        ids, counts = np.unique(pred[(truth == t) & (pred > 0)], return_counts=True)
        if ids.size == 0:
            continue
        best = ids[np.argmax(counts)]
        inter = counts.max()
        union = np.count_nonzero((truth == t) | (pred == best))
        n += inter / union > iou
    return n


@pytest.mark.parametrize("kind,decoder,params", [
    ("sdt", "sdt_watershed", {"scale_nm": 16.0}),
    ("sdt", "sdt_cc", {"scale_nm": 16.0}),
    ("boundary", "boundary_watershed", {}),
    ("affinity", "affinity_watershed", {}),
])
def test_instance_targets_separate_touching_spheres(kind, decoder, params):
    lab = _touching_spheres()
    binary = decode("threshold", _as_prediction("binary", lab)[0], DecodeParams())
    assert binary.max() == 2 and _matched(lab, binary) == 1      # binary + CC merges the pair
    p = _as_prediction(kind, lab, **params)
    # plain components cross the zero level where objects meet only diagonally: 6-connected
    labels = decode(decoder, p if p.shape[0] > 1 else p[0],
                    DecodeParams(connectivity=6 if decoder == "sdt_cc" else 26))
    assert labels.max() == 3
    assert _matched(lab, labels, iou=0.6 if decoder == "sdt_cc" else 0.8) == 3
    semantic = decode(decoder, p if p.shape[0] > 1 else p[0], DecodeParams(instance=False))
    assert semantic.dtype == np.uint8
    np.testing.assert_array_equal(semantic > 0, ndi.binary_dilation(semantic > 0) & (semantic > 0))
    assert np.mean((semantic > 0) == (lab > 0)) > 0.97


def test_affinity_boundary_is_the_weakest_face_link():
    aff = np.random.default_rng(0).random((3, 4, 5, 6)).astype(np.float32)
    got = affinity_boundary(aff)
    v = (1, 2, 3)
    links = [aff[k][v] for k in range(3)] + [aff[k][tuple(np.add(v, np.eye(3, dtype=int)[k]))] for k in range(3)]
    assert got[v] == pytest.approx(1 - np.min(links))
    corner = [aff[k][tuple(np.eye(3, dtype=int)[k])] for k in range(3)]      # only forward links
    assert got[0, 0, 0] == pytest.approx(1 - np.min(corner))


def _write_prediction(tmp_path, name, p, target):
    group = tmp_path / "pred" / "ds-1.zarr" / "crop9"
    _store.ensure_parent_groups(group)
    attrs = {"pycsc": {"target": target}} if target else None
    # as predict writes a multi-channel class: the channel axis leads, the grid is 3D
    arr = _store.create_volume(group / name, p.shape, "uint8", VS, (0.0,) * 3, (16,) * p.ndim, attrs=attrs)
    arr[:] = np.rint(p * 255).astype(np.uint8)
    return str(tmp_path / "pred/{dataset}.zarr/{crop}")


def test_process_picks_the_decoder_from_the_stored_target(tmp_path):
    lab = _touching_spheres()
    inp = _write_prediction(tmp_path, "mito", _as_prediction("boundary", lab),
                            {"kind": "boundary", "channels": ["fg", "boundary"]})
    _write_prediction(tmp_path, "ves", _as_prediction("sdt", lab, scale_nm=16.0)[0],
                      {"kind": "sdt", "channels": [""], "scale_nm": 16.0})
    _write_prediction(tmp_path, "nuc", _as_prediction("binary", lab)[0], None)
    cfg = ProcessConfig(input=inp, output=str(tmp_path / "proc/{dataset}.zarr/{crop}"), crops=("all",),
                        instance_classes=("mito", "ves", "nuc"), decoders={"ves": "sdt_cc"})
    done = {r["class"]: r for r in process(cfg)}
    assert done["mito"]["decoder"] == "boundary_watershed" and done["mito"]["objects"] == 3
    assert done["ves"]["decoder"] == "sdt_cc"
    assert "decoder" not in done["nuc"] and done["nuc"]["objects"] == 2          # today's path
    out = zarr.open_array(str(tmp_path / "proc/ds-1.zarr/crop9/mito/s0"))[:]
    assert out.shape == lab.shape and _matched(lab, out) == 3
    bad = ProcessConfig(input=inp, output=str(tmp_path / "proc2/{dataset}.zarr/{crop}"), crops=("all",),
                        decoders={"mito": "sdt_cc"})
    with pytest.raises(ConfigError, match=r"decoders.mito.*'sdt_cc' decodes sdt.*boundary_watershed"):
        process(bad)
    with pytest.raises(ConfigError, match="decoders.mito"):
        ProcessConfig(decoders={"mito": "nope"}).validate()
