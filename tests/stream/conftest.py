"""Streaming tests: the toy dataset on disk (the oracle) and the same bytes on a local S3
server (moto on 127.0.0.1, the fixture of tests/fetch/conftest.py, reused as is)."""

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_toy = _load("pycsc_tests_toy", HERE.parent / "data" / "_toy.py")
_fetch_fixtures = _load("pycsc_tests_fetch_conftest", HERE.parent / "fetch" / "conftest.py")
proxy = _load("pycsc_tests_stream_proxy", HERE / "_proxy.py")

# The session S3 server, its upload helper and the fault reset after each test.
s3_server = _fetch_fixtures.s3_server
publish = _fetch_fixtures.publish
_clear_faults = _fetch_fixtures._clear_faults

BUCKET = "csc-stream"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return _toy.build_toy(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="module")
def toy_bucket(toy, publish):
    """The toy data root uploaded as s3://csc-stream/<dataset>/..."""
    publish(BUCKET, toy["data_root"], [toy["dataset"]])
    return f"s3://{BUCKET}"


@pytest.fixture
def s3cfg(s3_server, tmp_path):
    """The S3 settings of a config pointing at the local server (crawl cache in tmp_path)."""
    from pycsc.config import S3StreamConfig

    return S3StreamConfig(endpoint_url=s3_server.endpoint_url, retries=8, retry_delay_s=0.01,
                          crawl_cache=tmp_path / "crawl", cache_mb=64)


@pytest.fixture
def dropping_proxy():
    """dropping_proxy(port): a DroppingProxy in front of a local server (stops on its own)."""
    return lambda port: proxy.DroppingProxy(port, lifetime_s=120)


@pytest.fixture(autouse=True)
def _fresh_stream_state():
    """Each test starts with no open handles and default settings (no leak between tests)."""
    from pycsc.io import s3_arrays

    yield
    s3_arrays.reset()
