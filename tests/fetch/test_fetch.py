"""`fetch` end to end against a local S3 server holding a simulated dataset.

The simulated tree on disk is the oracle: fetched objects must be byte-identical to it, every
ground-truth array must read back equal, and the EM around each crop (located by a brute
force voxel-overlap test, not by the planner's geometry) must be complete.
"""

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from pycsc.cli.main import main
from pycsc.config import FetchConfig
from pycsc.errors import FetchError
from pycsc.fetch import fetch
from pycsc.fetch.download import PARTIAL_DIR
from pycsc.io.manifest import read_manifest_csv, read_manifest_parquet

pytestmark = pytest.mark.s3
REPO = Path(__file__).resolve().parents[2]


def config(server, bucket, dest, **kw) -> FetchConfig:
    return FetchConfig(bucket=bucket, endpoint_url=server.endpoint_url, dest=Path(dest), workers=8,
                       progress=False, retries=3, **kw)


def local_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def data_files(root: Path, datasets) -> set[str]:
    return {f for f in local_files(root) if f.split("/", 1)[0] in datasets}


def overlap_region(level: zarr.Array, attrs_level: dict, crop: dict, pad: int):
    """Brute force: raw voxels whose extent overlaps the crop box, grown by `pad`, clamped."""
    t = {c["type"]: c[c["type"]] for c in attrs_level["coordinateTransformations"]}
    out = []
    for ax in range(3):
        v, tr, n = t["scale"][ax], t["translation"][ax], level.shape[ax]
        lo_box = crop["translation"][ax] - crop["voxel_size"][ax] / 2
        hi_box = lo_box + crop["shape"][ax] * crop["voxel_size"][ax]
        idx = np.arange(n)
        hit = idx[(tr + (idx + 0.5) * v > lo_box + 1e-6) & (tr + (idx - 0.5) * v < hi_box - 1e-6)]
        out.append(slice(max(hit.min() - pad, 0), min(hit.max() + 1 + pad, n)))
    return tuple(out)


def crop_geometries(source: Path, datasets, test_rows):
    """(dataset, crop id, (voxel size, translation, shape)) of every crop, read with zarr-python."""
    out = []
    for ds in datasets:
        gt = source / ds / f"{ds}.zarr/recon-1/labels/groundtruth"
        for crop in sorted(p.name for p in gt.iterdir() if p.is_dir()):
            g = zarr.open_group(str(gt / crop / "all"), mode="r")
            d0 = g.attrs["multiscales"][0]["datasets"][0]
            t = {c["type"]: c[c["type"]] for c in d0["coordinateTransformations"]}
            out.append((ds, int(crop[4:]), {"voxel_size": t["scale"], "translation": t["translation"],
                                            "shape": g[d0["path"]].shape}))
    for r in test_rows:
        out.append((r.dataset, r.crop_id, {"voxel_size": r.voxel_size, "translation": r.translation,
                                           "shape": r.shape}))
    return sorted({(a, b, tuple(map(tuple, c.values()))) for a, b, c in out})


def assert_em_complete(source, dest, datasets, test_rows, pad, all_res=False, crop_ids=None):
    for ds, crop_id, (vs, tr, shape) in crop_geometries(source, datasets, test_rows):
        if crop_ids is not None and crop_id not in crop_ids:
            continue
        crop = {"voxel_size": vs, "translation": tr, "shape": shape}
        em = f"{ds}/{ds}.zarr/recon-1/em/fibsem-uint8"
        src = zarr.open_group(str(source / em), mode="r")
        dst = zarr.open_group(str(dest / em), mode="r")
        for lv in src.attrs["multiscales"][0]["datasets"]:
            scale = {c["type"]: c[c["type"]] for c in lv["coordinateTransformations"]}["scale"]
            if not all_res and not all(s / v > 0.8 for s, v in zip(scale, vs)):
                continue
            region = overlap_region(src[lv["path"]], lv, crop, pad)
            np.testing.assert_array_equal(dst[lv["path"]][region], src[lv["path"]][region])


