"""Compile kernel sources with NVRTC, no GPU needed (the nvidia-cuda-nvrtc wheels are enough).

This is the compiler CuPy uses at run time, called through ctypes with the options CuPy
passes, so a kernel that would fail to build on a user's GPU fails here first.
"""

from __future__ import annotations

import ctypes
import glob
import os
import functools


@functools.lru_cache(maxsize=1)
def libraries() -> tuple[tuple[str, ctypes.CDLL], ...]:
    """Every NVRTC found, as ("nvrtc<major>.<minor>", library), one per CUDA major version:
    $PYCSC_NVRTC if set, the nvidia wheels' (CUDA 12's nvidia-cuda-nvrtc-cu12 and CUDA 13's
    nvidia-cuda-nvrtc, as the gpu-cu12 and gpu-cu13 extras install them), else the system's."""
    candidates = [os.environ["PYCSC_NVRTC"]] if os.environ.get("PYCSC_NVRTC") else []
    try:
        import nvidia  # namespace package of the nvidia-* wheels

        for root in nvidia.__path__:
            candidates += sorted(glob.glob(os.path.join(root, "cuda_nvrtc", "lib", "libnvrtc.so*")))
            candidates += sorted(glob.glob(os.path.join(root, "cu*", "lib", "libnvrtc.so*")))
    except ImportError:
        pass
    candidates += ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"]
    found: dict[int, tuple[str, ctypes.CDLL]] = {}
    for c in candidates:
        if "builtins" in os.path.basename(c):
            continue
        try:
            lib = ctypes.CDLL(c)
        except OSError:
            continue
        major, minor = version(lib)
        found.setdefault(major, (f"nvrtc{major}.{minor}", lib))
    return tuple(found[k] for k in sorted(found))


def version(lib: ctypes.CDLL) -> tuple[int, int]:
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


# What CuPy's RawModule adds after the caller's options before calling NVRTC (read off
# cupy/cuda/compiler.py of CuPy 13.4.1, 14.0.1 and 14.2.0: _compile_with_cache_cuda appends -ftz=true,
# then the architecture, then --device-as-default-execution-space). NVRTC honours the last of
# two conflicting options, so -ftz=true overrides an earlier --ftz=false.
CUPY_APPENDS = ("-ftz=true",)
CUPY_APPENDS_AFTER_ARCH = ("--device-as-default-execution-space",)


def cupy_options(options: tuple[str, ...], arch: str) -> list[str]:
    """The option list NVRTC receives when CuPy compiles a RawModule with `options` for `arch`."""
    return [*options, *CUPY_APPENDS, f"-arch={arch}", *CUPY_APPENDS_AFTER_ARCH]


def compile_source(lib: ctypes.CDLL, text: str, name: str, options: tuple[str, ...],
                   arch: str = "sm_90") -> tuple[int, str, int, str]:
    """(status, log, cubin bytes, PTX text) for `text` compiled as CuPy would, with `options`
    for `arch` (a real architecture such as sm_90; NVRTC keeps the PTX it went through)."""
    prog = ctypes.c_void_p()
    status = lib.nvrtcCreateProgram(ctypes.byref(prog), text.encode(), name.encode(), 0, None, None)
    if status:
        return status, "nvrtcCreateProgram failed", 0, ""
    opts = [o.encode() for o in cupy_options(options, arch)]
    try:
        status = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        if status:
            return status, log.value.decode(errors="replace"), 0, ""
        lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
        cubin = size.value
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(prog, ptx)
        return status, log.value.decode(errors="replace"), cubin, ptx.value.decode()
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
