"""Compile every GPU kernel build through CuPy's own compile path, without a GPU.

The test suite compiles the kernels with NVRTC directly, imitating CuPy's options. This runs
the real thing: ``cupy.cuda.compiler._compile_module_with_cache`` (CuPy's option handling,
its cache, the NVRTC it loads) for each (source, defines) the drivers declare, stopping
short of what needs a device: the architecture query (given here, sm_90 by default) and
loading the module (the cubin is only measured). CuPy internals, so not part of the tests;
run it by hand after a CuPy or kernel change:

    pip install 'cupy-cuda13x' 'nvidia-cuda-nvrtc==13.*'      # or the cuda12x pair
    PYTHONPATH=$PWD python tools/cupy_compile_check.py [--arch 90]
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import types


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="90", help="compute capability without the dot (default 90)")
    args = ap.parse_args()
    import cupy
    from cupy.cuda import compiler

    import pycsc.gpu
    from pycsc.gpu import _runtime

    for info in pkgutil.iter_modules(pycsc.gpu.__path__):  # each driver declares its builds
        importlib.import_module(f"pycsc.gpu.{info.name}")
    sizes: list[int] = []

    class Module:  # stands in for cupy.cuda.function.Module: loading needs a device
        def load(self, cubin):
            sizes.append(len(cubin))

        def _set_mapping(self, mapping):
            pass

    compiler._get_arch_for_options_for_nvrtc = lambda arch=None: (f"-arch=sm_{args.arch}", "cubin")
    compiler.function = types.SimpleNamespace(Module=Module)
    print(f"cupy {cupy.__version__}, NVRTC {'.'.join(map(str, compiler._get_nvrtc_version()))}, sm_{args.arch}")
    failed = 0
    for source, defines in _runtime.BUILDS:
        try:
            compiler._compile_module_with_cache(_runtime.load_source(source),
                                                _runtime.NVRTC_OPTIONS + _runtime.define_options(defines),
                                                arch=args.arch)
        except Exception as exc:
            failed += 1
            print(f"FAILED {source} {defines}: {exc}", file=sys.stderr)
    print(f"{len(_runtime.BUILDS)} builds, {failed} failed, {len(sizes)} cubins, {sum(sizes) / 1e6:.2f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
