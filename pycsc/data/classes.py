"""Which classes can never overlap, for true-negative masking in the training targets.

Two classes are mutually exclusive when the atomic ids they cover (the challenge's
``classes.csv``, :mod:`pycsc.io.classes`) are disjoint: a voxel annotated as one is then a
known negative for the other (a ``mito`` voxel is not ``ecs``).
"""

from __future__ import annotations

from ..io.classes import CLASS_IDS, atomic_ids


def exclusive_classes(classes: list[str] | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """For each class, the other requested classes that can never share a voxel with it.

    Names outside the official class table have no relations.

    Examples
    --------
    >>> exclusive_classes(["mito", "ecs", "mito_mem"])["ecs"]
    ('mito', 'mito_mem')
    >>> exclusive_classes(["mito", "mito_mem"])["mito"]
    ()
    """
    ids = {c: set(atomic_ids(c)) for c in classes if c in CLASS_IDS}
    return {c: tuple(d for d in classes if d != c and d in ids and not ids[c] & ids[d]) if c in ids else ()
            for c in classes}
