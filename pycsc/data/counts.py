"""Crops per class per dataset in local data (the official ``csc get-counts``)."""

from __future__ import annotations

from pathlib import Path

from .datasplit import crop_classes, find_crops, raw_group_of


def dataset_counts(data_root: str | Path, classes, raw_name: str = "em/fibsem-uint8",
                   datasets=("*",)) -> dict[str, dict[str, int]]:
    """``{dataset: {class: number of local crops annotating it}}``, datasets sorted.

    As the official command, a crop whose EM is absent (neither the group nor an ``.n5``
    sibling of the zarr root) is not counted.
    """
    counts: dict[str, dict[str, int]] = {}
    for dataset, crop in find_crops(data_root, datasets):
        raw = raw_group_of(crop, raw_name)
        n5 = Path(str(crop.parents[3]).removesuffix(".zarr") + ".n5")
        if not raw.is_dir() and not n5.is_dir():
            continue
        present = set(crop_classes(crop))
        row = counts.setdefault(dataset, {c: 0 for c in classes})
        for c in classes:
            row[c] += c in present
    return dict(sorted(counts.items()))


def format_counts(counts: dict[str, dict[str, int]], classes) -> str:
    """A table, one dataset per line, one column per class, and a total line."""
    width = max([len("dataset"), *map(len, counts)])
    lines = [f"{'dataset':<{width}}  " + "  ".join(f"{c:>8}" for c in classes)]
    for ds, row in counts.items():
        lines.append(f"{ds:<{width}}  " + "  ".join(f"{row[c]:>8}" for c in classes))
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{sum(r[c] for r in counts.values()):>8}" for c in classes))
    return "\n".join(lines)


__all__ = ["dataset_counts", "format_counts"]
