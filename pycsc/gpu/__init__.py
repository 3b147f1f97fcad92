"""GPU implementations of the :mod:`pycsc.ops` kernels (CuPy in, CuPy out).

Users call :mod:`pycsc.ops`, which dispatches here for CuPy input or ``device="gpu"``. The
modules here take already-validated arrays of the active backend's array module (see
:mod:`pycsc.gpu._runtime`) and never import CuPy themselves.
"""
