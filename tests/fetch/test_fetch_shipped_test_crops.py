"""`csc fetch --crops test` with no manifest flag plans the EM around the official test crops
(the manifest shipped with pycsc), here against a bucket holding one dataset named like a real
test dataset (EM metadata only: a dry run sizes chunks and tolerates absent ones)."""

from pathlib import Path

import pytest

from pycsc import io
from pycsc.cli.main import main
from pycsc.fetch.testing import upload_tree
from pycsc.io.manifest import load_test_manifest

pytestmark = pytest.mark.s3
BUCKET = "csc-official-names"
DATASET = "jrc_mus-nacc-1"         # test crops 561 (2 nm) and 982 (16 nm)


@pytest.fixture(scope="module")
def official_bucket(s3_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    em = root / DATASET / f"{DATASET}.zarr" / "recon-1" / "em" / "fibsem-uint8"
    ms = io.pyramid((16.0, 16.0, 16.0), (6.0, 6.0, 6.0), 2)
    io.ngff.write_multiscale_group(em, ms)
    for k, shape in enumerate([(160, 420, 420), (80, 210, 210)]):
        io.create_array(em / f"s{k}", shape, "uint8", (64, 64, 64))     # metadata only, no chunk
    upload_tree(s3_server.admin_client(), BUCKET, root / DATASET, prefix=f"{DATASET}/")
    return BUCKET


def test_crops_test_uses_the_shipped_manifest(s3_server, official_bucket, tmp_path, capsys):
    dest = tmp_path / "data"
    rc = main(["fetch", "--bucket", official_bucket, "--endpoint-url", s3_server.endpoint_url,
               "--dest", str(dest), "--crops", "test", "--dry-run", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and not dest.exists()
    planned = {int(line.split()[1]) for line in out.splitlines() if line.startswith(DATASET)}
    expected = {r.crop_id for r in load_test_manifest() if r.dataset == DATASET}
    assert planned == expected == {561, 982}
    assert all(" test " in line for line in out.splitlines() if line.startswith(DATASET))
    assert "absent from the bucket and were skipped" in out        # the other 14 test crops


def test_an_explicit_manifest_still_wins(s3_server, official_bucket, tmp_path, capsys):
    rows = [r for r in load_test_manifest() if r.crop_id == 982]
    mine = io.write_manifest_csv(rows, tmp_path / "mine.csv")
    rc = main(["fetch", "--bucket", official_bucket, "--endpoint-url", s3_server.endpoint_url,
               "--dest", str(tmp_path / "d"), "--crops", "test", "--dry-run", "--no-progress",
               "--test-manifest", str(Path(mine))])
    out = capsys.readouterr().out
    assert rc == 0
    assert {int(line.split()[1]) for line in out.splitlines() if line.startswith(DATASET)} == {982}
