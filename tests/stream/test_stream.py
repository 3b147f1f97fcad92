"""Training and prediction straight from S3 (moto on 127.0.0.1) against the same bytes on disk.

The oracle is the run on the local copy: a datasplit, two training steps with a fixed seed and
a prediction of one crop must come out *identical* from the bucket, also when 5xx storms and
dropped connections hit the reads mid-epoch, and in the mixed mode (labels local, EM streamed).
"""

import dataclasses

import numpy as np
import pytest
import zarr

torch = pytest.importorskip("torch")

from pycsc.config import DatasplitConfig, PredictConfig, TrainConfig  # noqa: E402
from pycsc.data.dataset import PatchReader  # noqa: E402
from pycsc.data.datasplit import make_datasplit, read_datasplit  # noqa: E402
from pycsc.errors import DataError  # noqa: E402
from pycsc.io import s3_arrays  # noqa: E402
from pycsc.predict import predict  # noqa: E402
from pycsc.train import checkpoint as ckpt  # noqa: E402
from pycsc.train import train  # noqa: E402
from pycsc.train.log import ScalarLog, read_log  # noqa: E402

pytestmark = pytest.mark.s3
CLASSES = ("mito", "nuc")


def split(tmp_path, name, data_root, s3cfg, **kw):
    cfg = DatasplitConfig(data_root=str(data_root), output=tmp_path / f"{name}.csv", classes=CLASSES,
                          validation_fraction=0.5, seed=3, s3=s3cfg, **kw)
    return cfg, make_datasplit(cfg)


def short_training(tmp_path, name, datasplit, s3cfg, **kw):
    base = dict(datasplit=datasplit, output_dir=tmp_path / name, classes=CLASSES, patch_shape=(16, 16, 16),
                base_channels=4, depth=2, batch_size=2, epochs=1, iterations_per_epoch=2, num_workers=0,
                threads=1, validation_batches=0, progress=False, learning_rate=1e-3, seed=5, s3=s3cfg)
    base.update(kw)
    summary = train(TrainConfig(**base))
    losses = [r["loss"] for r in read_log(tmp_path / name / "logs") if "loss" in r]
    return summary, losses, ckpt.load(tmp_path / name / "checkpoints" / "latest.pt")["model"]


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_streamed_datasplit_equals_local(toy, toy_bucket, s3cfg, tmp_path):
    _, local = split(tmp_path, "local", toy["data_root"], s3cfg)
    _, remote = split(tmp_path, "remote", toy_bucket, s3cfg)
    assert [(r.usage, r.name, r.classes) for r in remote] == [(r.usage, r.name, r.classes) for r in local]
    assert {r.usage for r in remote} == {"train", "validate"}
    ds = toy["dataset"]
    assert remote[0].raw == f"{toy_bucket}/{ds}/{ds}.zarr/recon-1/em/fibsem-uint8"
    assert remote[0].crop == f"{toy_bucket}/{ds}/{ds}.zarr/recon-1/labels/groundtruth/crop1"
    assert read_datasplit(tmp_path / "remote.csv") == remote        # the CSV round-trips URLs
    line = (tmp_path / "remote.csv").read_text().splitlines()[0]
    assert line.split('","')[1:3] == [f"{toy_bucket}/{ds}/{ds}.zarr", "recon-1/em/fibsem-uint8"]


def test_crawl_is_cached_between_runs(toy, toy_bucket, s3cfg, s3_server, tmp_path):
    split(tmp_path, "first", toy_bucket, s3cfg)
    before = s3_server.faults.requests
    _, again = split(tmp_path, "second", toy_bucket, s3cfg)      # a restart: no listing at all
    assert s3_server.faults.requests == before and len(again) == 2
    split(tmp_path, "third", toy_bucket, dataclasses.replace(s3cfg, refresh_crawl=True))
    assert s3_server.faults.requests > before


