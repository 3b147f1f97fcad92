"""A host emulator for pycsc's CUDA kernels: the GPU driver code runs unchanged on NumPy.

``EmulatedBackend`` satisfies :class:`pycsc.gpu._runtime.Backend`: ``xp`` is NumPy, and
``kernel(source, name, defines)`` compiles the very CUDA source NVRTC would get (includes
inlined by ``load_source``) with the host C++ compiler and ``emu.hpp``, plus one generated
launcher per ``extern "C" __global__`` entry point. A launch runs every thread of every
block one after another, blocks in a seeded shuffled order. Each call checks that the
arguments match the kernel's parameters in kind and width, the mistake CuPy would pass
through silently.

Device memory is emulated too: ``xp.asarray`` gives a :class:`DeviceArray` (a NumPy array
that reports itself as CuPy's), and the rules CuPy enforces are enforced here: NumPy
functions refuse device arrays, ``xp`` functions other than ``asarray``/``array`` refuse host
arrays, arithmetic may not mix the two, kernels take only device arrays, and results come
back to the host only through ``.get()``. While :func:`emulating` is active, ``np.asarray``
and its kin and every ``pycsc._core`` function refuse device arrays too, as they do a CuPy
array (no implicit device-to-host copy; pybind11 cannot read device memory). So a driver that
would trip over CuPy's host/device boundary fails here. And NumPy is held to CuPy's API:
an ``xp`` function, keyword or array method that some CuPy version in ``cupy_api.json``
(recorded by ``tools/cupy_api_snapshot.py``) lacks raises ``TypeError``. Last, CuPy builds its
own kernels with ``-ftz=true``: float32 arithmetic, comparisons and conversions on the device
read subnormals as zero (sorting and copying move bits and keep them). The emulated ``xp``
does the same, so a driver leaving float32 work to CuPy is caught where the CPU would differ.

What this checks: the driver logic and its host/device boundary, the kernels' arithmetic,
their independence of block order and (in "threads" mode) their atomics under real
contention. What it cannot: the GPU's memory model, CuPy's own numerics, and speed. Those
need the ``gpu``-marked tests on a real device.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import inspect
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np

from pycsc import _core
from pycsc.gpu import _runtime
from pycsc.gpu._runtime import define_options, load_source

HERE = Path(__file__).resolve().parent
_depth = threading.local()

# The CuPy API per recorded version (tools/cupy_api_snapshot.py): NumPy offers functions,
# keywords and array methods CuPy lacks, and the drivers may use only what every recorded
# CuPy version has.
CUPY_API: list[dict] = json.loads((HERE / "cupy_api.json").read_text())["versions"]
_CUPY_METHODS = frozenset.intersection(*(frozenset(v["ndarray"]) for v in CUPY_API))
_UFUNC_KEYWORDS = frozenset({"out", "dtype", "casting"})


@functools.lru_cache(maxsize=None)
def _cupy_signature(version: int, name: str):
    params = CUPY_API[version]["functions"][name].get("params")
    if params is None:
        return None
    return inspect.Signature([inspect.Parameter(n, getattr(inspect.Parameter, kind),
                                                default=None if has_default else inspect.Parameter.empty)
                              for n, kind, has_default in params])


def check_cupy_call(name: str, args: tuple, kwargs: dict) -> None:
    """Raise TypeError where some recorded CuPy version lacks `name` or rejects the arguments."""
    for i, api in enumerate(CUPY_API):
        entry = api["functions"].get(name)
        where = f"xp.{name}: CuPy {api['cupy']}"
        if entry is None:
            raise TypeError(f"{where} has no such function (NumPy has; the GPU path must not use it)")
        if "ufunc" in entry:
            nin, nout = entry["ufunc"]
            extra = set(kwargs) - _UFUNC_KEYWORDS
            if len(args) > nin + nout or extra:
                raise TypeError(f"{where} ufunc takes {nin} inputs and keywords {sorted(_UFUNC_KEYWORDS)}; "
                                f"got {len(args)} positional and {sorted(kwargs)}")
            continue
        sig = _cupy_signature(i, name)
        if sig is not None:
            try:
                sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{where} would reject this call: {exc} (its signature: {name}{sig})") from None


_F32_TINY = np.finfo(np.float32).tiny
# xp functions that only move or reorder bits on CuPy (copies, layouts, radix sorts): they keep
# float32 subnormals. Every other xp function runs a CuPy kernel and flushes them.
_KEEPS_SUBNORMALS = frozenset({"asarray", "array", "ascontiguousarray", "asfortranarray", "empty", "zeros",
                               "full", "concatenate", "stack", "sort", "argsort", "asnumpy"})


def flush_f32(x):
    """`x` with float32 subnormals replaced by zeros of their sign, as a CuPy kernel reads them."""
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype == np.float32:
        plain = x.view(np.ndarray) if isinstance(x, np.ndarray) else x
        sub = (plain != 0) & (np.abs(plain) < _F32_TINY)
        if np.any(sub):
            return np.where(sub, np.copysign(np.float32(0), plain), plain).astype(np.float32)
        return plain
    return x


class DeviceArray(np.ndarray):
    """A NumPy array standing in for a ``cupy.ndarray`` (``pycsc._gpu.is_gpu_array`` says yes)."""

    def __getattribute__(self, name):
        if name[0] != "_" and name not in _CUPY_METHODS and not getattr(_depth, "n", 0):
            raise AttributeError(f"cupy.ndarray has no attribute {name!r} in some recorded CuPy version "
                                 f"({', '.join(v['cupy'] for v in CUPY_API)}); NumPy's has, the GPU path must not use it")
        return super().__getattribute__(name)

    def __array_function__(self, func, types, args, kwargs):
        if not getattr(_depth, "n", 0):
            raise TypeError(f"numpy.{func.__name__} was given a device array; use xp.{func.__name__} "
                            "(CuPy refuses implicit device-to-host conversion)")
        return super().__array_function__(func, types, args, kwargs)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not getattr(_depth, "n", 0) and any(type(x) is np.ndarray and x.ndim > 0 for x in inputs):
            raise TypeError(f"{ufunc.__name__} mixes a device array with a host array (CuPy refuses this)")
        args = [flush_f32(x.view(np.ndarray)) if isinstance(x, DeviceArray) else flush_f32(x) for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x.view(np.ndarray) if isinstance(x, DeviceArray) else x for x in kwargs["out"])
        out = getattr(ufunc, method)(*args, **kwargs)
        if "out" in kwargs:
            for o in kwargs["out"]:
                if isinstance(o, np.ndarray) and o.dtype == np.float32:
                    o[...] = flush_f32(o)
        return _to_device(flush_f32(out) if not isinstance(out, tuple) else tuple(flush_f32(o) for o in out))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        """CuPy converts in a kernel: float32 subnormals in or out become zeros (same dtype: a copy)."""
        plain = self.view(np.ndarray)
        if np.dtype(dtype) == self.dtype:
            return self if not copy else _to_device(plain.astype(dtype, order=order))
        return _to_device(flush_f32(flush_f32(plain).astype(dtype, order=order)))

    def get(self, stream=None, order="C", out=None):
        order = "F" if order == "A" and self.flags.f_contiguous and not self.flags.c_contiguous else order
        return np.array(self.view(np.ndarray), order="F" if order == "F" else "C", copy=True)


DeviceArray.__module__ = "cupy._emulated"  # what is_gpu_array looks at


def _to_device(obj):
    if isinstance(obj, np.ndarray) and not isinstance(obj, DeviceArray):
        return obj.view(DeviceArray)
    if isinstance(obj, np.generic):  # CuPy reductions give 0-d device arrays, not scalars
        return np.asarray(obj).view(DeviceArray)
    if isinstance(obj, tuple):
        return tuple(_to_device(x) for x in obj)
    if isinstance(obj, list):
        return [_to_device(x) for x in obj]
    return obj


def _is_host_array(x) -> bool:
    return type(x) is np.ndarray and x.ndim > 0


def _flat_args(args, kwargs) -> list:
    """The arguments of a call, with those inside lists and tuples (one level) too."""
    flat = list(args) + list(kwargs.values())
    return flat + [y for x in flat if isinstance(x, (list, tuple)) for y in x]


def _holds_device_array(args, kwargs) -> bool:
    return any(isinstance(x, DeviceArray) for x in _flat_args(args, kwargs))


def _refusing(where: str, fn, advice: str):
    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        if not getattr(_depth, "n", 0) and _holds_device_array(args, kwargs):
            raise TypeError(f"{where} was given a device array; {advice}")
        return fn(*args, **kwargs)

    return guarded


# NumPy's converters take any ndarray subclass silently; CuPy arrays refuse them.
_NUMPY_CONVERTERS = ("array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray",
                     "require", "copyto", "frombuffer")


@contextlib.contextmanager
def host_boundary():
    """Make NumPy's converters and the CPU kernels refuse device arrays, as with CuPy."""
    saved = []
    for name in _NUMPY_CONVERTERS:
        saved.append((np, name, getattr(np, name)))
        setattr(np, name, _refusing(f"numpy.{name}", getattr(np, name),
                                    "CuPy refuses implicit device-to-host copies (use .get())"))
    for name in dir(_core):
        fn = getattr(_core, name)
        if callable(fn) and not name.startswith("_") and not isinstance(fn, type):
            saved.append((_core, name, fn))
            setattr(_core, name, _refusing(f"pycsc._core.{name}", fn,
                                           "the CPU kernels read host memory only (pybind11 fails on a CuPy array)"))
    try:
        yield
    finally:
        for module, name, fn in reversed(saved):
            setattr(module, name, fn)


