"""pycsc: fast, exact tooling for the CellMap Segmentation Challenge.

The kernels live in :mod:`pycsc.ops`, scoring in :mod:`pycsc.eval`, data access in
:mod:`pycsc.io`; the ``csc`` / ``pycsc`` command line wraps them.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("pycsc")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0+source"

__all__ = ["__version__"]
