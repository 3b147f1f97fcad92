"""Post-processing: ``from pycsc.process import process``."""

from .run import process, process_class

__all__ = ["process", "process_class"]
