#!/usr/bin/env bash
# pytest with the ASan and UBSan runtimes preloaded into Python, for sanitize_core.sh and
# emulator_sanitize.sh (run from the repository root, arguments passed to pytest).
set -euo pipefail
asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Import pycsc as the caller arranged (an installed copy, or PYTHONPATH), never the bare
# source tree that `python -m` would put first on sys.path (Python 3.11+).
export PYTHONSAFEPATH=1
# --capture=sys: a report written to fd 2 just before the abort must reach the terminal, not
# a capture file.
LD_PRELOAD="$asan $ubsan" exec "${PYTHON:-python3}" -m pytest -q -p no:cacheprovider --capture=sys "$@"
