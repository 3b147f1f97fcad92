"""A zarr v3 / OME-NGFF 0.5 bucket is crawled and fetched like a v2 one."""

from pathlib import Path

import numpy as np
import pytest
import zarr

from pycsc.config import FetchConfig
from pycsc.fetch import fetch
from pycsc.io.ngff import pyramid, to_attrs

pytestmark = pytest.mark.s3


def write_v3_multiscale(path: Path, levels, voxel_size, translation, chunks):
    ms = pyramid(voxel_size, translation, len(levels))
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.attrs["ome"] = {"version": "0.5", **to_attrs(ms)}
    for data, lv in zip(levels, ms.levels):
        arr = group.create_array(lv.path, shape=data.shape, chunks=chunks, dtype=data.dtype, fill_value=0)
        arr[:] = data


def test_v3_dataset(s3_server, publish, tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "src"
    ds = "jrc_v3-1"
    base = src / ds / f"{ds}.zarr" / "recon-1"
    em = rng.integers(1, 255, (32, 32, 32), dtype=np.uint8)
    write_v3_multiscale(base / "em/fibsem-uint8", [em, em[::2, ::2, ::2]], (4, 4, 4), (2, 2, 2), (8, 8, 8))
    labels = (rng.random((8, 8, 8)) < 0.3).astype(np.uint8)
    # an 8 nm crop starting at EM s1 voxel (2, 3, 1)
    write_v3_multiscale(base / "labels/groundtruth/crop5/mito", [labels], (8, 8, 8),
                        (4 + 2 * 8, 4 + 3 * 8, 4 + 1 * 8), (4, 4, 4))
    publish("csc-v3", src, [ds])
    dest = tmp_path / "dest"
    report = fetch(FetchConfig(bucket="csc-v3", endpoint_url=s3_server.endpoint_url, dest=dest, workers=4,
                               progress=False))
    assert not report.transfer.failed
    got = zarr.open_group(str(dest / ds / f"{ds}.zarr/recon-1/labels/groundtruth/crop5/mito"), mode="r")
    np.testing.assert_array_equal(got["s0"][:], labels)
    em_local = zarr.open_group(str(dest / ds / f"{ds}.zarr/recon-1/em/fibsem-uint8"), mode="r")
    # s0 (4 nm) is finer than the 8 nm annotation and skipped; s1 holds the crop's chunks
    s1 = em_local["s1"][:]
    np.testing.assert_array_equal(s1[0:16, 0:16, 0:16], em[::2, ::2, ::2][0:16, 0:16, 0:16])
    assert not list((dest / ds / f"{ds}.zarr/recon-1/em/fibsem-uint8/s0").rglob("c"))
    row = report.plan.rows[0]
    assert (row.crop_id, row.class_label, row.voxel_size, row.shape) == (5, "mito", (8.0, 8.0, 8.0), (8, 8, 8))
