"""Score the parity cases of tests/eval/parity_cases.py with the OFFICIAL evaluator.

Writes tests/eval/data/parity_expected.json: per case the official ``score_label`` record and
the NaN counts the official ``MatchedCrop(check_nans=True)`` reports. Nothing of the official
code is copied into pycsc: this script loads it, at run time, from a git checkout of
janelia-cellmap/cellmap-segmentation-challenge (``--repo``, commit ``--commit``) into a
temporary package, with small stand-ins for what the scoring path imports but does not use
here (the package-level config, the test-crop table, ``upath``, ``cellmap_data``).

Needs scikit-image, scipy, cc3d, fastremap, ortools and zarr (2 or 3).

    python tools/official_parity.py --repo /path/to/cellmap-segmentation-challenge
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import subprocess
import sys
import tempfile
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
OFFICIAL_FILES = ["utils/matched_crop.py", "utils/eval_utils/scoring.py", "utils/eval_utils/config.py",
                  "utils/eval_utils/distance.py", "utils/eval_utils/instance_matching.py",
                  "utils/eval_utils/exceptions.py", "utils/eval_utils/types.py"]
PKG = "cellmap_segmentation_challenge"


def _load_official(repo: Path, commit: str, into: Path, manifest_rows: dict) -> types.ModuleType:
    base = into / PKG
    for rel in OFFICIAL_FILES:
        text = subprocess.run(["git", "--git-dir", str(repo), "show", f"{commit}:src/{PKG}/{rel}"],
                              check=True, capture_output=True, text=True).stdout
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    for pkg in ("", "utils", "utils/eval_utils"):
        (base / pkg / "__init__.py").write_text("")
    from pycsc.eval.align import DEFAULT_INSTANCE_CLASSES  # the official list, as pycsc ships it

    (base / "config.py").write_text(f"TRUTH_PATH = ''\nSUBMISSION_PATH = ''\nINSTANCE_CLASSES = {list(DEFAULT_INSTANCE_CLASSES)!r}\n")
    (base / "utils" / "crops.py").write_text(
        "from types import SimpleNamespace\n"
        f"TEST_CROPS_DICT = {{k: SimpleNamespace(**v) for k, v in {manifest_rows!r}.items()}}\n")
    upath = types.ModuleType("upath")

    class UPath(type(Path())):  # the scoring path only joins paths and reads `.path`
        @property
        def path(self):
            return str(self)

    upath.UPath = UPath
    sys.modules["upath"] = upath
    cellmap_data = types.ModuleType("cellmap_data")
    cellmap_data.CellMapImage = None  # OME-NGFF only; no case uses it
    sys.modules["cellmap_data"] = cellmap_data
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{PKG}.utils.eval_utils.scoring")


class _Counts(logging.Handler):
    def __init__(self):
        super().__init__()
        self.counts: list[int] = []

    def emit(self, record):
        msg = record.getMessage()
        if "NaN value(s)" in msg:
            self.counts.append(int(msg.split(": ")[1].split(" ")[0]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, help="git dir (or checkout) of the official repository")
    ap.add_argument("--commit", default="6b9ad68")
    ap.add_argument("--out", default=str(REPO_ROOT / "tests" / "eval" / "data" / "parity_expected.json"))
    args = ap.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    import numpy as np

    from tests.eval import parity_cases as pc
    from tests.eval.conftest import grid, write_array

    repo = Path(args.repo)
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        truth_root, sub_root, _ = pc.build(tmp / "data")
        rows = {(c.crop, c.label): {"voxel_size": pc.TARGET_VS, "shape": c.shape, "translation": (0.0, 0.0, 0.0)}
                for c in pc.CASES.values()}
        scoring = _load_official(git_dir, args.commit, tmp / "official", rows)
        mc_mod = sys.modules[f"{PKG}.utils.matched_crop"]
        handler = _Counts()
        mc_mod.logger.addHandler(handler)
        mc_mod.logger.setLevel(logging.WARNING)
        normal_bytes = mc_mod.BYTES_PER_FLOAT32
        normal_chunked = mc_mod.MatchedCrop._should_use_chunked_loading
        out = {"official_commit": args.commit, "block_edge_for_blocks_cases": pc.SMALL_BLOCK_EDGE, "cases": {}}
        for name, case in pc.CASES.items():
            crop = f"crop{case.crop}"
            if case.blocks:  # the official block path with a small block edge (see parity_cases)
                mc_mod.BYTES_PER_FLOAT32 = 100 * 1024 * 1024 / (pc.SMALL_BLOCK_EDGE ** 3 + 100)
                assert max(32, int((100 * 1024 * 1024 / mc_mod.BYTES_PER_FLOAT32) ** (1 / 3))) == pc.SMALL_BLOCK_EDGE
                mc_mod.MatchedCrop._should_use_chunked_loading = lambda self, ratio, mb: True
            else:
                mc_mod.BYTES_PER_FLOAT32 = normal_bytes
                mc_mod.MatchedCrop._should_use_chunked_loading = normal_chunked
            entry: dict = {}
            try:
                _, _, rec = scoring.score_label(str(sub_root / crop / case.label), case.label, crop,
                                                str(truth_root), scoring.INSTANCE_CLASSES)
            except Exception as exc:  # float truth: cc3d.statistics refuses float arrays
                entry["official_error"] = f"{type(exc).__name__}: {exc}"
                truth, _ = pc.case_arrays(name)
                int_root = tmp / "int_truth"
                write_array(int_root / crop / case.label, truth.astype(np.uint32), grid(pc.TARGET_VS))
                _, _, rec = scoring.score_label(str(sub_root / crop / case.label), case.label, crop,
                                                str(int_root), scoring.INSTANCE_CLASSES)
                entry["note"] = "record of the same truth stored as uint32"
            entry["record"] = {k: (float(v) if isinstance(v, float) else v) for k, v in rec.items()
                               if k in ("tp", "fp", "fn", "hausdorff_norm_sum", "n_hausdorff", "status")}
            handler.counts.clear()
            mc = mc_mod.MatchedCrop(str(sub_root / crop / case.label), case.label, pc.TARGET_VS, case.shape,
                                    (0.0, 0.0, 0.0), scoring.INSTANCE_CLASSES, check_nans=True)
            mc.load_aligned()
            entry["nan_counts"] = list(handler.counts)
            out["cases"][name] = entry
            print(name, entry)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
