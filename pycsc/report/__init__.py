"""Pictures of evaluation results: ``report.html`` with PNG figures (``csc evaluate --report``).

matplotlib is the optional extra ``report`` (``pip install 'pycsc[report]'``); it is imported
only when figures are drawn. Reading and tabulating results needs nothing beyond pycsc.
"""

from .scores import ClassScore, CropScore, Results, load_results
from .write import write_report

__all__ = ["ClassScore", "CropScore", "Results", "load_results", "write_report"]