def test_train_and_predict_from_s3_equal_disk(toy, toy_bucket, s3cfg, tmp_path):
    _, local_rows = split(tmp_path, "local", toy["data_root"], s3cfg)
    split(tmp_path, "remote", toy_bucket, s3cfg)
    s_local, loss_local, w_local = short_training(tmp_path, "disk", tmp_path / "local.csv", s3cfg)
    s_remote, loss_remote, w_remote = short_training(tmp_path, "s3", tmp_path / "remote.csv", s3cfg)
    assert s_local["steps"] == s_remote["steps"] == 2
    assert loss_remote == loss_local and same_weights(w_local, w_remote)

    outputs = {}
    for name, root in (("disk", toy["data_root"]), ("s3", toy_bucket)):
        cfg = PredictConfig(checkpoint=tmp_path / "disk" / "checkpoints" / "latest.pt", data_root=str(root),
                            manifest=toy["manifest"], output=str(tmp_path / f"pred_{name}/{{dataset}}.zarr/{{crop}}"),
                            dtype="float32", threads=1, progress=False, s3=s3cfg, crops=("test", "2"))
        results = predict(cfg)          # the test crop (manifest) and crop2 (found on disk / on S3)
        outputs[name] = {(r["crop"], c): zarr.open_array(f"{r['output']}/{c}/s0")[:]
                         for r in results for c in CLASSES}
    assert sorted(outputs["s3"]) == sorted(outputs["disk"]) and len(outputs["s3"]) == 4
    assert outputs["s3"][(f"{toy['dataset']}/crop9", "mito")].shape == (32, 32, 32)
    for key, disk in outputs["disk"].items():
        np.testing.assert_array_equal(outputs["s3"][key], disk)


def test_mixed_mode_labels_local_em_streamed(toy, toy_bucket, s3cfg, tmp_path):
    split(tmp_path, "local", toy["data_root"], s3cfg)
    mixed_cfg = dataclasses.replace(s3cfg, em_root=toy_bucket)
    _, rows = split(tmp_path, "mixed", toy["data_root"], mixed_cfg)
    assert all(r.raw.startswith("s3://") and not r.crop.startswith("s3://") for r in rows)
    _, loss_local, w_local = short_training(tmp_path, "disk", tmp_path / "local.csv", s3cfg)
    _, loss_mixed, w_mixed = short_training(tmp_path, "mixed", tmp_path / "mixed.csv", mixed_cfg)
    assert loss_mixed == loss_local and same_weights(w_local, w_mixed)


def test_5xx_storm_and_dropped_connections_mid_epoch_lose_no_step(
        toy, toy_bucket, s3cfg, s3_server, dropping_proxy, tmp_path, monkeypatch):
    split(tmp_path, "local", toy["data_root"], s3cfg)
    split(tmp_path, "remote", toy_bucket, s3cfg)
    _, loss_local, w_local = short_training(tmp_path, "disk", tmp_path / "local.csv", s3cfg,
                                            iterations_per_epoch=4)
    with dropping_proxy(s3_server.port) as proxy:
        # No chunk cache: every step reads from the server, so the faults hit later steps.
        faulty = dataclasses.replace(s3cfg, endpoint_url=proxy.endpoint_url, cache_mb=0)
        original = ScalarLog.write

        def storm_after_step_1(self, step, **scalars):
            original(self, step, **scalars)
            if step == 1 and "loss" in scalars:
                s3_server.faults.fail_next(12, status=503)
                s3_server.faults.fail_next(4, status=500)
                proxy.drop_next(3)

        monkeypatch.setattr(ScalarLog, "write", storm_after_step_1)
        summary, loss_s3, w_s3 = short_training(tmp_path, "faulty", tmp_path / "remote.csv", faulty,
                                                iterations_per_epoch=4)
        assert proxy.dropped == 3 and proxy.pending() == 0
    assert all(left == 0 for left, _, _ in s3_server.faults._fail)    # every injected 5xx was served
    assert summary["steps"] == 4 and loss_s3 == loss_local and same_weights(w_local, w_s3)


def test_warm_cache_answers_without_requests(toy, toy_bucket, s3cfg, s3_server, tmp_path):
    _, rows = split(tmp_path, "remote", toy_bucket, s3cfg)
    reader = PatchReader(rows, CLASSES, (16, 16, 16), (8.0, 8.0, 8.0))
    centre = np.array([8.0, 40.0, 80.0]) + 8 * 8.0
    cold = reader.read(0, centre)
    before = s3_server.faults.requests
    warm = reader.read(0, centre)
    assert s3_server.faults.requests == before
    local = PatchReader(read_datasplit(split(tmp_path, "local", toy["data_root"], s3cfg)[0].output),
                        CLASSES, (16, 16, 16), (8.0, 8.0, 8.0)).read(0, centre)
    for patch in (cold, warm):
        for name in ("raw", "target", "mask"):
            np.testing.assert_array_equal(getattr(patch, name), getattr(local, name))
    s3_arrays.configure(dataclasses.replace(s3cfg, cache_mb=0))     # the bound holds: 0 = no cache
    uncached = PatchReader(rows, CLASSES, (16, 16, 16), (8.0, 8.0, 8.0))
    uncached.read(0, centre)
    before = s3_server.faults.requests
    uncached.read(0, centre)
    assert s3_server.faults.requests > before


