"""A tiny CellMap-layout dataset for pipeline tests (EM with blobs, label crops, test crops).

Two classes: ``mito`` (small dark balls, instance ids) and ``nuc`` (one large grey ball).
Written with the pipeline's own store helpers as Zarr v2 OME-NGFF, like the real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pycsc.data import _store


def _balls(shape, rng, n, radius):
    zz, yy, xx = np.indices(shape)
    ids = np.zeros(shape, np.uint32)
    for k in range(1, n + 1):
        c = rng.uniform(radius, np.asarray(shape) - radius)
        r = radius * rng.uniform(0.7, 1.0)
        ids[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r] = k
    return ids


def _write(group, levels, vs0, tr0):
    _store.ensure_parent_groups(Path(group).parent)
    import zarr

    g = zarr.open_group(str(group), mode="w", zarr_format=2)
    datasets = []
    for k, data in enumerate(levels):
        vs = [v * 2 ** k for v in vs0]
        tr = [t + (v - v0) / 2 for t, v, v0 in zip(tr0, vs, vs0)]
        a = g.create_array(f"s{k}", shape=data.shape, dtype=data.dtype, chunks=(16, 16, 16),
                           chunk_key_encoding={"name": "v2", "separator": "/"})
        a[:] = data
        datasets.append({"path": f"s{k}", "coordinateTransformations": [
            {"type": "scale", "scale": vs}, {"type": "translation", "translation": tr}]})
    g.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": a, "type": "space", "unit": "nanometer"}
                                                           for a in "zyx"], "datasets": datasets}]


def build_toy(root, seed=0, shape=(48, 48, 48), vs=8.0, crops=((0, 24), (24, 48)), test_crop=(8, 40)):
    """Write the toy dataset under `root`; returns paths (data root, manifest, truth)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    ds = "toy-1"
    mito = _balls(shape, rng, 10, 4.0)
    nuc = _balls(shape, rng, 1, 12.0)
    nuc[mito > 0] = 0
    em = np.full(shape, 170.0) - 110 * (mito > 0) - 60 * (nuc > 0) + rng.normal(0, 8, shape)
    em = np.clip(em, 0, 255).astype(np.uint8)
    zroot = root / "data" / ds / f"{ds}.zarr" / "recon-1"
    _write(zroot / "em" / "fibsem-uint8", [em, em[::2, ::2, ::2]], [vs] * 3, [0.0] * 3)
    labels = {"mito": mito, "nuc": nuc}
    for n, (a, b) in enumerate(crops, start=1):
        for name, lab in labels.items():
            tr = [a * vs, 0.0, 0.0]
            _write(zroot / "labels" / "groundtruth" / f"crop{n}" / name, [lab[a:b]], [vs] * 3, tr)
    # test crop 9: held out; truth in the evaluation layout, manifest with its geometry
    a, b = test_crop
    import zarr

    truth = zarr.open_group(str(root / "truth.zarr"), mode="w", zarr_format=2)
    lines = ["crop_name,dataset,class_label,voxel_size,translation,shape"]
    for name, lab in labels.items():
        sub = lab[a:b, a:b, a:b]
        tr = [a * vs] * 3
        arr = truth.require_group("crop9").create_array(name, shape=sub.shape, dtype=sub.dtype, chunks=(16, 16, 16),
                                                        chunk_key_encoding={"name": "v2", "separator": "/"})
        arr[:] = sub
        arr.attrs.update({"voxel_size": [vs] * 3, "translation": tr, "shape": list(sub.shape)})
        lines.append(f"9,{ds},{name},[{vs};{vs};{vs}],[{tr[0]};{tr[1]};{tr[2]}],[{b - a};{b - a};{b - a}]")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return {"data_root": root / "data", "manifest": root / "manifest.csv", "truth": root / "truth.zarr",
            "dataset": ds, "labels": labels, "em": em}
