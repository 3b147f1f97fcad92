"""Sliding-window inference (imports torch when run): ``from pycsc.predict import predict``."""

from .run import decode_probabilities, plan_jobs, predict
from .tiling import blend_weights, window_grid, window_starts

__all__ = ["predict", "plan_jobs", "decode_probabilities", "window_starts", "window_grid", "blend_weights"]
