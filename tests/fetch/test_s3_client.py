"""pycsc.io.s3 against a real S3-compatible server: listing, errors naming keys, retries."""

import pytest

from pycsc.errors import FetchError
from pycsc.io.arrays import S3Options, read_array, read_attrs
from pycsc.io.s3 import S3Client

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def bucket(s3_server):
    admin = s3_server.admin_client()
    admin.create_bucket(Bucket="client-test", ACL="public-read")
    for i in range(23):
        admin.put_object(Bucket="client-test", Key=f"a/k{i:02d}", Body=bytes([i]) * (i + 1), ACL="public-read")
    admin.put_object(Bucket="client-test", Key="b/c/d", Body=b"x", ACL="public-read")
    admin.put_object(Bucket="client-test", Key="private/key", Body=b"secret", ACL="private")
    return "client-test"


def client(server, bucket, **kw):
    return S3Client(bucket, endpoint_url=server.endpoint_url, backoff_s=0.001, **kw)


def test_listing_paginates(s3_server, bucket):
    c = client(s3_server, bucket)
    c.page_size = 5
    objects = c.list_objects("a/")
    assert [o.key for o in objects] == [f"a/k{i:02d}" for i in range(23)]
    assert [o.size for o in objects] == list(range(1, 24))
    assert sorted(c.list_prefixes("")) == ["a", "b", "private"]
    assert c.list_prefixes("b") == ["c"]


def test_get_head_and_missing_keys(s3_server, bucket):
    c = client(s3_server, bucket)
    assert c.get("a/k03") == b"\x03" * 4
    assert c.head("a/k03").size == 4
    assert c.head("a/nope") is None
    assert c.get("a/nope", missing_ok=True) is None
    with pytest.raises(FetchError, match=r"s3://client-test/a/nope does not exist \(404\)"):
        c.get("a/nope")


def test_access_denied_names_the_key(s3_server, bucket):
    with pytest.raises(FetchError, match=r"access denied \(403\) to s3://client-test/private/key"):
        client(s3_server, bucket).get("private/key")


def test_missing_bucket(s3_server):
    with pytest.raises(FetchError, match="no-such-bucket"):
        client(s3_server, "no-such-bucket").list_objects("")


def test_retries_on_5xx_then_succeeds(s3_server, bucket):
    s3_server.faults.fail_next(3, 503, "a/k05")
    assert client(s3_server, bucket, retries=3).get("a/k05") == b"\x05" * 6
    s3_server.faults.fail_next(2, 500, "a/k06")
    assert client(s3_server, bucket, retries=3).head("a/k06").size == 7


def test_retries_exhausted_names_the_key(s3_server, bucket):
    s3_server.faults.fail_next(10, 503, "a/k07")
    with pytest.raises(FetchError, match=r"GET s3://client-test/a/k07 failed after 3 attempts; last error: HTTP 503"):
        client(s3_server, bucket, retries=2).get("a/k07")


def test_timeouts_are_retried(s3_server, bucket):
    c = client(s3_server, bucket, retries=1, timeout_s=0.3)
    s3_server.faults.latency_s = 1.0
    with pytest.raises(FetchError, match="after 2 attempts"):
        c.get("a/k01")


def test_tensorstore_reads_zarr_from_s3(s3_server, sim_bucket, sim_source):
    import zarr

    root, result = sim_source
    ds = result.datasets[0]
    rel = f"{ds}/{ds}.zarr/recon-1/em/fibsem-uint8"
    opts = S3Options(endpoint_url=s3_server.endpoint_url)
    url = f"s3://{sim_bucket}/{rel}"
    assert read_attrs(url, opts)["multiscales"][0]["datasets"][0]["path"] == "s0"
    local = zarr.open_array(str(root / rel / "s1"), mode="r")[:]
    region = (slice(1, 20), slice(3, 30), slice(0, 9))
    import numpy as np
    np.testing.assert_array_equal(read_array(f"{url}/s1", region, s3=opts), local[region])
