"""Where GPU kernels come from: CUDA sources compiled at run time, and the array module.

The GPU implementations in :mod:`pycsc.gpu` never import CuPy themselves. They ask
:func:`backend` for ``xp`` (the array module) and for compiled kernels. In production that
is :class:`CupyBackend`: ``xp`` is ``cupy`` and kernels come from NVRTC via
``cupy.RawModule``. The test suite installs an emulating backend (``xp`` is NumPy, each
kernel runs on the host thread by thread) with :func:`use_backend`, so the same driver code
and the same CUDA sources are checked on machines without a GPU.

Kernel sources live in ``csrc/cuda/`` (installed as ``pycsc/gpu/kernels/``). ``#include
"x.cuh"`` lines are inlined here, so CuPy's compile cache keys on the whole text and never
serves a kernel built from an older header.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from pathlib import Path
from typing import Any, Iterator, Protocol

from ..errors import BackendUnavailableError

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[ \t]*$', re.MULTILINE)

# Bit-for-bit parity with the CPU path needs the same rounding: no fused multiply-add, and
# IEEE division and square root (NVRTC's defaults for the latter two, stated anyway). Not
# --ftz=false: CuPy appends -ftz=true after these and NVRTC takes the last, so the kernels
# are written to emit no float32 instruction at all (csrc/cuda/common.cuh).
NVRTC_OPTIONS: tuple[str, ...] = ("-std=c++17", "--fmad=false", "--prec-div=true", "--prec-sqrt=true")


def kernel_dir() -> Path:
    """The folder holding the ``.cu``/``.cuh`` sources (installed copy, else the source tree)."""
    installed = Path(__file__).with_name("kernels")
    if installed.is_dir():
        return installed
    tree = Path(__file__).resolve().parents[2] / "csrc" / "cuda"
    if tree.is_dir():
        return tree
    raise BackendUnavailableError(
        f"the CUDA kernel sources are missing: neither {installed} nor {tree} exists; "
        "reinstall pycsc (pip install --force-reinstall pycsc)"
    )


@functools.lru_cache(maxsize=None)
def load_source(name: str) -> str:
    """The text of kernel source `name` with its local includes inlined (each once)."""
    root = kernel_dir()
    seen: set[str] = set()

    def expand(file: str) -> str:
        path = root / file
        if not path.is_file():
            raise BackendUnavailableError(f"CUDA source {path} is missing; reinstall pycsc")
        seen.add(file)
        text = path.read_text()

        def include(m: re.Match) -> str:
            inc = m.group(1)
            return "" if inc in seen else f"// ---- {inc} ----\n{expand(inc)}\n// ---- end {inc} ----"

        return _INCLUDE.sub(include, text)

    return expand(name)


def define_options(defines: dict[str, str] | None) -> tuple[str, ...]:
    """``-DNAME=VALUE`` options in a stable order (part of the compile-cache key)."""
    return tuple(f"-D{k}={v}" for k, v in sorted((defines or {}).items()))


# Every (source, defines) pair the drivers compile, declared at import time by each driver
# module, so the test suite can compile them all with NVRTC and the emulator up front.
BUILDS: list[tuple[str, dict[str, str]]] = []


def declare_builds(source: str, *defines: dict[str, str]) -> None:
    """Record that `source` is compiled with each of `defines` (at least one, maybe ``{}``)."""
    for d in defines or ({},):
        if (source, d) not in BUILDS:
            BUILDS.append((source, dict(d)))


class Kernel(Protocol):
    def __call__(self, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...]) -> None: ...


class Backend(Protocol):
    """What GPU drivers need: an array module and compiled kernels."""

    xp: Any

    def kernel(self, source: str, name: str, defines: dict[str, str] | None = None) -> Kernel: ...

    def synchronize(self) -> None: ...


class CupyBackend:
    """CuPy arrays, kernels compiled by NVRTC (cached in memory and on disk by CuPy)."""

    def __init__(self, cupy: Any):
        self.xp = cupy
        self._modules: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._lock = threading.Lock()

    def kernel(self, source: str, name: str, defines: dict[str, str] | None = None) -> Kernel:
        key = (source, define_options(defines))
        with self._lock:
            module = self._modules.get(key)
            if module is None:
                module = self.xp.RawModule(code=load_source(source), options=NVRTC_OPTIONS + key[1])
                self._modules[key] = module
            try:
                return module.get_function(name)  # CuPy compiles on the first look-up
            except Exception as exc:  # NVRTC missing or failing, or no binary for this GPU
                del self._modules[key]  # a later call tries again instead of re-raising a stale error
                raise BackendUnavailableError(_compile_failure(source, name, exc)) from exc

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()


def _compile_failure(source: str, name: str, exc: BaseException) -> str:
    if type(exc).__name__ == "CompileException":  # NVRTC ran and rejected the source: our bug
        return (f"NVRTC rejected pycsc's CUDA source {source} (kernel {name!r}); this is a bug in pycsc, "
                f"please report it with this log. Meanwhile run on the CPU (--device cpu).\n{exc}")
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"could not build the GPU kernel {name!r} from {source} at run time "
            f"({type(exc).__name__}: {first}). The GPU paths need CUDA's run-time compiler, "
            "NVRTC, matching the driver: the extras pycsc[gpu-cu13] and pycsc[gpu-cu12] install it. "
            "Or run on the CPU (--device cpu).")


_override: list[Backend] = []


def backend() -> Backend:
    """The active backend: one installed by :func:`use_backend`, else CuPy on the GPU."""
    if _override:
        return _override[-1]
    return _cupy_backend()


@functools.lru_cache(maxsize=1)
def _cupy_backend() -> CupyBackend:
    from .._gpu import require_gpu

    return CupyBackend(require_gpu())


def has_override() -> bool:
    """Whether a backend was installed with :func:`use_backend` (then no real GPU is needed)."""
    return bool(_override)


@contextlib.contextmanager
def use_backend(b: Backend) -> Iterator[Backend]:
    """Run GPU drivers on `b` inside the block (the test suite's emulator uses this)."""
    _override.append(b)
    try:
        yield b
    finally:
        _override.pop()


def blocks_for(n: int, threads: int, cap: int = 65535 * 32) -> int:
    """Blocks for a 1-D grid-stride launch over `n` items (at least 1, at most `cap`)."""
    return max(1, min(cap, -(-n // threads)))
