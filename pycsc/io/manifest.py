"""Crop manifests: one row per (crop, class) with the class array's geometry.

The CSV format is the official ``test_crop_manifest.csv`` / ``train_crop_manifest.csv``
(spec: data.md section 7)::

    crop_name,dataset,class_label,voxel_size,translation,shape
    557,jrc_ctl-id8-1,mito,[8.0;8.0;8.0],[4000.0;8000.0;12000.0],[96;96;96]

vectors are zyx with ``;`` separators, so the file splits on ``,`` without quoting. The same
table is written as Parquet (typed list columns) through pyarrow.

The challenge's own tables ship with pycsc (``pycsc/tables/``, copied unchanged from the
official toolbox; provenance in its README): :func:`shipped_table` locates one, and
:func:`load_test_manifest` reads the official test-crop manifest (413 rows) unless a path or
the ``PYCSC_TEST_MANIFEST`` environment variable names another file.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import DataError
from .._atomic import atomic_write_bytes

COLUMNS = ("crop_name", "dataset", "class_label", "voxel_size", "translation", "shape")


@dataclass(frozen=True)
class CropRow:
    """One (crop, class) entry: crop id, dataset, class name and the array's s0 geometry."""

    crop_id: int
    dataset: str
    class_label: str
    voxel_size: tuple[float, ...]
    translation: tuple[float, ...]
    shape: tuple[int, ...]


def format_vector(values: Sequence[float]) -> str:
    """``[8.0;8.0;8.0]``-style vector (floats as Python repr, ints as ints).

    Examples
    --------
    >>> format_vector([23837.13, 7599.0, 36000]), format_vector((96, 80, 80))
    ('[23837.13;7599.0;36000]', '[96;80;80]')
    """
    return "[" + ";".join(repr(v) if isinstance(v, float) else str(int(v)) for v in values) + "]"


def parse_vector(text: str, kind=float, where: str = "manifest") -> tuple:
    """Parse ``[a;b;c]`` into a tuple of `kind`."""
    s = text.strip()
    if not (s.startswith("[") and s.endswith("]")):
        raise DataError(f"{where}: expected a vector like [1.0;2.0;3.0]; got {text!r}")
    try:
        return tuple(kind(float(v)) if kind is int else kind(v) for v in s[1:-1].split(";") if v.strip())
    except ValueError:
        raise DataError(f"{where}: cannot parse the numbers in {text!r}") from None


def _row_cells(r: CropRow) -> list[str]:
    return [str(r.crop_id), r.dataset, r.class_label,
            format_vector([float(v) for v in r.voxel_size]),
            format_vector([float(v) for v in r.translation]),
            format_vector([int(v) for v in r.shape])]


def write_manifest_csv(rows: Iterable[CropRow], path: str | os.PathLike) -> Path:
    """Write rows in the official manifest CSV format (atomically, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(_row_cells(r))
    atomic_write_bytes(Path(path), buf.getvalue().encode())
    return Path(path)


def read_manifest_csv(path: str | os.PathLike) -> list[CropRow]:
    """Read an official-format manifest CSV (the header must be the six standard columns)."""
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(f"manifest {p} does not exist") from None
    if not lines or tuple(c.strip() for c in lines[0].split(",")) != COLUMNS:
        raise DataError(f"manifest {p}: header must be {','.join(COLUMNS)}; got {lines[:1]}")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        where = f"{p}:{n}"
        if len(cells) != len(COLUMNS):
            raise DataError(f"{where}: expected {len(COLUMNS)} comma-separated cells; got {len(cells)}")
        try:
            crop_id = int(cells[0].removeprefix("crop"))
        except ValueError:
            raise DataError(f"{where}: crop_name must be an integer id; got {cells[0]!r}") from None
        rows.append(CropRow(crop_id, cells[1], cells[2], parse_vector(cells[3], float, where),
                            parse_vector(cells[4], float, where), parse_vector(cells[5], int, where)))
    return rows


def _table(rows: Sequence[CropRow]):
    import pyarrow as pa

    schema = pa.schema([("crop_name", pa.int64()), ("dataset", pa.string()),
                        ("class_label", pa.string()), ("voxel_size", pa.list_(pa.float64())),
                        ("translation", pa.list_(pa.float64())), ("shape", pa.list_(pa.int64()))])
    return pa.table({
        "crop_name": [r.crop_id for r in rows], "dataset": [r.dataset for r in rows],
        "class_label": [r.class_label for r in rows],
        "voxel_size": [list(map(float, r.voxel_size)) for r in rows],
        "translation": [list(map(float, r.translation)) for r in rows],
        "shape": [list(map(int, r.shape)) for r in rows]}, schema=schema)


def write_manifest_parquet(rows: Iterable[CropRow], path: str | os.PathLike) -> Path:
    """Write rows as a Parquet table with typed list columns (atomically)."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(_table(list(rows)), sink)
    atomic_write_bytes(Path(path), sink.getvalue())
    return Path(path)


