#!/usr/bin/env bash
# The CPU kernels (pycsc._core) under AddressSanitizer and UBSan: builds a sanitized copy of
# the extension into build/asan (the normal build is untouched), stages the package with it
# in build/asan/site, and runs pytest on it with the sanitizer runtime preloaded, so any
# out-of-bounds access or undefined behaviour in csrc/ stops the run with a report.
#   tools/sanitize_core.sh [pytest args, default tests/ops tests/eval]
# First build: about 8 minutes on 2 cores. tools/emulator_sanitize.sh does the same for the
# CUDA kernels in the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
pybind11_dir=$(python3 -c "import pybind11; print(pybind11.get_cmake_dir())")
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPYCSC_INPLACE=OFF -Dpybind11_DIR="$pybind11_dir" \
      -DSKBUILD_PROJECT_VERSION=0.1.0-asan -DCMAKE_CXX_FLAGS="$san" \
      -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build build/asan -j "${JOBS:-2}"
rm -rf build/asan/site && mkdir -p build/asan/site
cp -r pycsc build/asan/site/ && rm -f build/asan/site/pycsc/_core*.so
cp build/asan/_core*.so build/asan/site/pycsc/
cp -r csrc/cuda build/asan/site/pycsc/gpu/kernels  # where an installed copy keeps them

export PYTHONPATH="$root/build/asan/site"
[ -z "${PYCSC_GOLDEN_DIR:-}" ] && [ -d "$root/../shared/golden" ] && export PYCSC_GOLDEN_DIR="$root/../shared/golden"
if [ $# -eq 0 ]; then set -- tests/ops tests/eval; fi
exec bash tools/_sanitized_pytest.sh "$@"
