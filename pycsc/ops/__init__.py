"""Public kernels. NumPy in -> NumPy out on the CPU (native core); CuPy in -> CuPy out.

Users import from here; ``pycsc._core`` is internal.
"""

from .components import connected_components
from .distance import distance_transform_edt, hausdorff_distances
from .labels import bounding_boxes, remap, unique, voxel_counts
from .matching import match_instances, optimal_matching
from .overlaps import Overlaps, overlaps
from .resample import rescale

__all__ = [
    "connected_components",
    "rescale",
    "overlaps",
    "Overlaps",
    "match_instances",
    "optimal_matching",
    "distance_transform_edt",
    "hausdorff_distances",
    "unique",
    "remap",
    "bounding_boxes",
    "voxel_counts",
]
