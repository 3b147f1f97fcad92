"""The Zarr v2 reader against zarr-python (the oracle) and on broken stores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pycsc.errors import DataError, InputTypeError
from pycsc.eval.store import ZArray, child_arrays, child_groups

from .conftest import write_array

DTYPES = ["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int32", "int64", "float32", "float64", ">u4"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, chunks", [((1, 1, 1), (1, 1, 1)), ((7, 5, 9), (3, 4, 4)), ((0, 4, 4), (2, 2, 2)),
                                           ((5, 6), (5, 6)), ((16, 8, 4), (16, 8, 4))])
def test_read_matches_zarr(tmp_path, rng, dtype, shape, chunks):
    data = (rng.integers(0, 200, size=shape) % (2 if dtype == "bool" else 200)).astype(dtype)
    write_array(tmp_path / "a", data, chunks=chunks)
    got = ZArray.open(tmp_path / "a").read()
    assert got.dtype == np.dtype(dtype).newbyteorder("=") and got.dtype.isnative
    assert np.array_equal(got, data)


@pytest.mark.parametrize("separator", [".", "/"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_separator_order_region_and_missing_chunks(tmp_path, rng, separator, order):
    import zarr

    data = rng.integers(0, 9, size=(10, 11, 12)).astype(np.uint16)
    data[:5] = 3  # chunk-sized runs of the fill value are not stored by zarr
    z = zarr.create_array(str(tmp_path / "a"), shape=data.shape, dtype=data.dtype, chunks=(5, 4, 6),
                          zarr_format=2, chunk_key_encoding={"name": "v2", "separator": separator},
                          order=order, fill_value=3)
    z[...] = data
    arr = ZArray.open(tmp_path / "a")
    assert arr.separator == separator and arr.order == order
    assert np.array_equal(arr.read(), data)
    region = (slice(2, 9), slice(0, 11), slice(5, 7))
    assert np.array_equal(arr.read(region), data[region])
    assert np.array_equal(arr.read(threads=1), data)


def test_corrupt_chunk_names_the_chunk(tmp_path):
    write_array(tmp_path / "a", np.arange(64, dtype=np.uint32).reshape(4, 4, 4), chunks=(2, 4, 4))
    (tmp_path / "a" / "1.0.0").write_bytes(b"garbage" * 10)
    with pytest.raises(DataError, match=r"corrupt chunk 1\.0\.0 in .*a"):
        ZArray.open(tmp_path / "a").read()


def test_chunk_of_wrong_size(tmp_path):
    write_array(tmp_path / "a", np.zeros((4, 4), np.uint8), chunks=(4, 4), compressors=None)
    (tmp_path / "a" / "0.0").write_bytes(bytes(10))
    with pytest.raises(DataError, match="decodes to 10 bytes, expected 16"):
        ZArray.open(tmp_path / "a").read()


@pytest.mark.parametrize("edit, error, match", [
    (lambda m: m.pop("dtype"), DataError, "malformed"),
    (lambda m: m.update(dtype="<c8"), InputTypeError, "bool, integer or float"),
    (lambda m: m.update(dtype="|O"), InputTypeError, "bool, integer or float"),
    (lambda m: m.update(dtype="<U4"), InputTypeError, "bool, integer or float"),
    (lambda m: m.update(shape=[4, -1]), DataError, "inconsistent"),
    (lambda m: m.update(zarr_format=3), DataError, "zarr_format must be 2"),
    (lambda m: m.update(compressor={"id": "no-such-codec"}), DataError, "codec"),
    (lambda m: m.update(order="Z"), DataError, "order"),
])
def test_bad_metadata(tmp_path, edit, error, match):
    write_array(tmp_path / "a", np.zeros((4, 4), np.uint8))
    meta = json.loads((tmp_path / "a" / ".zarray").read_text())
    edit(meta)
    (tmp_path / "a" / ".zarray").write_text(json.dumps(meta))
    with pytest.raises(error, match=match):
        ZArray.open(tmp_path / "a")


def test_unparsable_json(tmp_path):
    write_array(tmp_path / "a", np.zeros((4, 4), np.uint8), attrs={"voxel_size": [1, 1]})
    (tmp_path / "a" / ".zattrs").write_text("{not json")
    with pytest.raises(DataError, match="not readable JSON"):
        ZArray.open(tmp_path / "a")


def test_listing_arrays_and_groups(tmp_path):
    write_array(tmp_path / "g" / "arr", np.zeros(3, np.uint8))
    (tmp_path / "g" / "sub").mkdir()
    (tmp_path / "g" / ".zgroup").write_text('{"zarr_format": 2}')
    assert child_arrays(tmp_path / "g") == ["arr"]
    assert child_groups(tmp_path / "g") == ["sub"]


@pytest.mark.parametrize("codec", ["blosc", "zstd", "gzip", "lz4"])
def test_short_chunk_is_detected_for_every_codec(tmp_path, codec):
    """A chunk that decodes to fewer bytes than a full chunk is corrupt, not silently padded."""
    import numcodecs

    write_array(tmp_path / "a", np.arange(64, dtype=np.uint8).reshape(8, 8), chunks=(8, 8),
                compressors=[numcodecs.get_codec({"id": codec})])
    (tmp_path / "a" / "0.0").write_bytes(numcodecs.get_codec({"id": codec}).encode(bytes(10)))
    with pytest.raises(DataError, match="decodes to 10 bytes, expected 64"):
        ZArray.open(tmp_path / "a").read()
    (tmp_path / "a" / "0.0").write_bytes(b"\x02\x01")
    with pytest.raises(DataError, match="corrupt chunk 0.0"):
        ZArray.open(tmp_path / "a").read()
