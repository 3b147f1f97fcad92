"""The one place that imports CuPy, lazily.

Nothing here imports CuPy at module import time, so ``import pycsc`` and the CPU paths
stay light and work on machines without CUDA.
"""

from __future__ import annotations

import functools
from typing import Any

from .errors import BackendUnavailableError

INSTALL_HINT = "install a GPU extra: pip install 'pycsc[gpu-cu13]' (CUDA 13) or 'pycsc[gpu-cu12]'"


def is_gpu_array(x: Any) -> bool:
    """True for CuPy arrays (checked without importing CuPy)."""
    return type(x).__module__.split(".")[0] == "cupy"


@functools.lru_cache(maxsize=None)
def gpu_status() -> tuple[bool, str]:
    """Whether a GPU backend is usable, and a one-line description why (not)."""
    try:
        import cupy  # noqa: F401
    except Exception as exc:  # ImportError, or a CUDA library failing to load
        return False, f"cupy not importable ({type(exc).__name__}); {INSTALL_HINT}"
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return False, f"cupy {cupy.__version__} found but no CUDA device ({exc})"
    if n == 0:
        return False, f"cupy {cupy.__version__} found but no CUDA device"
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    # The kernels are compiled on first use: without a loadable NVRTC the GPU is no use, and
    # "auto" must stay on the CPU rather than fail at the first kernel.
    try:
        from cupy.cuda import nvrtc

        major, minor = nvrtc.getVersion()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return False, (f"cupy {cupy.__version__} and device {name} found, but CUDA's run-time compiler "
                       f"NVRTC does not load ({first}); {INSTALL_HINT}")
    return True, f"cupy {cupy.__version__}, NVRTC {major}.{minor}, {n} device(s), device 0: {name}"


def require_gpu() -> Any:
    """Return the cupy module, or raise BackendUnavailableError saying why it is unusable."""
    ok, why = gpu_status()
    if not ok:
        raise BackendUnavailableError(f"the GPU backend is not usable: {why}")
    import cupy

    return cupy