def test_clear_errors(toy, toy_bucket, s3cfg, s3_server, tmp_path):
    s3_arrays.configure(dataclasses.replace(s3cfg, retries=1))
    ds = toy["dataset"]
    with pytest.raises(DataError, match="csc-no-such-bucket.*does not exist"):
        s3_arrays.open_array(f"s3://csc-no-such-bucket/{ds}/{ds}.zarr/recon-1/em/fibsem-uint8/s0")
    with pytest.raises(DataError, match="no zarr array at .*/nowhere/s0"):
        s3_arrays.open_array(f"{toy_bucket}/nowhere/s0")
    s3_server.faults.forbidden.add("/fibsem-uint8/s1/")
    with pytest.raises(DataError, match="access denied .*not public.*credentials"):
        s3_arrays.open_array(f"{toy_bucket}/{ds}/{ds}.zarr/recon-1/em/fibsem-uint8/s1")
    s3_server.faults.fail_next(50, status=503, path_contains="/labels/")
    with pytest.raises(DataError, match="still failed after 1 retries"):
        s3_arrays.open_array(f"{toy_bucket}/{ds}/{ds}.zarr/recon-1/labels/groundtruth/crop1/mito/s0")
    s3_server.faults.reset()
    with pytest.raises(DataError, match="crawling s3://csc-no-such-bucket.*does not exist"):
        split(tmp_path, "none", "s3://csc-no-such-bucket", s3cfg)


def test_cli_datasplit_and_train_flags(toy_bucket, s3_server, tmp_path, monkeypatch, capsys):
    from pycsc.cli import datasplit as datasplit_cli
    from pycsc.cli.main import main

    out = tmp_path / "cli.csv"
    rc = main(["datasplit", "--data-root", toy_bucket, "--classes", "mito,nuc", "--output", str(out),
               "--s3-endpoint-url", s3_server.endpoint_url, "--s3-crawl-cache", str(tmp_path / "c")])
    assert rc == 0 and "2 crops" in capsys.readouterr().out
    assert all(r.raw.startswith(toy_bucket) for r in read_datasplit(out))
    seen = []
    monkeypatch.setattr("pycsc.data.datasplit.make_datasplit", lambda cfg: seen.append(cfg) or read_datasplit(out))
    assert main(["datasplit", "--s3", "--output", str(out)]) == 0          # no request is made here
    assert seen[0].data_root == datasplit_cli.PUBLIC_S3_ROOT
    from pycsc.cli._options import config_from_args
    from pycsc.cli.main import build_parser

    cfg = config_from_args(build_parser().parse_args(
        ["train", "--s3-endpoint-url", "http://127.0.0.1:1", "--s3-cache-mb", "64", "--no-s3-anonymous"]))
    assert (cfg.s3.endpoint_url, cfg.s3.cache_mb, cfg.s3.anonymous) == ("http://127.0.0.1:1", 64, False)


@pytest.mark.slow
def test_spawned_loader_workers_stream_with_the_parent_settings(toy, toy_bucket, s3cfg, tmp_path):
    split(tmp_path, "local", toy["data_root"], s3cfg)
    split(tmp_path, "remote", toy_bucket, s3cfg)
    _, loss_local, w_local = short_training(tmp_path, "disk", tmp_path / "local.csv", s3cfg, num_workers=1)
    _, loss_s3, w_s3 = short_training(tmp_path, "s3", tmp_path / "remote.csv", s3cfg, num_workers=1)
    assert loss_s3 == loss_local and same_weights(w_local, w_s3)


def test_private_bucket_anonymous_is_denied_signed_reads(toy, s3cfg, s3_server, monkeypatch):
    from pycsc.fetch.testing import upload_tree

    ds = toy["dataset"]
    upload_tree(s3_server.admin_client(), "csc-private", toy["data_root"] / ds, prefix=f"{ds}/", public=False)
    url = f"s3://csc-private/{ds}/{ds}.zarr/recon-1/em/fibsem-uint8/s0"
    s3_arrays.configure(dataclasses.replace(s3cfg, retries=1))
    with pytest.raises(DataError, match="access denied .*--no-s3-anonymous.*AWS_ACCESS_KEY_ID"):
        s3_arrays.open_array(url)
    # Credentials from the environment only (moto accepts any): no other provider is reached.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3_arrays.configure(dataclasses.replace(s3cfg, anonymous=False))
    np.testing.assert_array_equal(s3_arrays.open_array(url).read().result(), toy["em"])
