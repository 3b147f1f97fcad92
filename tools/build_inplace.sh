#!/usr/bin/env bash
# Development build: compile pycsc._core into build/dev and copy it into ./pycsc,
# so `PYTHONPATH=$PWD python -m pytest` runs the source tree without reinstalling.
set -euo pipefail
cd "$(dirname "$0")/.."
pybind11_dir=$(python3 -c "import pybind11; print(pybind11.get_cmake_dir())")
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release -DPYCSC_INPLACE=ON \
      -Dpybind11_DIR="$pybind11_dir" -DSKBUILD_PROJECT_VERSION=0.1.0-dev > /dev/null
cmake --build build/dev -j "${JOBS:-2}"
