"""Training data: the datasplit CSV, patch reading at a voxel size, augmentation, sampling.

Importing :mod:`pycsc.data` is light; the torch-facing dataset classes live in
:mod:`pycsc.data.dataset` and import torch only when a sample is built.
"""

from .datasplit import SplitRow, find_crops, make_datasplit, read_datasplit, write_datasplit

__all__ = ["SplitRow", "find_crops", "make_datasplit", "read_datasplit", "write_datasplit"]