def test_full_fetch_is_identical_to_the_source(s3_server, sim_bucket, sim_source, tmp_path):
    source, result = sim_source
    report = fetch(config(s3_server, sim_bucket, tmp_path, test_manifest=result.test_manifest))
    assert not report.transfer.failed and report.transfer.downloaded > 0
    fetched = data_files(tmp_path, result.datasets)
    for key in fetched:
        assert (tmp_path / key).read_bytes() == (source / key).read_bytes(), key
    # every ground-truth object is there, test crops have none
    gt = {f for f in local_files(source) if "/labels/" in f}
    assert gt <= fetched
    assert not any(f"crop{r.crop_id}" in f for r in result.test_rows for f in fetched)
    for key in {f.rsplit("/", 1)[0] for f in gt if f.endswith(".zarray")}:
        np.testing.assert_array_equal(zarr.open_array(str(tmp_path / key), mode="r")[:],
                                      zarr.open_array(str(source / key), mode="r")[:])
    assert_em_complete(source, tmp_path, result.datasets, result.test_rows, pad=0)
    # the crawled manifest equals the simulator's training manifest (CSV and Parquet)
    key = lambda r: (r.dataset, r.crop_id, r.class_label)  # noqa: E731
    expected = sorted(result.train_rows, key=key)
    assert sorted(read_manifest_csv(tmp_path / "crop_manifest.csv"), key=key) == expected
    assert sorted(read_manifest_parquet(tmp_path / "crop_manifest.parquet"), key=key) == expected
    assert not (tmp_path / PARTIAL_DIR).exists()
    again = fetch(config(s3_server, sim_bucket, tmp_path, test_manifest=result.test_manifest))
    assert again.transfer.downloaded == 0 and again.transfer.skipped == report.transfer.downloaded


def test_filters_levels_and_padding(s3_server, sim_bucket, sim_source, tmp_path):
    source, result = sim_source
    ds = result.datasets[0]
    crop_16nm = next(r.crop_id for r in result.train_rows if r.dataset == ds and r.voxel_size[0] == 16.0)
    cfg = config(s3_server, sim_bucket, tmp_path / "a", datasets=(ds,), crops=str(crop_16nm),
                 classes=("mito", "ecs"))
    fetch(cfg)
    files = local_files(tmp_path / "a")
    crop_dir = f"{ds}/{ds}.zarr/recon-1/labels/groundtruth/crop{crop_16nm}/"
    top = {f[len(crop_dir):].split("/")[0] for f in files if f.startswith(crop_dir)}
    assert {t for t in top if not t.startswith(".")} == {"mito", "ecs"} and ".zgroup" in top
    em = f"{ds}/{ds}.zarr/recon-1/em/fibsem-uint8/"
    # s0 (8 nm) is finer than the 16 nm annotation: only its metadata is copied
    assert [f for f in files if f.startswith(em + "s0/")] == [em + "s0/.zarray"]
    assert any(f.startswith(em + "s1/") and not f.endswith(".zarray") for f in files)
    assert not any(f.startswith(result.datasets[1]) for f in files)

    fetch(dataclasses.replace(cfg, dest=tmp_path / "b", all_resolutions=True, raw_padding=5))
    files_b = local_files(tmp_path / "b")
    assert any(f.startswith(em + "s0/") and not f.endswith(".zarray") for f in files_b)
    assert len(files_b) > len(files)
    for f in data_files(tmp_path / "b", [ds]):
        assert (tmp_path / "b" / f).read_bytes() == (source / f).read_bytes()
    assert_em_complete(source, tmp_path / "b", [ds], [], pad=5, all_res=True, crop_ids={crop_16nm})


def test_dry_run_lists_bytes_and_writes_nothing(s3_server, sim_bucket, sim_source, tmp_path, capsys):
    source, result = sim_source
    dest = tmp_path / "none"
    rc = main(["fetch", "--bucket", sim_bucket, "--endpoint-url", s3_server.endpoint_url, "--dest", str(dest),
               "--dry-run", "--no-progress", "--test-manifest", str(result.test_manifest)])
    assert rc == 0 and not dest.exists()
    out = capsys.readouterr().out
    real = tmp_path / "real"
    fetch(config(s3_server, sim_bucket, real, test_manifest=result.test_manifest))
    fetched = data_files(real, result.datasets)
    total = sum((source / f).stat().st_size for f in fetched)
    assert f"total: {len(fetched)} objects, {total / 1e6:.2f} MB" in out
    for r in result.train_rows + result.test_rows:
        assert f" {r.crop_id} " in out


