"""Add the installed CuPy's API to tests/gpu/cupy_api.json, which the kernel emulator enforces.

The emulator runs the drivers with NumPy standing in for CuPy. NumPy has functions, keywords
and array methods that CuPy lacks (``np.max(initial=)``, ``np.unique(sorted=)``...); a driver
using one passes under the emulator and fails on a GPU. This snapshot records, for every
public callable of the ``cupy`` namespace, its parameters (or, for ufuncs, the arity), and the
public attributes of ``cupy.ndarray``, so the emulator can refuse what CuPy would refuse,
in CI and without CuPy installed.

The file holds one entry per CuPy version recorded (a rerun replaces that version's entry);
the emulator holds the drivers to every one of them. Record the oldest CuPy the gpu extras
allow and the newest. CuPy imports without a GPU:

    pip install --target /tmp/cupy 'cupy-cuda12x==14.0.*' fastrlock cuda-pathfinder
    PYTHONPATH=/tmp/cupy python tools/cupy_api_snapshot.py
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "gpu" / "cupy_api.json"


def describe(obj) -> dict:
    if type(obj).__name__ == "ufunc":
        return {"ufunc": [int(obj.nin), int(obj.nout)]}
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # Cython functions without signatures: existence only
        return {"opaque": True}
    return {"params": [[p.name, p.kind.name, p.default is not inspect.Parameter.empty]
                       for p in sig.parameters.values()]}


def dump(doc: dict) -> str:
    """JSON with one function per line, so a new CuPy's changes read as a short diff."""
    parts = []
    for v in doc["versions"]:
        funcs = ",\n".join(f"  {json.dumps(k)}: {json.dumps(f, separators=(',', ':'))}"
                            for k, f in sorted(v["functions"].items()))
        parts.append(f'{{"cupy": {json.dumps(v["cupy"])},\n"ndarray": {json.dumps(v["ndarray"])},\n'
                     f'"functions": {{\n{funcs}\n}}}}')
    return '{"versions": [\n' + ",\n".join(parts) + "\n]}\n"


def main() -> int:
    import cupy

    functions = {}
    for name in sorted(dir(cupy)):
        obj = getattr(cupy, name, None)
        if name.startswith("_") or not callable(obj) or inspect.ismodule(obj):
            continue
        functions[name] = describe(obj)
    methods = sorted(n for n in dir(cupy.ndarray) if not n.startswith("_"))
    entry = {"cupy": cupy.__version__, "functions": functions, "ndarray": methods}
    doc = json.loads(OUT.read_text()) if OUT.exists() else {"versions": []}
    doc["versions"] = sorted([v for v in doc["versions"] if v["cupy"] != cupy.__version__] + [entry],
                             key=lambda v: [int(x) if x.isdigit() else x for x in v["cupy"].split(".")])
    tmp = OUT.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(dump(doc))
    os.replace(tmp, OUT)
    print(f"wrote {OUT} (CuPy {cupy.__version__}: {len(functions)} functions, {len(methods)} ndarray attributes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
