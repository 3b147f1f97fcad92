"""The GPU plumbing: kernel sources, NVRTC compilation, the emulator, and device dispatch."""

from __future__ import annotations

import functools
import platform
import re
import sys

import numpy as np
import pytest
import _emulator
from _emulator import EmulatedBackend, build, host_boundary
from _nvrtc import compile_source, libraries
from conftest import import_gpu_drivers

from pycsc import _core, ops
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


# Each NVRTC found (CUDA 12 and 13 with the test extra); the tests skip where there is none.
NVRTCS = [pytest.param(lib, id=label) for label, lib in libraries()] or [
    pytest.param(None, marks=pytest.mark.skip(reason="NVRTC not found (pip install nvidia-cuda-nvrtc-cu12)"))]


def test_test_extra_brings_nvrtc_12_and_13():
    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip("the NVRTC wheels of the test extra are for Linux x86-64")
    assert sorted(label.split(".")[0] for label, _ in libraries()) == ["nvrtc12", "nvrtc13"]


def _ftz_instructions(ptx: str) -> list[str]:
    """The PTX instructions that flush subnormals (those with a .ftz modifier)."""
    return re.findall(r"^\s*(\S*\.ftz\S*)", ptx, re.M)


@functools.lru_cache(maxsize=None)
def _compiled(nvrtc, build_id: str, arch: str) -> tuple[int, str, int, list[str]]:
    """One NVRTC compile per build and architecture, shared by the tests below: (status,
    log, cubin bytes, flushing instructions)."""
    source, defines = next(b for b in BUILDS if _build_id(b) == build_id)
    status, log, cubin, ptx = compile_source(nvrtc, _runtime.load_source(source), source,
                                             _runtime.NVRTC_OPTIONS + _runtime.define_options(defines), arch)
    return status, log, cubin, _ftz_instructions(ptx)


@pytest.mark.parametrize("nvrtc", NVRTCS)
@pytest.mark.parametrize("arch", [pytest.param("sm_80", marks=pytest.mark.slow), "sm_90"])
@pytest.mark.parametrize("build_", BUILDS, ids=_build_id)
def test_kernels_compile_with_nvrtc(build_, arch, nvrtc):
    """The exact text and options CuPy would hand NVRTC build for Ampere and Hopper."""
    source, defines = build_
    status, log, cubin, _ = _compiled(nvrtc, _build_id(build_), arch)
    assert status == 0, f"{source} {defines}:\n{log}"
    assert cubin > 0
    assert "warning" not in log.lower(), log


@pytest.mark.parametrize("nvrtc", NVRTCS)
@pytest.mark.parametrize("build_", BUILDS, ids=_build_id)
def test_kernels_never_flush_subnormals(build_, nvrtc):
    """CuPy compiles with -ftz=true after our options; no instruction may carry .ftz, or a
    float32 subnormal would read as zero on the GPU and not on the CPU (see common.cuh)."""
    source, defines = build_
    status, log, _, ftz = _compiled(nvrtc, _build_id(build_), "sm_90")
    assert status == 0, log
    flushing = sorted(set(ftz))
    assert not flushing, f"{source} {defines}: {flushing}"


@pytest.mark.parametrize("nvrtc", NVRTCS)
def test_ftz_check_sees_float32_instructions(nvrtc):
    # The check above is only as good as its pattern: a plain float32 compare must show .ftz.
    text = 'extern "C" __global__ void k(const float* a, int* b) { b[0] = a[0] < a[1]; }'
    status, log, _, ptx = compile_source(nvrtc, text, "k.cu", _runtime.NVRTC_OPTIONS, "sm_90")
    assert status == 0, log
    assert _ftz_instructions(ptx) == ["setp.lt.ftz.f32"]


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
    args = [emu.xp.zeros(4, np.uint8) if kind == "p" else 7 for kind, _ in k.kinds]
    with pytest.raises(TypeError, match="NumPy scalar"):
        k((1,), (1,), tuple(args))
    host = [np.zeros(4, np.uint8) if kind == "p" else np.uint64(0) for kind, _ in k.kinds]
    with pytest.raises(TypeError, match="device array"):
        k((1,), (1,), tuple(host))


