"""Compile kernel sources with NVRTC, no GPU needed (the nvidia-cuda-nvrtc wheel is enough).

This is the compiler CuPy uses at run time, called through ctypes, so a kernel that would
fail to build on a user's GPU fails here first.
"""

from __future__ import annotations

import ctypes
import glob
import os
import functools


@functools.lru_cache(maxsize=1)
def library() -> ctypes.CDLL | None:
    candidates = []
    try:
        import nvidia  # namespace package of the nvidia-* wheels

        for root in nvidia.__path__:
            candidates += sorted(glob.glob(os.path.join(root, "cuda_nvrtc", "lib", "libnvrtc.so*")))
            candidates += sorted(glob.glob(os.path.join(root, "cu*", "lib", "libnvrtc.so*")))
    except ImportError:
        pass
    candidates += ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"]
    for c in candidates:
        if "builtins" in os.path.basename(c):
            continue
        try:
            return ctypes.CDLL(c)
        except OSError:
            continue
    return None


def version() -> tuple[int, int]:
    lib = library()
    major, minor = ctypes.c_int(), ctypes.c_int()
    lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return major.value, minor.value


def compile_source(text: str, name: str, options: tuple[str, ...], arch: str = "sm_90") -> tuple[int, str, int]:
    """(status, log, cubin bytes) for `text` compiled to `arch` with `options`."""
    lib = library()
    prog = ctypes.c_void_p()
    status = lib.nvrtcCreateProgram(ctypes.byref(prog), text.encode(), name.encode(), 0, None, None)
    if status:
        return status, "nvrtcCreateProgram failed", 0
    opts = [o.encode() for o in (*options, f"--gpu-architecture={arch}")]
    try:
        status = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        cubin = 0
        if status == 0:
            lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
            cubin = size.value
        return status, log.value.decode(errors="replace"), cubin
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