def read_manifest_parquet(path: str | os.PathLike) -> list[CropRow]:
    """Read a table written by :func:`write_manifest_parquet`."""
    import pyarrow.parquet as pq

    table = pq.read_table(str(path)).to_pylist()
    return [CropRow(int(d["crop_name"]), d["dataset"], d["class_label"], tuple(d["voxel_size"]),
                    tuple(d["translation"]), tuple(d["shape"])) for d in table]


def read_manifest(path: str | os.PathLike) -> list[CropRow]:
    """Read a manifest from ``.csv`` or ``.parquet`` by suffix."""
    return read_manifest_parquet(path) if str(path).endswith(".parquet") else read_manifest_csv(path)


#: Environment variable naming a test-crop manifest to use instead of the shipped one.
TEST_MANIFEST_ENV = "PYCSC_TEST_MANIFEST"
#: The official tables shipped in ``pycsc/tables/``.
SHIPPED_TABLES = ("test_crop_manifest.csv", "train_crop_manifest.csv", "manifest.csv",
                  "zip_manifest.csv", "classes.csv", "tested_classes.csv")


def shipped_table(name: str) -> Path:
    """Path of one of the official tables shipped with pycsc (see :data:`SHIPPED_TABLES`).

    Examples
    --------
    >>> shipped_table("test_crop_manifest.csv").name
    'test_crop_manifest.csv'
    """
    if name not in SHIPPED_TABLES:
        raise DataError(f"no shipped table {name!r}; the tables are {', '.join(SHIPPED_TABLES)}")
    path = Path(__file__).resolve().parent.parent / "tables" / name
    if not path.is_file():
        raise DataError(f"the shipped table {path} is missing: the pycsc installation is incomplete; "
                        "reinstall pycsc")
    return path


def resolve_test_manifest(path: str | os.PathLike | None = None) -> Path:
    """The test-crop manifest to use: `path` if given, else ``$PYCSC_TEST_MANIFEST``, else the
    official manifest shipped with pycsc.

    Examples
    --------
    >>> resolve_test_manifest("my.csv").name, resolve_test_manifest().name
    ('my.csv', 'test_crop_manifest.csv')
    """
    if path is not None:
        return Path(path)
    env = os.environ.get(TEST_MANIFEST_ENV)
    if env:
        return Path(env)
    return shipped_table("test_crop_manifest.csv")


def load_test_manifest(path: str | os.PathLike | None = None) -> list[CropRow]:
    """Rows of the test-crop manifest: `path` (CSV or Parquet), or by default the official
    ``test_crop_manifest.csv`` shipped with pycsc (``$PYCSC_TEST_MANIFEST`` overrides it).

    Examples
    --------
    >>> rows = load_test_manifest()
    >>> len(rows), len({r.crop_id for r in rows})
    (413, 16)
    """
    return read_manifest(resolve_test_manifest(path))


def merge_by_crop(rows: Iterable[CropRow]) -> dict[int, CropRow]:
    """One geometry per crop id, as the official ``get_test_crops`` merges test rows:
    elementwise minimum voxel size and translation, maximum shape; class label ``"test"``."""
    merged: dict[int, CropRow] = {}
    for r in rows:
        m = merged.get(r.crop_id)
        if m is None:
            merged[r.crop_id] = CropRow(r.crop_id, r.dataset, "test", tuple(r.voxel_size),
                                        tuple(r.translation), tuple(r.shape))
            continue
        merged[r.crop_id] = CropRow(
            r.crop_id, m.dataset, "test",
            tuple(min(a, b) for a, b in zip(m.voxel_size, r.voxel_size)),
            tuple(min(a, b) for a, b in zip(m.translation, r.translation)),
            tuple(max(a, b) for a, b in zip(m.shape, r.shape)))
    return merged


__all__ = [
    "COLUMNS", "CropRow", "format_vector", "parse_vector", "write_manifest_csv",
    "read_manifest_csv", "write_manifest_parquet", "read_manifest_parquet", "read_manifest",
    "merge_by_crop", "TEST_MANIFEST_ENV", "SHIPPED_TABLES", "shipped_table", "resolve_test_manifest",
    "load_test_manifest",
]