def test_emulated_device_memory_follows_cupy_rules(emu):
    xp = emu.xp
    dev, host = xp.asarray(np.arange(6)), np.arange(6)
    assert _dispatch._gpu.is_gpu_array(dev) and not _dispatch._gpu.is_gpu_array(host)
    with pytest.raises(TypeError, match="numpy.concatenate was given a device array"):
        np.concatenate([dev, dev])
    with pytest.raises(TypeError, match="xp.concatenate was given a NumPy array"):
        xp.concatenate([dev, host])
    with pytest.raises(TypeError, match="mixes a device array with a host array"):
        dev + host
    assert _dispatch._gpu.is_gpu_array(dev.sum()) and int(dev.sum()) == 15  # 0-d, as CuPy gives
    back = xp.asfortranarray(xp.asarray(np.ones((2, 3)))).get(order="A")
    assert type(back) is np.ndarray and back.flags.f_contiguous


def test_emulator_holds_numpy_to_the_cupy_api(emu):
    # NumPy has these and CuPy (some recorded version) does not: each passes on NumPy alone.
    xp = emu.xp
    dev = xp.asarray(np.arange(6, dtype=np.uint8))
    assert int(xp.max(dev)) == 5 and xp.unique(dev, return_counts=True)[1].sum() == 6
    with pytest.raises(TypeError, match=r"xp.max: CuPy 14.0.1 would reject this call.*initial"):
        xp.max(dev, initial=0)
    with pytest.raises(TypeError, match="xp.unique: CuPy .* would reject"):
        xp.unique(dev, sorted=True)
    with pytest.raises(TypeError, match="xp.cumulative_sum: CuPy 14.0.1 has no such function"):
        xp.cumulative_sum(dev)
    with pytest.raises(TypeError, match="xp.minimum: .*ufunc"):
        xp.minimum(dev, dev, where=dev > 1)
    with pytest.raises(AttributeError, match="cupy.ndarray has no attribute 'ctypes'"):
        dev.ctypes
    with pytest.raises(AttributeError, match="'byteswap'"):  # CuPy 14.2 has it, 14.0 not
        dev.byteswap()
    assert [v["cupy"] for v in _emulator.CUPY_API][:1] == ["14.0.1"]  # the oldest the gpu extras allow


def test_emulated_boundary_refuses_implicit_copies():
    # CuPy arrays refuse np.asarray and pybind11 conversion; the emulated ones must too, or a
    # driver that hands device data to NumPy or to the CPU kernels would pass here only.
    dev = EmulatedBackend.xp.asarray(np.arange(6, dtype=np.uint32))
    originals = (np.asarray, _core.value_counts)
    with host_boundary():
        for convert in (np.asarray, np.array, np.ascontiguousarray, np.asanyarray):
            with pytest.raises(TypeError, match="device array"):
                convert(dev)
        with pytest.raises(TypeError, match="pycsc._core.value_counts was given a device array"):
            _core.value_counts(dev)
        assert np.asarray(dev.get()).sum() == 15  # the explicit way still works
        assert type(np.asarray([1, 2])) is np.ndarray
    assert (np.asarray, _core.value_counts) == originals  # restored afterwards


