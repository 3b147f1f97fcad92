"""Submission packing: ``from pycsc.pack import pack``."""

from .run import align_to_crop, pack, zip_folder

__all__ = ["pack", "align_to_crop", "zip_folder"]
