"""Submission packing: ``from pycsc.pack import pack``; numpy arrays from models run
elsewhere go in through :func:`write_prediction` / :func:`add_to_submission`."""

from .arrays import (add_to_submission, check_array, class_mask, write_class_labels, write_prediction,
                     zip_submission)
from .run import align_array, align_to_crop, pack, zip_folder

__all__ = ["pack", "align_to_crop", "align_array", "zip_folder", "write_prediction", "write_class_labels",
           "class_mask", "add_to_submission", "zip_submission", "check_array"]
