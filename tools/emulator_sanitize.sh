#!/usr/bin/env bash
# The emulated GPU tests with every kernel built under AddressSanitizer and UBSan: any
# out-of-bounds read or write, or undefined behaviour, in a CUDA kernel stops the run with a
# report (on a GPU it would pass silently or corrupt memory). NumPy's buffers come from the
# preloaded ASan allocator, so overruns of kernel arguments are caught too. Slow (about 5x).
#   tools/emulator_sanitize.sh [pytest args, default tests/gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
export PYCSC_EMU_SANITIZE=1
# Import pycsc as the caller does (an installed copy, or PYTHONPATH), never the bare source
# tree that `python -m` would put first on sys.path (Python 3.11+).
export PYTHONSAFEPATH=1
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The NVRTC compile tests run no kernel, and NVRTC cannot load its builtins library under
# the ASan preload: left out by default. --capture=sys: a report written to fd 2 just before
# the abort must reach the terminal, not a capture file.
if [ $# -eq 0 ]; then set -- tests/gpu -k "not nvrtc and not never_flush and not ftz_check"; fi
LD_PRELOAD="$asan $ubsan" exec "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider --capture=sys "$@"
