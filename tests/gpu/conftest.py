"""Fixtures for the GPU paths.

``emu``: the host emulator (``_emulator.EmulatedBackend``) installed as the active backend,
so ``pycsc.ops`` calls with ``device="gpu"`` run the GPU driver code and the CUDA kernels on
the CPU. Runs in the default test run; skipped only where no C++ compiler is found.

``cp``: CuPy on a real device, for tests marked ``gpu`` (deselected by default; run them
with ``pytest -m gpu`` on a machine with a GPU and a gpu extra).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _emulator import EmulatedBackend, compiler, emulating  # noqa: E402



def import_gpu_drivers() -> None:
    """Import every pycsc.gpu module, so each declares its kernel builds."""
    import pycsc.gpu

    for info in pkgutil.iter_modules(pycsc.gpu.__path__):
        importlib.import_module(f"pycsc.gpu.{info.name}")


@pytest.fixture
def emu():
    if compiler() is None:
        pytest.skip("no C++ compiler for the kernel emulator")
    backend = EmulatedBackend(order="shuffle", seed=7)
    with emulating(backend):
        yield backend


@pytest.fixture
def cp():
    import cupy

    yield cupy
    cupy.get_default_memory_pool().free_all_blocks()