def test_killed_fetch_resumes_to_an_identical_result(s3_server, sim_bucket, sim_source, tmp_path):
    source, result = sim_source
    dest = tmp_path / "dest"
    s3_server.faults.latency_s = 0.03
    cmd = [sys.executable, "-m", "pycsc", "fetch", "--bucket", sim_bucket, "--endpoint-url",
           s3_server.endpoint_url, "--dest", str(dest), "--workers", "2", "--no-progress",
           "--test-manifest", str(result.test_manifest)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if dest.is_dir() and len(data_files(dest, result.datasets)) >= 40:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"fetch ended before it could be killed: {proc.stderr.read()[-500:]}"
    proc.kill()
    proc.wait()
    proc.stderr.close()
    s3_server.faults.reset()
    before = data_files(dest, result.datasets)
    for f in before:   # whatever was there under its final name is complete
        assert (dest / f).read_bytes() == (source / f).read_bytes()

    report = fetch(config(s3_server, sim_bucket, dest, test_manifest=result.test_manifest))
    full = tmp_path / "full"
    fetch(config(s3_server, sim_bucket, full, test_manifest=result.test_manifest))
    after = data_files(dest, result.datasets)
    assert after == data_files(full, result.datasets) and len(after) > len(before)
    assert report.transfer.skipped == len(before)
    assert report.transfer.downloaded == len(after) - len(before)
    for f in after:
        assert (dest / f).read_bytes() == (source / f).read_bytes()
    assert not (dest / PARTIAL_DIR).exists()


def test_verify_reports_missing_and_corrupt_then_repairs(s3_server, sim_bucket, sim_source, tmp_path, capsys):
    source, result = sim_source
    cfg = config(s3_server, sim_bucket, tmp_path)
    fetch(cfg)
    files = sorted(data_files(tmp_path, result.datasets))
    em_chunk = next(f for f in files if "/em/" in f and f.split("/")[-1].isdigit())
    gt_chunk = next(f for f in files if "/labels/" in f and f.split("/")[-1].isdigit())
    (tmp_path / em_chunk).unlink()
    data = bytearray((tmp_path / gt_chunk).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / gt_chunk).write_bytes(bytes(data))

    report = fetch(dataclasses.replace(cfg, verify=True, dry_run=True))
    assert report.verify.missing == [em_chunk] and report.verify.corrupt == [gt_chunk]
    assert not (tmp_path / em_chunk).exists()

    args = ["fetch", "--bucket", sim_bucket, "--endpoint-url", s3_server.endpoint_url, "--dest", str(tmp_path),
            "--verify", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"missing: {em_chunk}" in out and f"corrupt: {gt_chunk}" in out and "fetched 2 objects" in out
    for f in files:
        assert (tmp_path / f).read_bytes() == (source / f).read_bytes()
    assert main(args + ["--dry-run"]) == 0
    assert "0 missing, 0 corrupt" in capsys.readouterr().out


def test_transient_errors_are_retried(s3_server, sim_bucket, sim_source, tmp_path):
    source, result = sim_source
    s3_server.faults.fail_next(2, 503, "/em/fibsem-uint8/s1/")
    s3_server.faults.fail_next(2, 500, "/labels/groundtruth/")
    report = fetch(config(s3_server, sim_bucket, tmp_path))
    assert not report.transfer.failed
    for f in data_files(tmp_path, result.datasets):
        assert (tmp_path / f).read_bytes() == (source / f).read_bytes()


def test_access_denied_and_missing_metadata_name_the_key(s3_server, sim_source, publish, tmp_path):
    source, result = sim_source
    ds = result.datasets[0]
    publish("csc-broken", source, [ds])
    admin = s3_server.admin_client()
    chunk = next(f for f in sorted(local_files(source)) if f.startswith(f"{ds}/") and "/labels/" in f
                 and f.split("/")[-1].isdigit())
    admin.put_object_acl(Bucket="csc-broken", Key=chunk, ACL="private")
    with pytest.raises(FetchError, match=rf"access denied \(403\) to s3://csc-broken/{chunk}"):
        fetch(config(s3_server, "csc-broken", tmp_path / "a"))
    # everything else was still copied; a rerun resumes once access is fixed
    assert len(data_files(tmp_path / "a", [ds])) > 10
    admin.put_object_acl(Bucket="csc-broken", Key=chunk, ACL="public-read")
    assert not fetch(config(s3_server, "csc-broken", tmp_path / "a")).transfer.failed

    level_meta = f"{ds}/{ds}.zarr/recon-1/em/fibsem-uint8/s1/.zarray"
    admin.delete_object(Bucket="csc-broken", Key=level_meta)
    with pytest.raises(FetchError, match=rf"s3://csc-broken/{level_meta} does not exist \(404\)"):
        fetch(config(s3_server, "csc-broken", tmp_path / "b"))


def test_nothing_selected_is_an_error(s3_server, sim_bucket, tmp_path, capsys):
    with pytest.raises(FetchError, match="no crops match"):
        fetch(config(s3_server, sim_bucket, tmp_path, crops="777"))
    rc = main(["fetch", "--bucket", sim_bucket, "--endpoint-url", s3_server.endpoint_url, "--dest", str(tmp_path),
               "--datasets", "nope*", "--no-progress"])
    assert rc == 2 and "no crops match" in capsys.readouterr().err
