"""Benchmark pycsc.ops.connected_components against cc3d (the official stack) and scipy.

Same inputs, same run: median of --repeat calls after one warm-up. The default volume is the
performance-spec anchor ``ell600`` (600^3 ellipsoid labels, ~7.7 % foreground):

    python benchmarks/bench_components.py               # 600^3, binary and multi-label
    python benchmarks/bench_components.py --size 256 --cases binary,multi,noise,blob

Run from the repository root with the built core importable (PYTHONPATH=$PWD after
tools/build_inplace.sh). Every timing includes allocating the output, as a caller pays it.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _data import blob_volume, ell600, noise_volume, time_call_cpu  # noqa: E402


HEAD = ("wall s", "cpu s", "MVx/s", "x pycsc")


def cases(names: list[str], size: int) -> list[tuple[str, np.ndarray, bool]]:
    """(name, volume, binary) for each requested case."""
    out = []
    if "binary" in names or "multi" in names:
        lab = ell600(size)
        if "binary" in names:
            out.append((f"ell{size} binary u8", (lab > 0).astype(np.uint8), True))
        if "multi" in names:
            out.append((f"ell{size} multi-label u32", lab, False))
    if "noise" in names:
        out.append((f"noise{size} 50% binary u8", noise_volume(size, 0.5, seed=0), True))
    if "blob" in names:
        out.append((f"blob{size} 30% binary u8", blob_volume(size, seed=0), True))
    return out


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", type=int, default=600, help="edge of the cubic volume (default 600)")
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions (median)")
    p.add_argument("--cases", default="binary,multi", help="comma list of binary,multi,noise,blob")
    p.add_argument("--no-scipy", action="store_true", help="skip scipy.ndimage.label (slow)")
    args = p.parse_args()

    import cc3d
    from scipy import ndimage as ndi

    from pycsc import _core
    from pycsc.ops import connected_components

    info = _core.build_info()
    print(f"pycsc core: {info['compiler']}, OpenMP {info['openmp']}, {info['max_threads']} threads")
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs")
    rows = []
    for name, vol, binary in cases(args.cases.split(","), args.size):
        ours_ids, ours_n = connected_components(vol, 26)
        ref_ids, ref_n = cc3d.connected_components(vol, connectivity=26, return_N=True)
        same = ours_n == ref_n and np.array_equal(ours_ids, ref_ids)
        del ours_ids, ref_ids
        impls = [
            ("pycsc", lambda: connected_components(vol, 26)),
            ("cc3d 1T", lambda: cc3d.connected_components(vol, connectivity=26)),
        ]
        if binary and not args.no_scipy:
            structure = np.ones((3, 3, 3), bool)
            impls.append(("scipy", lambda: ndi.label(vol, structure=structure)))
        times = {}
        for impl, fn in impls:
            # scipy is 5x slower than cc3d: fewer repetitions keep the run short
            rep = max(1, args.repeat // 3) if impl == "scipy" else args.repeat
            times[impl] = time_call_cpu(fn, repeat=rep)
        for impl, (t, cpu) in times.items():
            ratio = t / times["pycsc"][0]
            rows.append((name, impl, t, cpu, vol.size / t / 1e6, ratio, same, ours_n))

    print()
    print(f"{'case':28s} {'impl':8s}" + "".join(f" {h:>8s}" for h in HEAD) + "  parity")
    for name, impl, t, cpu, rate, ratio, same, n in rows:
        parity = (f"{'ids==cc3d' if same else 'MISMATCH'} (n={n})") if impl == "pycsc" else ""
        print(f"{name:28s} {impl:8s} {t:8.3f} {cpu:8.3f} {rate:8.0f} {ratio:8.2f}  {parity}")
    print("wall: median elapsed; cpu: median CPU time of the process over all threads (steadier")
    print("when other jobs share the machine); MVx/s and 'x pycsc' from wall time")
    load = os.getloadavg()[0]
    print(f"\nload average after: {load:.2f} (other jobs on the machine skew timings)")


if __name__ == "__main__":
    main()
