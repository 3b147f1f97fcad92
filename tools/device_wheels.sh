#!/usr/bin/env bash
# Prepare a GPU check on a machine without internet (the `device` tool's H200): run HERE,
# where PyPI is reachable. Fetches into .whl/ the wheels pycsc's GPU tests need that the
# device image (Python 3.12, CuPy 14 for CUDA 13, SciPy, scikit-image, tensorstore, pyarrow,
# pandas, pytest, scikit-build-core, pybind11, CMake, ninja) lacks, and copies the golden
# cases into .golden/. Both folders are git-ignored: name them in the run's `carry`, then
# run tools/device_check.sh there. About 42 MB travel in all (the limit is 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
golden=${1:-../shared/golden}

rm -rf .whl && mkdir .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  "zarr==3.*" "numcodecs>=0.16.6,!=0.17.0" donfig google-crc32c msgspec \
  "ortools>=9.8" immutabledict "protobuf>=6.33.1,<6.34" argparse-dataclass
if [ -d "$golden" ]; then
  rm -rf .golden && cp -r "$golden" .golden
else
  echo "no golden cases at $golden: the golden GPU tests will skip" >&2
fi
du -sh .whl .golden 2>/dev/null || true
