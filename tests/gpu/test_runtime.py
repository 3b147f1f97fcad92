"""The GPU plumbing: kernel sources, NVRTC compilation, the emulator, and device dispatch."""

from __future__ import annotations

import numpy as np
import pytest
from _emulator import EmulatedBackend, build
from _nvrtc import compile_source, library
from conftest import import_gpu_drivers

from pycsc import ops
from pycsc.errors import BackendUnavailableError, InputError
from pycsc.gpu import _runtime
from pycsc.ops import _dispatch

import_gpu_drivers()
BUILDS = list(_runtime.BUILDS)


def _build_id(b):
    source, defines = b
    return source + "".join(f"[{k}={v}]" for k, v in sorted(defines.items()))


def test_every_kernel_source_is_used():
    used = {source for source, _ in BUILDS}
    on_disk = {p.name for p in _runtime.kernel_dir().glob("*.cu")}
    assert on_disk == used, "every csrc/cuda/*.cu is compiled by some driver, and only those"


def test_includes_are_inlined_once():
    for source in {s for s, _ in BUILDS}:
        text = _runtime.load_source(source)
        assert not _runtime._INCLUDE.search(text)
        assert text.count("typedef unsigned long long u64;") == 1


@pytest.mark.skipif(library() is None, reason="NVRTC not found (pip install nvidia-cuda-nvrtc-cu12)")
@pytest.mark.parametrize("arch", [pytest.param("sm_80", marks=pytest.mark.slow), "sm_90"])
@pytest.mark.parametrize("build_", BUILDS, ids=_build_id)
def test_kernels_compile_with_nvrtc(build_, arch):
    """The exact text and options CuPy would hand NVRTC build for Ampere and Hopper."""
    source, defines = build_
    status, log, cubin = compile_source(_runtime.load_source(source), source,
                                        _runtime.NVRTC_OPTIONS + _runtime.define_options(defines), arch)
    assert status == 0, f"{source} {defines}:\n{log}"
    assert cubin > 0
    assert "warning" not in log.lower(), log


@pytest.mark.parametrize("build_", BUILDS, ids=_build_id)
def test_kernels_build_for_the_emulator(build_):
    source, defines = build_
    lib, kernels = build(source, defines)
    assert kernels


def test_emulator_checks_scalar_widths(emu):
    source, defines = BUILDS[0]
    _, kernels = build(source, defines)
    name, params = next((n, p) for n, p in kernels if any("*" not in t for t, _ in p))
    k = emu.kernel(source, name, defines)
    args = [np.zeros(4, np.uint8) if kind == "p" else 7 for kind, _ in k.kinds]
    with pytest.raises(TypeError, match="NumPy scalar"):
        k((1,), (1,), tuple(args))


def test_auto_stays_on_cpu_without_gpu(monkeypatch):
    monkeypatch.setattr(_dispatch._gpu, "gpu_status", lambda: (False, "none"))
    big = np.zeros(_dispatch.AUTO_GPU_MIN_ELEMENTS, np.uint8)
    assert _dispatch.choose_device("auto", big) == "cpu"
    with pytest.raises(BackendUnavailableError):
        monkeypatch.setattr(_dispatch._gpu, "require_gpu",
                            lambda: (_ for _ in ()).throw(BackendUnavailableError("no GPU")))
        _dispatch.choose_device("gpu", big)


def test_auto_takes_gpu_for_large_host_arrays(monkeypatch):
    monkeypatch.setattr(_dispatch._gpu, "gpu_status", lambda: (True, "fake"))
    small = np.zeros(10, np.uint8)
    big = np.zeros(_dispatch.AUTO_GPU_MIN_ELEMENTS, np.uint8)
    assert _dispatch.choose_device("auto", small) == "cpu"
    assert _dispatch.choose_device("auto", big) == "gpu"
    assert _dispatch.choose_device("cpu", big) == "cpu"
    with pytest.raises(InputError, match="one of"):
        _dispatch.choose_device("cuda", big)


def test_emulated_backend_counts_as_gpu(emu):
    assert _dispatch.choose_device("gpu", np.zeros(3)) == "gpu"
    assert _dispatch.choose_device("auto", np.zeros(_dispatch.AUTO_GPU_MIN_ELEMENTS, np.uint8)) == "cpu"


def test_to_host_walks_containers():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Pair:
        a: object
        b: int

    class FakeCupy:  # module name decides is_gpu_array
        __module__ = "cupy._core"

        def get(self, order="C"):
            assert order == "A"  # Fortran-ordered device results stay Fortran-ordered
            return np.arange(2)

    out = _dispatch.to_host((FakeCupy(), [FakeCupy()], {"k": Pair(FakeCupy(), 3)}, 5))
    assert isinstance(out[0], np.ndarray) and isinstance(out[1][0], np.ndarray)
    assert isinstance(out[2]["k"].a, np.ndarray) and out[2]["k"].b == 3 and out[3] == 5


def test_cupy_backend_needs_a_gpu(monkeypatch):
    if _runtime.has_override():
        pytest.skip("a backend is installed")
    monkeypatch.setattr(_dispatch._gpu, "gpu_status", lambda: (False, "no CUDA device"))
    _runtime._cupy_backend.cache_clear()
    with pytest.raises(BackendUnavailableError, match="no CUDA device"):
        _runtime.backend()
    _runtime._cupy_backend.cache_clear()


def test_emulator_runs_blocks_in_any_order():
    assert EmulatedBackend(order="reverse").next_order()[0] == 1
    assert ops  # the public package imports with the GPU drivers present
