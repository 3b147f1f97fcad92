"""Every kernel under AddressSanitizer and UBSan, with racing blocks.

A GPU lets an out-of-bounds read pass and an out-of-bounds write corrupt other data
silently. Here tests/gpu/test_races.py (every kernel, blocks on several threads) runs again
in a subprocess with each kernel built with -fsanitize=address,undefined and the sanitizer
runtime preloaded into Python, so NumPy's buffers, which the kernels get as device memory,
carry red zones. tools/emulator_sanitize.sh runs the whole emulated suite this way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _emulator import compiler

ROOT = Path(__file__).resolve().parents[2]


def _runtime_found(name: str) -> bool:
    cxx = compiler()
    if cxx is None:
        return False
    path = subprocess.run([cxx, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return os.path.isabs(path) and os.path.exists(path)


@pytest.mark.skipif(not (_runtime_found("libasan.so") and _runtime_found("libubsan.so")),
                    reason="no C++ compiler with the ASan/UBSan runtimes")
def test_racing_kernels_are_clean_under_asan_and_ubsan():
    import pycsc

    if sys.version_info < (3, 11) and Path(pycsc.__file__).parent != ROOT / "pycsc":
        pytest.skip("Python < 3.11 would import the source tree instead of the installed pycsc")
    env = dict(os.environ, PYTHON=sys.executable)
    res = subprocess.run(["bash", str(ROOT / "tools" / "emulator_sanitize.sh"), "tests/gpu/test_races.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-8000:]
    assert "passed" in out and "Sanitizer" not in out
