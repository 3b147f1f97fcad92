"""The test-crop manifest: the grid (voxel size, translation, shape) of every scored (crop, class).

Format (the official ``test_crop_manifest.csv``)::

    crop_name,dataset,class_label,voxel_size,translation,shape
    104,jrc_synth-1,ves,[1.74;2.0;2.0],[23837.13;7599.0;35999.0],[96;80;80]

Vectors are z, y, x in nm (voxel size, translation = centre of voxel 0) and voxels (shape).
As in the official loader, a later row with the same (crop, class) replaces an earlier one,
and ``total_evals`` is the number of distinct keys. A row whose crop and class can be read
but whose vectors cannot (unparsable, non-finite or non-positive voxel size, ...) maps to an
:class:`InvalidGeometry`: only the labels it describes fail, every other label is scored.
A row without a readable crop id or class describes no label and is skipped.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

HEADER = ("crop_name", "dataset", "class_label", "voxel_size", "translation", "shape")


@dataclass(frozen=True)
class CropGeometry:
    """Target grid of one (crop, class): voxel size and translation in nm, shape in voxels (zyx)."""

    voxel_size: tuple[float, ...]
    translation: tuple[float, ...]
    shape: tuple[int, ...]

    @property
    def num_voxels(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class InvalidGeometry:
    """A manifest row that names a (crop, class) but whose grid is unusable; `reason` says why."""

    reason: str


def _vector(text: str, kind: type, where: str) -> tuple:
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise DataError(f"{where}: expected a bracketed list like [8.0;8.0;8.0]; found {text!r}")
    try:
        values = tuple(kind(v) for v in body[1:-1].split(";"))
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a list of {kind.__name__}s") from None
    if len(values) != 3:
        raise DataError(f"{where}: expected 3 values (z;y;x); found {len(values)} in {text!r}")
    return values


def parse_manifest(text: str, source: str = "manifest") -> dict[tuple[int, str], CropGeometry | InvalidGeometry]:
    """Parse manifest CSV text into ``{(crop_id, class_label): CropGeometry}``.

    Examples
    --------
    >>> m = parse_manifest("crop_name,dataset,class_label,voxel_size,translation,shape\\n"
    ...                    "7,ds,mito,[8.0;8.0;8.0],[0.0;8.0;16.0],[10;12;14]\\n")
    >>> m[(7, "mito")].shape
    (10, 12, 14)
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{source} is empty; expected the header {','.join(HEADER)}")
    header = tuple(h.strip() for h in lines[0].split(","))
    if header != HEADER:
        raise DataError(f"{source}: header must be {','.join(HEADER)}; found {lines[0]!r}")
    rows: dict[tuple[int, str], CropGeometry | InvalidGeometry] = {}
    for number, line in enumerate(lines[1:], start=2):
        where = f"{source} line {number}"
        cells = line.split(",")
        try:
            crop = int(cells[0])
        except ValueError:
            continue  # no crop id: the row describes no label that could be scored
        label = cells[2].strip() if len(cells) > 2 else ""
        if not label:
            continue
        try:
            rows[(crop, label)] = _row_geometry(cells, where)
        except DataError as exc:
            rows[(crop, label)] = InvalidGeometry(str(exc))
    return rows


def _row_geometry(cells: list[str], where: str) -> CropGeometry:
    if len(cells) != len(HEADER):
        raise DataError(f"{where}: expected {len(HEADER)} comma-separated fields; found {len(cells)}")
    vs = _vector(cells[3], float, f"{where} voxel_size")
    tr = _vector(cells[4], float, f"{where} translation")
    shape = _vector(cells[5], int, f"{where} shape")
    if not all(math.isfinite(v) and v > 0 for v in vs):
        raise DataError(f"{where}: voxel sizes must be finite and > 0; found {list(vs)}")
    if not all(math.isfinite(t) for t in tr):
        raise DataError(f"{where}: translations must be finite; found {list(tr)}")
    if any(s <= 0 for s in shape):
        raise DataError(f"{where}: shape entries must be > 0; found {shape}")
    return CropGeometry(vs, tr, shape)


def load_manifest(path: str | os.PathLike) -> dict[tuple[int, str], CropGeometry | InvalidGeometry]:
    """Read and parse a manifest CSV file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"test-crop manifest {p} does not exist; pass --manifest with an existing CSV") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"test-crop manifest {p} is unreadable: {exc}") from None
    return parse_manifest(text, str(p))


def crop_id(crop_name: str) -> int | None:
    """``"crop104"`` -> 104 (the official ``int(crop.removeprefix("crop"))``); None if not numeric."""
    try:
        return int(crop_name.removeprefix("crop"))
    except ValueError:
        return None


__all__ = ["CropGeometry", "InvalidGeometry", "parse_manifest", "load_manifest", "crop_id"]
