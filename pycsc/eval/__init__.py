"""Scoring of submissions against ground truth, reproducing the official evaluator.

``score_submission(submission, truth, manifest)`` returns the official result dict;
``evaluate(...)`` returns an :class:`Evaluation` with the public dict, warnings, per-label
status and timings as well.
"""

from .api import Evaluation, evaluate, score_submission
from .config import EvaluateConfig

__all__ = ["score_submission", "evaluate", "Evaluation", "EvaluateConfig"]
