"""CellMap class ids and which classes can never overlap (for true-negative masking).

The id table is the challenge's ``utils/classes.csv``: every class has an id; a group class
lists the atomic ids it is made of (``mito`` = mito_mem + mito_lum + mito_ribo). Two classes
are mutually exclusive when their id sets (own id plus included ids) are disjoint: a voxel
annotated as one is then a known negative for the other (a ``mito`` voxel is not ``ecs``).
"""

from __future__ import annotations

_GROUPS = {
    "nuc": (37, range(20, 30)), "golgi": (40, (6, 7)), "ves": (41, (8, 9)), "endo": (42, (10, 11)),
    "lyso": (43, (12, 13)), "ld": (44, (14, 15)), "eres": (46, (18, 19)), "perox": (49, (47, 48)),
    "mito": (50, (3, 4, 5)), "er": (51, range(16, 24)), "ne": (52, range(20, 24)),
    "np": (53, (22, 23)), "chrom": (54, range(24, 28)), "mt": (55, (30, 36)),
    "isg": (59, (56, 57, 58)),
    "cell": (60, (*range(2, 37), 38, 39, 47, 48, 56, 57, 58, 61, 62)),
    "er_mem_all": (64, (16, 18, 20)), "ne_mem_all": (65, (20, 22, 23)),
    "cent_all": (66, (31, 32, 33)), "chloroplast": (70, (67, 68, 69)), "vacuole": (73, (71, 72)),
}
_ATOMIC = (
    "ecs pm mito_mem mito_lum mito_ribo golgi_mem golgi_lum ves_mem ves_lum endo_mem endo_lum "
    "lyso_mem lyso_lum ld_mem ld_lum er_mem er_lum eres_mem eres_lum ne_mem ne_lum np_out np_in "
    "hchrom nhchrom echrom nechrom nucpl nucleo mt_out cent cent_dapp cent_sdapp ribo cyto mt_in"
).split()
_OTHER_ATOMIC = {"vim": 38, "glyco": 39, "rbc": 45, "perox_mem": 47, "perox_lum": 48,
                 "isg_mem": 56, "isg_lum": 57, "isg_ins": 58, "actin": 61, "tbar": 62, "bm": 63,
                 "chloroplast_mem": 67, "chloroplast_lum": 68, "chloroplast_sg": 69,
                 "vacuole_mem": 71, "vacuole_lum": 72, "plasmodesmata": 74}

#: class name -> (id, frozenset of the atomic ids it covers, itself included)
CLASS_IDS: dict[str, tuple[int, frozenset[int]]] = {
    **{name: (i, frozenset({i})) for i, name in enumerate(_ATOMIC, start=1)},
    **{name: (i, frozenset({i})) for name, i in _OTHER_ATOMIC.items()},
    **{name: (i, frozenset({i, *parts})) for name, (i, parts) in _GROUPS.items()},
}


def exclusive_classes(classes: list[str] | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """For each class, the other requested classes that can never share a voxel with it.

    Unknown class names (e.g. simulated ones) have no relations.

    Examples
    --------
    >>> exclusive_classes(["mito", "ecs", "mito_mem"])["ecs"]
    ('mito', 'mito_mem')
    >>> exclusive_classes(["mito", "mito_mem"])["mito"]
    ()
    """
    out = {}
    for c in classes:
        if c not in CLASS_IDS:
            out[c] = ()
            continue
        ids = CLASS_IDS[c][1]
        out[c] = tuple(d for d in classes
                       if d != c and d in CLASS_IDS and not (ids & CLASS_IDS[d][1]))
    return out
