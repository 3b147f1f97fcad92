"""The challenge's annotation classes: ids, group membership, instance vs semantic.

Facts from the official ``utils/classes.csv``, ``utils/tested_classes.csv`` and
``config.INSTANCE_CLASSES`` (spec: data.md section 8). An *atomic* class has no members; a
*group* class is the union of the atomic ids it lists (``mito`` = mito_mem + mito_lum +
mito_ribo). Whether a class is scored as instances depends only on membership in
:data:`INSTANCE_CLASSES`.
"""

from __future__ import annotations

from ..errors import InputError

#: name -> id for every class of ``utils/classes.csv`` (ids 1..74).
CLASS_IDS: dict[str, int] = {
    "ecs": 1, "pm": 2, "mito_mem": 3, "mito_lum": 4, "mito_ribo": 5, "golgi_mem": 6,
    "golgi_lum": 7, "ves_mem": 8, "ves_lum": 9, "endo_mem": 10, "endo_lum": 11,
    "lyso_mem": 12, "lyso_lum": 13, "ld_mem": 14, "ld_lum": 15, "er_mem": 16, "er_lum": 17,
    "eres_mem": 18, "eres_lum": 19, "ne_mem": 20, "ne_lum": 21, "np_out": 22, "np_in": 23,
    "hchrom": 24, "nhchrom": 25, "echrom": 26, "nechrom": 27, "nucpl": 28, "nucleo": 29,
    "mt_out": 30, "cent": 31, "cent_dapp": 32, "cent_sdapp": 33, "ribo": 34, "cyto": 35,
    "mt_in": 36, "nuc": 37, "vim": 38, "glyco": 39, "golgi": 40, "ves": 41, "endo": 42,
    "lyso": 43, "ld": 44, "rbc": 45, "eres": 46, "perox_mem": 47, "perox_lum": 48,
    "perox": 49, "mito": 50, "er": 51, "ne": 52, "np": 53, "chrom": 54, "mt": 55,
    "isg_mem": 56, "isg_lum": 57, "isg_ins": 58, "isg": 59, "cell": 60, "actin": 61,
    "tbar": 62, "bm": 63, "er_mem_all": 64, "ne_mem_all": 65, "cent_all": 66,
    "chloroplast_mem": 67, "chloroplast_lum": 68, "chloroplast_sg": 69, "chloroplast": 70,
    "vacuole_mem": 71, "vacuole_lum": 72, "vacuole": 73, "plasmodesmata": 74,
}

#: group id -> the atomic ids it is the union of.
GROUP_MEMBERS: dict[int, tuple[int, ...]] = {
    37: tuple(range(20, 30)), 40: (6, 7), 41: (8, 9), 42: (10, 11), 43: (12, 13),
    44: (14, 15), 46: (18, 19), 49: (47, 48), 50: (3, 4, 5), 51: tuple(range(16, 24)),
    52: (20, 21, 22, 23), 53: (22, 23), 54: (24, 25, 26, 27), 55: (30, 36),
    59: (56, 57, 58),
    60: tuple(range(2, 37)) + (38, 39, 47, 48, 56, 57, 58, 61, 62),
    64: (16, 18, 20), 65: (20, 22, 23), 66: (31, 32, 33), 70: (67, 68, 69), 73: (71, 72),
}

#: Classes scored as instance segmentations (``config.INSTANCE_CLASSES``).
INSTANCE_CLASSES: tuple[str, ...] = (
    "nuc", "vim", "ves", "endo", "lyso", "ld", "perox", "mito", "np", "mt", "cell", "instance",
)

#: The 48 scored classes of ``utils/tested_classes.csv``, in file order.
TESTED_CLASSES: tuple[str, ...] = (
    "ecs", "pm", "mito_mem", "mito_lum", "mito_ribo", "golgi_mem", "golgi_lum", "ves_mem",
    "ves_lum", "endo_mem", "endo_lum", "lyso_mem", "lyso_lum", "ld_mem", "ld_lum", "er_mem",
    "er_lum", "eres_mem", "eres_lum", "ne_mem", "ne_lum", "np_out", "np_in", "hchrom",
    "echrom", "nucpl", "mt_out", "cyto", "mt_in", "nuc", "golgi", "ves", "endo", "lyso", "ld",
    "eres", "perox_mem", "perox_lum", "perox", "mito", "er", "ne", "np", "chrom", "mt", "cell",
    "er_mem_all", "ne_mem_all",
)

_NAMES_BY_ID = {v: k for k, v in CLASS_IDS.items()}


def class_id(name: str) -> int:
    """Id of the class `name`; unknown names raise InputError listing where to look."""
    try:
        return CLASS_IDS[name]
    except KeyError:
        raise InputError(
            f"unknown class {name!r}; expected one of the names of the official classes.csv "
            f"(e.g. 'mito', 'mito_mem', 'nuc')") from None


def class_name(class_id_: int) -> str:
    """Name of the class with id `class_id_`."""
    try:
        return _NAMES_BY_ID[int(class_id_)]
    except KeyError:
        raise InputError(f"unknown class id {class_id_}; ids run from 1 to 74") from None


def atomic_ids(name: str) -> tuple[int, ...]:
    """Atomic ids making up class `name` (itself if atomic).

    Examples
    --------
    >>> atomic_ids("mito")
    (3, 4, 5)
    >>> atomic_ids("cyto")
    (35,)
    """
    cid = class_id(name)
    return GROUP_MEMBERS.get(cid, (cid,))


def is_instance_class(name: str) -> bool:
    """True when `name` is scored as an instance segmentation."""
    return name in INSTANCE_CLASSES


__all__ = [
    "CLASS_IDS", "GROUP_MEMBERS", "INSTANCE_CLASSES", "TESTED_CLASSES",
    "class_id", "class_name", "atomic_ids", "is_instance_class",
]
