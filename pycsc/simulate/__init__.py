"""A synthetic CellMap dataset in the public layout: EM-like texture, crops, hidden truth.

``scene``    random cells and organelles, defined in nanometres
``raster``   the scene sampled on any voxel grid; per-class label arrays
``texture``  FIB-SEM-like intensities and 2x pyramids
``presets``  dataset sizes from ``tiny`` (tests) to ``medium``
``writer``   the on-disk layout (:func:`simulate`)
"""

from .presets import PRESETS
from .writer import SimulationResult, simulate

__all__ = ["PRESETS", "SimulationResult", "simulate"]
