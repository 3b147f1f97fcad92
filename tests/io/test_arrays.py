"""tensorstore reads/writes checked against zarr-python (an independent implementation)."""

from pathlib import Path

import numpy as np
import pytest
import zarr

from pycsc.errors import DataError, InputError
from pycsc.io.arrays import (S3Options, kvstore_spec, read_array, read_attrs, split_s3, write_array,
                             write_arrays, zarr_format)

DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int32, np.int64, np.float32, np.float64, np.bool_]
SHAPES = [(1, 1, 1), (1, 7, 1), (5, 6, 7), (17, 3, 33)]
GOLDEN = Path("/work/shared/golden")


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, min(np.iinfo(dtype).max, 2**31), shape).astype(dtype)


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_write_then_zarr_python_reads(tmp_path, fmt, dtype, shape):
    data = _data(shape, dtype)
    write_array(tmp_path / "a", data, chunks=(4, 4, 4), zarr_format=fmt, attrs={"voxel_size": [1.0, 2.0, 3.0]})
    z = zarr.open_array(str(tmp_path / "a"), mode="r")
    assert z.dtype == np.dtype(dtype) and z.shape == shape
    np.testing.assert_array_equal(z[:], data)
    assert z.attrs["voxel_size"] == [1.0, 2.0, 3.0]
    assert zarr_format(tmp_path / "a") == fmt


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.float32])
def test_read_what_zarr_python_wrote(tmp_path, fmt, dtype):
    data = _data((13, 14, 15), dtype, 1)
    z = zarr.create_array(str(tmp_path / "a"), shape=data.shape, chunks=(5, 5, 5), dtype=dtype,
                          zarr_format=fmt, attributes={"translation": [1, 2, 3]}, fill_value=0)
    z[:] = data
    np.testing.assert_array_equal(read_array(tmp_path / "a"), data)
    region = (slice(2, 11), slice(0, 1), slice(4, 15))
    np.testing.assert_array_equal(read_array(tmp_path / "a", region), data[region])
    assert read_attrs(tmp_path / "a")["translation"] == [1, 2, 3]


def test_missing_chunks_read_as_fill_value(tmp_path):
    z = zarr.create_array(str(tmp_path / "a"), shape=(8, 8), chunks=(4, 4), dtype="u1", zarr_format=2,
                          fill_value=7)
    z[:4, :4] = 1
    out = read_array(tmp_path / "a")
    assert (out[:4, :4] == 1).all() and (out[4:, :] == 7).all()


def test_golden_truth_arrays_read_identically():
    crop = GOLDEN / "g04_anisotropic_real_translation/truth.zarr/crop104"
    if not crop.exists():
        pytest.skip("golden cases not available")
    for label in sorted(p.name for p in crop.iterdir() if p.is_dir()):
        z = zarr.open_array(str(crop / label), mode="r")
        np.testing.assert_array_equal(read_array(crop / label), z[:])
        assert read_attrs(crop / label)["voxel_size"] == [1.74, 2.0, 2.0]


def test_write_arrays_many(tmp_path):
    items = [(tmp_path / f"a{i}", _data((3, 4, 5), np.uint16, i)) for i in range(6)]
    write_arrays(items, (2, 2, 2), attrs=[{"i": i} for i in range(6)])
    for i, (loc, d) in enumerate(items):
        np.testing.assert_array_equal(zarr.open_array(str(loc), mode="r")[:], d)
        assert read_attrs(loc) == {"i": i}


def test_kvstore_specs():
    spec = kvstore_spec("s3://janelia-cosem-datasets/jrc_cos7-1a/jrc_cos7-1a.zarr",
                        S3Options(endpoint_url="http://127.0.0.1:9000"))
    assert spec == {"driver": "s3", "bucket": "janelia-cosem-datasets", "path": "jrc_cos7-1a/jrc_cos7-1a.zarr/",
                    "aws_region": "us-east-1", "endpoint": "http://127.0.0.1:9000",
                    "aws_credentials": {"type": "anonymous"}}
    assert "aws_credentials" not in kvstore_spec("s3://b/k", S3Options(anonymous=False))
    assert kvstore_spec("/tmp/x")["driver"] == "file"
    assert split_s3("s3://b/a/b/") == ("b", "a/b")
    with pytest.raises(InputError):
        split_s3("s3:///x")


def test_errors_name_the_location(tmp_path):
    with pytest.raises(DataError, match="not a zarr"):
        read_array(tmp_path / "nothing")
    with pytest.raises(InputError, match="chunks"):
        write_array(tmp_path / "a", np.zeros((2, 2)), chunks=(0, 1))
    with pytest.raises(InputError, match="zarr_format"):
        write_array(tmp_path / "a", np.zeros((2, 2)), chunks=(1, 1), zarr_format=4)