@contextlib.contextmanager
def emulating(backend: "EmulatedBackend"):
    """`backend` as pycsc's GPU backend, with CuPy's host/device boundary enforced."""
    with _runtime.use_backend(backend), host_boundary():
        yield backend


class EmulatedXP:
    """The ``xp`` of the emulator: NumPy's functions with CuPy's host/device rules."""

    _TAKES_HOST = {"asarray", "array", "asnumpy"}

    def __getattr__(self, name):
        obj = getattr(np, name)
        if not callable(obj) or isinstance(obj, type):  # dtypes, constants
            return obj

        def call(*args, **kwargs):
            check_cupy_call(name, args, kwargs)
            if name not in self._TAKES_HOST:
                if any(_is_host_array(x) for x in _flat_args(args, kwargs)):
                    raise TypeError(f"xp.{name} was given a NumPy array; move it with xp.asarray first "
                                    "(CuPy functions take device arrays only)")
            if name not in _KEEPS_SUBNORMALS:
                args = tuple(_to_device(flush_f32(x)) if isinstance(x, DeviceArray) else x for x in args)
            _depth.n = getattr(_depth, "n", 0) + 1
            try:
                out = obj(*args, **kwargs)
            finally:
                _depth.n -= 1
            if name == "asnumpy":
                return np.array(out.view(np.ndarray) if isinstance(out, DeviceArray) else out)
            return _to_device(out)

        return call


