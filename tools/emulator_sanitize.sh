#!/usr/bin/env bash
# The emulated GPU tests with every kernel built under AddressSanitizer and UBSan: any
# out-of-bounds read or write, or undefined behaviour, in a CUDA kernel stops the run with a
# report (on a GPU it would pass silently or corrupt memory). NumPy's buffers come from the
# preloaded ASan allocator, so overruns of kernel arguments are caught too. Slow (about 5x).
#   tools/emulator_sanitize.sh [pytest args, default tests/gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYCSC_EMU_SANITIZE=1
# The NVRTC compile tests run no kernel, and NVRTC cannot load its builtins library under
# the ASan preload: left out by default.
if [ $# -eq 0 ]; then set -- tests/gpu -k "not nvrtc and not never_flush and not ftz_check"; fi
exec bash tools/_sanitized_pytest.sh "$@"
