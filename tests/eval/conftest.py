"""Fixtures for the evaluation tests: the golden cases and tiny Zarr v2 stores built in tmp_path."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def golden_dir() -> Path | None:
    """PYCSC_GOLDEN_DIR, else a `shared/golden` folder in or above the repository."""
    env = os.environ.get("PYCSC_GOLDEN_DIR")
    candidates = [Path(env)] if env else []
    candidates += [REPO / "shared" / "golden", REPO.parent / "shared" / "golden",
                   REPO.parent.parent / "shared" / "golden"]
    return next((c for c in candidates if (c / "README.md").is_file()), None)


GOLDEN = golden_dir()
GOLDEN_CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "expected.json").is_file()) if GOLDEN else []
needs_golden = pytest.mark.skipif(GOLDEN is None, reason="golden cases not found: set PYCSC_GOLDEN_DIR "
                                  "to the shared/golden folder")


def submission_of(case: Path) -> Path:
    return case / "submission.zarr" if (case / "submission.zarr").exists() else case / "submission.zip"


def write_array(path, data, attrs=None, chunks=None, **kw):
    """A Zarr v2 array written by zarr-python (independent of pycsc's reader)."""
    import zarr

    data = np.asarray(data)
    z = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, chunks=chunks or data.shape,
                          zarr_format=2, overwrite=True, **kw)
    z[...] = data
    if attrs:
        z.attrs.update(attrs)
    return Path(path)


def grid(vs=(8.0, 8.0, 8.0), tr=(0.0, 0.0, 0.0)):
    return {"voxel_size": list(vs), "translation": list(tr)}


def write_manifest(path, rows):
    """rows: (crop_id, label, voxel_size, translation, shape)."""
    lines = ["crop_name,dataset,class_label,voxel_size,translation,shape"]
    for crop, label, vs, tr, shape in rows:
        fmt = lambda v: "[" + ";".join(str(x) for x in v) + "]"  # noqa: E731
        lines.append(f"{crop},ds,{label},{fmt(vs)},{fmt(tr)},{fmt(shape)}")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def blobs(shape=(24, 24, 24), n=6, seed=0, dtype=np.uint32):
    """Instance labels: `n` axis-aligned boxes with ids 1..n, not touching."""
    rng = np.random.default_rng(seed)
    out = np.zeros(shape, dtype)
    for i in range(1, n + 1):
        c = [rng.integers(3, s - 6) for s in shape]
        out[c[0]:c[0] + 3, c[1]:c[1] + 3, c[2]:c[2] + 3] = i
    return out


@pytest.fixture
def small_case(tmp_path):
    """A two-crop truth, manifest and a matching submission directory (instance + semantic)."""
    truth, sub = tmp_path / "truth.zarr", tmp_path / "sub.zarr"
    rows = []
    for k, crop in enumerate((1, 2)):
        mito = blobs(seed=k)
        ecs = (np.indices((24, 24, 24)).sum(0) % 7 < 3).astype(np.uint8)
        for name, arr in (("mito", mito), ("ecs", ecs)):
            write_array(truth / f"crop{crop}" / name, arr, grid())
            pred = arr.copy()
            if name == "mito":
                pred[pred == 2] = 0
            else:
                pred[:2] = 1 - pred[:2]
            write_array(sub / f"crop{crop}" / name, pred, grid(), chunks=(8, 8, 8))
            rows.append((crop, name, (8.0, 8.0, 8.0), (0.0, 0.0, 0.0), (24, 24, 24)))
    manifest = write_manifest(tmp_path / "manifest.csv", rows)
    return truth, sub, manifest


def tree_digest(root: Path) -> str:
    """Hash of every path, file mode and file content below `root` (detects any modification)."""
    h = hashlib.sha256()
    for p in sorted(Path(root).rglob("*")):
        st = p.lstat()
        h.update(str(p.relative_to(root)).encode() + str(st.st_mode).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()
