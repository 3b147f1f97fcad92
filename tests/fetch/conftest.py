"""A real S3-compatible server (moto) on 127.0.0.1 at an OS-assigned port, loaded with a
simulated dataset. Session-scoped; faults injected by a test are cleared after it."""

from pathlib import Path

import pytest

from pycsc.fetch.testing import LocalS3Server, upload_tree
from pycsc.simulate import simulate

BUCKET = "csc-sim"


@pytest.fixture(scope="session")
def s3_server():
    server = LocalS3Server().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clear_faults(request):
    yield
    if "s3_server" in request.fixturenames:
        request.getfixturevalue("s3_server").faults.reset()


@pytest.fixture(scope="session")
def sim_source(tmp_path_factory):
    """The tiny simulated data on disk (the source of truth for comparisons)."""
    root = tmp_path_factory.mktemp("sim")
    return root, simulate(root, "tiny", seed=3)


@pytest.fixture(scope="session")
def publish(s3_server):
    """publish(bucket, root, datasets): upload each dataset folder as public-read objects."""
    def upload(bucket: str, root: Path, datasets) -> list[str]:
        client = s3_server.admin_client()
        keys = []
        for ds in datasets:
            keys += upload_tree(client, bucket, Path(root) / ds, prefix=f"{ds}/")
        return keys
    return upload


@pytest.fixture(scope="session")
def sim_bucket(sim_source, publish):
    root, result = sim_source
    publish(BUCKET, root, result.datasets)
    return BUCKET
