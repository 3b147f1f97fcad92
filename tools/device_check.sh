#!/usr/bin/env bash
# Issue 7's GPU check in one command, on a machine with an NVIDIA GPU and no internet:
# builds pycsc._core in place, runs the gpu-marked tests (every GPU result against the CPU
# path, on the device) and benchmarks/bench_gpu.py (each kernel against its goal, CPU timed
# in the same run). Wheels for what the machine lacks come from .whl/ and the golden cases
# from .golden/ (tools/device_wheels.sh prepares both). Logs, the JUnit report and gpu.json
# go to $OUT (default benchmarks/out/device); summary.txt holds the gist.
#
#   device run, carry [".whl", ".golden"], timeout_s 600:  bash tools/device_check.sh
# Budget: about 1 min to build, at most TEST_S (330 s) for the tests and BENCH_S (200 s)
# for the benchmark.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/benchmarks/out/device}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
say() { echo "== $*" | tee -a "$OUT/summary.txt"; }

{ nvidia-smi; python3 -c "import cupy, numpy; print('cupy', cupy.__version__, 'cuda runtime',
cupy.cuda.runtime.runtimeGetVersion(), 'numpy', numpy.__version__)"; } > "$OUT/system.txt" 2>&1
say "$(grep -m1 -o 'NVIDIA [A-Z][0-9A-Za-z ]*' "$OUT/system.txt" || echo 'no nvidia-smi')"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl > "$OUT/install.log" 2>&1 || say "wheel install failed (see install.log)"
  export PYTHONPATH=/tmp/site
fi
start=$(date +%s)
JOBS=$(nproc) bash tools/build_inplace.sh >> "$OUT/install.log" 2>&1 || { say "build failed (see install.log)"; exit 1; }
say "built pycsc._core in $(( $(date +%s) - start )) s"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
[ -d .golden ] && export PYCSC_GOLDEN_DIR=$PWD/.golden

# -m replaces the default "not slow and not gpu"; the >2^31-voxel test stays out (slow).
timeout "${TEST_S:-330}" python3 -m pytest tests/gpu -m "gpu and not slow" -q -p no:cacheprovider \
  --junitxml "$OUT/gpu-tests.xml" > "$OUT/gpu-tests.log" 2>&1
say "gpu tests: exit $? (124 = out of time)"
grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/gpu-tests.log" | tail -25 >> "$OUT/summary.txt"

timeout "${BENCH_S:-200}" python3 benchmarks/bench_gpu.py --out "$OUT/gpu.json" > "$OUT/bench.log" 2>&1
say "benchmark: exit $?"
tee -a "$OUT/summary.txt" < "$OUT/bench.log"