def test_cupy_backend_reports_compile_failures(monkeypatch):
    class NoNvrtc:
        def __init__(self, code, options):
            self.options = options

        def get_function(self, name):
            raise RuntimeError("CuPy failed to load libnvrtc.so.12: cannot open shared object file")

    class FakeCupy:
        RawModule = NoNvrtc

    b = _runtime.CupyBackend(FakeCupy())
    source, defines = BUILDS[0]
    for _ in range(2):  # the failed module is not cached
        with pytest.raises(BackendUnavailableError, match=r"libnvrtc.so.12.*NVRTC.*--device cpu"):
            b.kernel(source, "any", defines)
    assert not b._modules

    CompileException = type("CompileException", (Exception,), {})  # cupy.cuda.compiler's name

    class BadSource(NoNvrtc):
        def get_function(self, name):
            raise CompileException("kern.cu(3): error: identifier \"x\" is undefined")

    FakeCupy.RawModule = BadSource
    with pytest.raises(BackendUnavailableError, match=r"(?s)bug in pycsc.*identifier"):
        _runtime.CupyBackend(FakeCupy()).kernel(source, "any", defines)


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


def _fake_cupy(monkeypatch, nvrtc_version):
    import types

    def get_version():
        if nvrtc_version is None:
            raise RuntimeError("CuPy failed to load libnvrtc.so.12: OSError: cannot open shared object file")
        return nvrtc_version

    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDeviceProperties=lambda i: {"name": b"Fake H100"})
    cuda = types.ModuleType("cupy.cuda")
    cuda.runtime, cuda.nvrtc = runtime, types.SimpleNamespace(getVersion=get_version)
    fake = types.ModuleType("cupy")
    fake.__version__, fake.cuda = "14.9.9", cuda
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setitem(sys.modules, "cupy.cuda", cuda)
    _dispatch._gpu.gpu_status.cache_clear()


def test_gpu_status_needs_nvrtc(monkeypatch):
    try:
        _fake_cupy(monkeypatch, (13, 5))
        assert _dispatch._gpu.gpu_status() == (True, "cupy 14.9.9, NVRTC 13.5, 1 device(s), device 0: Fake H100")
        _fake_cupy(monkeypatch, None)
        ok, why = _dispatch._gpu.gpu_status()
        assert not ok and "NVRTC does not load (CuPy failed to load libnvrtc.so.12" in why and "gpu-cu13" in why
    finally:
        _dispatch._gpu.gpu_status.cache_clear()


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


def _calls(a, b):
    """One call of every public kernel on label arrays `a`, `b` (host or device alike)."""
    return {
        "connected_components": lambda **k: ops.connected_components(a, **k),
        "unique": lambda **k: ops.unique(a, return_counts=True, **k),
        "voxel_counts": lambda **k: ops.voxel_counts(a, **k),
        "bounding_boxes": lambda **k: ops.bounding_boxes(a, **k),
        "remap": lambda **k: ops.remap(a, {1: 5}, **k),
        "overlaps": lambda **k: ops.overlaps(a, b, **k),
        "rescale": lambda **k: ops.rescale(a, 0.5, 0, **k),
        "edt": lambda **k: ops.distance_transform_edt(a, **k),
        "hausdorff": lambda **k: ops.hausdorff_distances(a, b, 1.0, 10.0, **k),
    }


def _arrays(out):
    if isinstance(out, tuple):
        return [x for o in out for x in _arrays(o)]
    if isinstance(out, ops.Overlaps):
        return [getattr(out, f) for f in out.__dataclass_fields__]
    return [out] if isinstance(out, np.ndarray) else []


@pytest.mark.parametrize("name", sorted(_calls(None, None)))
def test_results_live_where_the_input_lives(emu, name):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, (6, 7, 8)).astype(np.uint16)
    b = np.roll(a, 1, axis=1)
    host_out = _arrays(_calls(a, b)[name](device="gpu"))
    assert host_out and all(type(x) is np.ndarray for x in host_out)  # NumPy in, NumPy out
    device_out = _arrays(_calls(emu.xp.asarray(a), emu.xp.asarray(b))[name]())
    assert device_out and all(_dispatch._gpu.is_gpu_array(x) for x in device_out)  # CuPy in, CuPy out
    for h, d in zip(host_out, device_out):
        np.testing.assert_array_equal(h, d.get())
    with pytest.raises(InputError, match="device"):
        _calls(emu.xp.asarray(a), emu.xp.asarray(b))[name](device="cpu")