_ENTRY = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)
_CACHE = Path(tempfile.gettempdir()) / f"pycsc-emu-{os.getuid()}"
_lock = threading.Lock()


def compiler() -> str | None:
    return shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")


def entry_points(source_text: str, defines: dict[str, str] | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """(name, [(type, param name)]) of each kernel, read from the preprocessed source."""
    cc = compiler()
    pre = subprocess.run(
        [cc, "-x", "c++", "-std=c++17", "-E", "-P", *define_options(defines), "-"],
        input="#define __global__ __global__\n" + source_text, capture_output=True, text=True, check=True,
    ).stdout
    kernels = []
    for name, params in _ENTRY.findall(pre):
        parsed = []
        for p in (x.strip() for x in params.split(",") if x.strip()):
            m = re.match(r"(.*?)(\w+)\s*$", p, re.S)
            parsed.append((m.group(1).strip(), m.group(2)))
        kernels.append((name, parsed))
    if not kernels:
        raise AssertionError('no extern "C" __global__ kernels found')
    return kernels


def _translation_unit(source_text: str, kernels) -> str:
    out = ['#include "emu.hpp"', source_text, ""]
    for name, params in kernels:
        decl = "".join(f", {t} {n}" for t, n in params)
        names = ", ".join(n for _, n in params)
        kinds = "".join(f"out[{i}] = " + ("'p' * 256 + 8" if "*" in t else f"pycsc_emu::kind<{t}>()") + "; "
                        for i, (t, _) in enumerate(params))
        out.append(
            f'extern "C" void emu_launch_{name}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, '
            f"unsigned by, unsigned bz, int mode, unsigned long long seed{decl}) "
            f"{{ pycsc_emu::launch(gx, gy, gz, bx, by, bz, mode, seed, [&] {{ {name}({names}); }}); }}"
        )
        out.append(f'extern "C" void emu_kinds_{name}(int* out) {{ {kinds}(void)out; }}')
    out.append('extern "C" void pycsc_emu_set_workers(int n) { pycsc_emu::workers = n; }')
    return "\n".join(out)


class EmulatedKernel:
    _SCALARS = {("u", 1): ctypes.c_uint8, ("u", 2): ctypes.c_uint16, ("u", 4): ctypes.c_uint32,
                ("u", 8): ctypes.c_uint64, ("i", 1): ctypes.c_int8, ("i", 2): ctypes.c_int16,
                ("i", 4): ctypes.c_int32, ("i", 8): ctypes.c_int64, ("f", 4): ctypes.c_float,
                ("f", 8): ctypes.c_double, ("b", 1): ctypes.c_uint8}

    def __init__(self, lib: ctypes.CDLL, name: str, nparams: int, backend: "EmulatedBackend"):
        self.name = name
        self._fn = getattr(lib, f"emu_launch_{name}")
        self._fn.restype = None
        kinds = (ctypes.c_int * max(1, nparams))()
        getattr(lib, f"emu_kinds_{name}")(kinds)
        self.kinds = [(chr(k // 256), k % 256) for k in kinds[:nparams]]
        self._backend = backend

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        grid = tuple(grid) + (1,) * (3 - len(grid))
        block = tuple(block) + (1,) * (3 - len(block))
        if len(args) != len(self.kinds):
            raise TypeError(f"{self.name}: {len(args)} arguments for {len(self.kinds)} parameters")
        # The device's launch limits: a kernel launched past them fails on a GPU, not here.
        if (any(int(g) < 1 for g in grid) or any(int(b) < 1 for b in block) or np.prod(block) > 1024
                or grid[0] > 2**31 - 1 or grid[1] > 65535 or grid[2] > 65535 or block[2] > 64):
            raise ValueError(f"{self.name}: launch outside CUDA's limits: grid={grid} block={block}")
        if shared_mem:
            raise ValueError(f"{self.name}: dynamic shared memory is not supported by the emulator")
        cargs = []
        for i, (a, (kind, width)) in enumerate(zip(args, self.kinds)):
            if kind == "p":
                if not isinstance(a, DeviceArray):
                    raise TypeError(f"{self.name} argument {i}: expected a device array, got {type(a).__name__} "
                                    "(CuPy kernels take device arrays only)")
                cargs.append(ctypes.c_void_p(a.__array_interface__["data"][0]))
                continue
            if not isinstance(a, np.generic):
                raise TypeError(f"{self.name} argument {i}: pass a NumPy scalar of the kernel's type "
                                f"({kind}{8 * width}), not {type(a).__name__} (CuPy would guess its width)")
            got = ("i" if a.dtype.kind == "i" else "u" if a.dtype.kind in "ub" else "f", a.dtype.itemsize)
            if got != (kind, width):
                raise TypeError(f"{self.name} argument {i}: kernel takes {kind}{8 * width}, "
                                f"got {a.dtype} ({got[0]}{8 * got[1]})")
            cargs.append(self._SCALARS[got](a.item()))
        mode, seed = self._backend.next_order()
        self._fn(*[ctypes.c_uint(int(g)) for g in grid], *[ctypes.c_uint(int(b)) for b in block],
                 ctypes.c_int(mode), ctypes.c_ulonglong(seed), *cargs)
        self._backend.launches.append((self.name, grid, block))


class EmulatedBackend:
    """Emulated device arrays; kernels compiled for the host and run thread by thread."""

    xp = EmulatedXP()

    def __init__(self, order: str = "shuffle", seed: int = 0, workers: int = 4):
        """`order`: "forward", "reverse" or "shuffle" run blocks one after another; "threads"
        runs them on `workers` OS threads at once, with real atomics."""
        self.order = {"forward": 0, "reverse": 1, "shuffle": 2, "threads": 3}[order]
        self.seed = seed
        self.workers = workers
        self.launches: list[tuple] = []
        self._libs: dict = {}

    def next_order(self) -> tuple[int, int]:
        self.seed += 1
        return self.order, self.seed

    def kernel(self, source: str, name: str, defines: dict[str, str] | None = None) -> EmulatedKernel:
        key = (source, define_options(defines))
        if key not in self._libs:
            self._libs[key] = build(source, defines)
        lib, kernels = self._libs[key]
        lib.pycsc_emu_set_workers(ctypes.c_int(self.workers))
        params = dict(kernels)
        if name not in params:
            raise AttributeError(f"{source}: no kernel {name!r} (has {sorted(params)})")
        return EmulatedKernel(lib, name, len(params[name]), self)

    def synchronize(self) -> None:
        pass


_built: dict = {}

# PYCSC_EMU_SANITIZE=1 builds the kernels with AddressSanitizer and UBSan: an out-of-bounds
# access, which a GPU would let pass silently, stops the test. Python must run with the
# runtime preloaded (tools/emulator_sanitize.sh does this).
SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g")


def build(source: str, defines: dict[str, str] | None):
    """Compile `source` with `defines` for the host (cached on disk by content)."""
    text = load_source(source)
    opts = define_options(defines)
    flags = SANITIZE_FLAGS if os.environ.get("PYCSC_EMU_SANITIZE") else ()
    key = hashlib.sha256("\0".join([text, *opts, *flags, (HERE / "emu.hpp").read_text(),
                                     Path(__file__).read_text()]).encode()).hexdigest()[:20]
    with _lock:
        if key in _built:
            return _built[key]
        kernels = entry_points(text, defines)
        _CACHE.mkdir(parents=True, exist_ok=True)
        so = _CACHE / f"{Path(source).stem}-{key}.so"
        if not so.exists():
            cpp = _CACHE / f"{Path(source).stem}-{key}.cpp"
            cpp.write_text(_translation_unit(text, kernels))
            tmp = so.with_suffix(f".{os.getpid()}.tmp")
            cmd = [compiler(), "-std=c++17", "-O1", "-fPIC", "-shared", "-pthread", "-ffp-contract=off",
                   "-Wall", "-Wno-unused-function", "-Wno-unused-variable", "-Wno-unused-but-set-variable",
                   f"-I{HERE}", *flags, *opts, str(cpp), "-o", str(tmp)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise AssertionError(f"emulator build of {source} {opts} failed:\n{res.stderr[-6000:]}")
            os.replace(tmp, so)
        _built[key] = (ctypes.CDLL(str(so)), kernels)
        return _built[key]
