"""A small, strict, read-only Zarr v2 reader for truth and submission arrays.

Why not zarr-python: scoring must turn one corrupt chunk into a one-line error for that
label (naming the chunk), accept the layouts the official reader accepts (no ``.zgroup``
files, ``/`` or ``.`` chunk separators, missing chunks = fill value) and decode chunks in
parallel into one preallocated array (peak memory = the array plus one chunk per thread).
Reading never writes anything.
"""

from __future__ import annotations

import json
import math
import os
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, InputTypeError

#: dtype kinds a label array may have: bool, signed, unsigned, float.
SUPPORTED_KINDS = "biuf"


def read_json(path: Path) -> dict:
    """Read a small JSON metadata file; a syntax error becomes a DataError naming it."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(1 << 20).decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not readable JSON ({exc}); rewrite it with zarr") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} must hold a JSON object; found {type(data).__name__}")
    return data


def is_array(path: Path) -> bool:
    """A directory is a Zarr v2 array iff it holds a ``.zarray`` file (what zarr 2 checks)."""
    return (path / ".zarray").is_file()


def is_group(path: Path) -> bool:
    """A directory that is not an array counts as a group (``.zgroup`` optional, as official)."""
    return path.is_dir() and not is_array(path)


def child_arrays(group: Path) -> list[str]:
    """Names of the arrays directly below `group` (sorted), as zarr 2 ``array_keys()``."""
    try:
        names = sorted(os.listdir(group))
    except OSError as exc:
        raise DataError(f"cannot list {group}: {exc}") from None
    return [n for n in names if is_array(group / n)]


def child_groups(group: Path) -> list[str]:
    """Names of the sub-directories of `group` that are not arrays (sorted)."""
    try:
        names = sorted(os.listdir(group))
    except OSError as exc:
        raise DataError(f"cannot list {group}: {exc}") from None
    return [n for n in names if not n.startswith(".") and is_group(group / n)]


def _parse_fill(value: Any, dtype: np.dtype) -> Any:
    if value is None:
        return 0
    if isinstance(value, str):
        special = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}
        if value in special and dtype.kind == "f":
            return special[value]
        raise ValueError(f"fill_value {value!r} is not valid for dtype {dtype}")
    return value


@dataclass
class ZArray:
    """Metadata of one Zarr v2 array plus chunk-parallel reading.

    Examples
    --------
    >>> import tempfile, zarr, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> z = zarr.create_array(d + "/a.zarr", shape=(3, 4), chunks=(2, 2), dtype="u2", zarr_format=2)
    >>> z[:] = np.arange(12).reshape(3, 4)
    >>> ZArray.open(d + "/a.zarr").read()[2]
    array([ 8,  9, 10, 11], dtype=uint16)
    """

    path: Path
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    order: str
    fill_value: Any
    separator: str
    compressor: Any = None
    filters: list = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ZArray":
        """Parse ``.zarray``/``.zattrs``; raise DataError/InputTypeError naming the array."""
        path = Path(path)
        if not is_array(path):
            raise DataError(f"{path} is not a Zarr v2 array (no .zarray file)")
        meta = read_json(path / ".zarray")
        attrs = read_json(path / ".zattrs") if (path / ".zattrs").is_file() else {}
        try:
            if meta.get("zarr_format") != 2:
                raise ValueError(f"zarr_format must be 2; found {meta.get('zarr_format')!r}")
            shape = tuple(int(s) for s in meta["shape"])
            chunks = tuple(int(c) for c in meta["chunks"])
            if len(shape) != len(chunks) or any(s < 0 for s in shape) or any(c <= 0 for c in chunks):
                raise ValueError(f"shape {shape} / chunks {chunks} are inconsistent")
            dtype = np.dtype(meta["dtype"])
            order = meta.get("order", "C")
            if order not in ("C", "F"):
                raise ValueError(f"order must be 'C' or 'F'; found {order!r}")
            sep = meta.get("dimension_separator") or "."
            if sep not in (".", "/"):
                raise ValueError(f"dimension_separator must be '.' or '/'; found {sep!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}/.zarray is malformed ({exc}); rewrite the array with zarr") from None
        if dtype.kind not in SUPPORTED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise InputTypeError(
                f"{path} has dtype {dtype} ({meta['dtype']}); label arrays must be bool, integer or "
                "float; convert the array to uint8/uint32/float32"
            )
        try:
            fill = _parse_fill(meta.get("fill_value"), dtype)
            np.array(fill).astype(dtype)
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataError(f"{path}/.zarray: {exc}") from None
        compressor, filters = _codecs(path, meta)
        return cls(path, shape, chunks, dtype, order, fill, sep, compressor, filters, attrs)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def _chunk_path(self, index: tuple[int, ...]) -> Path:
        key = self.separator.join(str(i) for i in index) if index else "0"
        return self.path / key

    def _decode_into(self, index: tuple[int, ...], buf: np.ndarray) -> bool:
        """Decode the chunk at grid position `index` into the uint8 buffer `buf` (one whole
        chunk); return False if the chunk file is absent (= fill value)."""
        from numcodecs.compat import ensure_contiguous_ndarray

        p = self._chunk_path(index)
        try:
            with open(p, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise DataError(f"chunk {p.name} of {self.path} is unreadable: {exc}") from None
        name = p.relative_to(self.path)
        try:
            if getattr(self.compressor, "codec_id", None) == "blosc" and not self.filters:
                # Blosc header bytes 4..8: decoded size (decode(out=) would accept a short chunk).
                nbytes = struct.unpack_from("<I", raw, 4)[0] if len(raw) >= 16 else -1
                if nbytes != buf.size:
                    raise DataError(f"corrupt chunk {name} in {self.path}: decodes to {nbytes} bytes, "
                                    f"expected {buf.size}")
                self.compressor.decode(raw, out=buf)
                return True
            data = self.compressor.decode(raw) if self.compressor is not None else raw
            for flt in reversed(self.filters):
                data = flt.decode(data)
            arr = ensure_contiguous_ndarray(data).view("u1").reshape(-1)
        except DataError:
            raise
        except Exception as exc:  # numcodecs raises many types for garbage input
            raise DataError(f"corrupt chunk {name} in {self.path}: {type(exc).__name__}: {exc}") from None
        if arr.size != buf.size:
            raise DataError(f"corrupt chunk {name} in {self.path}: decodes to {arr.size} bytes, expected {buf.size}")
        buf[:] = arr
        return True

    def read(self, region: tuple[slice, ...] | None = None, *, threads: int | None = None) -> np.ndarray:
        """Read `region` (step-1 slices, default everything) into a new native-endian C array."""
        if region is None:
            region = tuple(slice(0, s) for s in self.shape)
        starts = [r.start for r in region]
        stops = [r.stop for r in region]
        shape = tuple(b - a for a, b in zip(starts, stops))
        # A zero fill value: calloc'd pages are zero already, so absent chunks (most of a sparse
        # label) cost neither a write nor, until something writes them, memory.
        zero_fill = bool(np.all(np.asarray(self.fill_value) == 0)) and not np.signbit(self.fill_value)
        out = (np.zeros if zero_fill else np.empty)(shape, dtype=self.dtype.newbyteorder("="))
        if out.size == 0:
            return out
        grid = [range(a // c, (b - 1) // c + 1) for a, b, c in zip(starts, stops, self.chunks)]
        indices = list(np.ndindex(*[len(g) for g in grid]))
        chunk_bytes = math.prod(self.chunks) * self.dtype.itemsize
        local = threading.local()

        def work(flat):
            buf = getattr(local, "buf", None)
            if buf is None:  # one decode buffer per thread, reused for every chunk
                buf = local.buf = np.empty(chunk_bytes, np.uint8)
            idx = tuple(g[i] for g, i in zip(grid, flat))
            src, dst = [], []
            for i, c, a, b in zip(idx, self.chunks, starts, stops):
                lo, hi = max(i * c, a), min((i + 1) * c, b)
                src.append(slice(lo - i * c, hi - i * c))
                dst.append(slice(lo - a, hi - a))
            if self._decode_into(idx, buf):
                out[tuple(dst)] = buf.view(self.dtype).reshape(self.chunks, order=self.order)[tuple(src)]
            elif not zero_fill:
                out[tuple(dst)] = self.fill_value

        n = min(threads or os.cpu_count() or 1, len(indices))
        if n <= 1:
            for flat in indices:
                work(flat)
        else:
            with ThreadPoolExecutor(n) as pool:
                for fut in [pool.submit(work, flat) for flat in indices]:
                    fut.result()
        return out


def _codecs(path: Path, meta: dict) -> tuple[Any, list]:
    import numcodecs
    from numcodecs import blosc

    # Chunks are decoded in parallel by our own threads; blosc's pool would oversubscribe.
    blosc.use_threads = False
    try:
        comp = meta.get("compressor")
        compressor = numcodecs.get_codec(dict(comp)) if comp else None
        filters = [numcodecs.get_codec(dict(f)) for f in (meta.get("filters") or [])]
    except Exception as exc:
        raise DataError(f"{path}/.zarray names a codec that cannot be used ({exc})") from None
    return compressor, filters


__all__ = ["ZArray", "read_json", "is_array", "is_group", "child_arrays", "child_groups"]
