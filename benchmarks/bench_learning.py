"""What to start from: the official overall score after a fixed training budget, per recipe.

On ``csc simulate --preset small`` (seeded; the held-out test crops and their hidden truth),
each recipe trains the same number of steps on the same classes, then predicts the test
crops, processes them with the decoder its target kind stores, packs and is scored by
``pycsc.eval`` (the official metric: IoU for semantic classes, F1 x Hausdorff for instance
classes). Recipes:

* ``unet+binary``        today's default: one sigmoid channel per class, BCE;
* ``unet+sdt``           signed distances (tanh, MSE) for the instance classes, decoded by
                         distance-seeded watershed;
* ``unet+boundary``      fg + boundary channels for the instance classes, boundary watershed;
* ``monai.SegResNet``    a MONAI network (binary targets), when MONAI is installed.

The budget is small (a CPU smoke-size run), so the numbers rank recipes at that budget only;
longer runs change them. The load average is printed with the table: the machine is shared.

Usage: python benchmarks/bench_learning.py [--steps 120] [--workdir /tmp/bench_learning]
       [--recipes unet+binary,unet+sdt] [--threads 2] [--data SIMULATED_FOLDER]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

CLASSES = ("ecs", "cyto", "mito", "cell")
INSTANCE = ("mito", "cell")
UNET = {"name": "unet", "base_channels": 8, "depth": 2}
RECIPES = {
    "unet+binary": {"model": UNET},
    "unet+sdt": {"model": UNET, "targets": {c: {"kind": "sdt", "scale_nm": 40.0} for c in INSTANCE}},
    "unet+boundary": {"model": UNET, "targets": {c: "boundary" for c in INSTANCE}},
    "monai.SegResNet": {"model": {"name": "monai.SegResNet", "init_filters": 8, "blocks_down": (1, 2, 2),
                                  "blocks_up": (1, 1)}},
}


def _run_recipe(name: str, recipe: dict, data: dict, work: Path, args) -> dict:
    from pycsc.config import PackConfig, PredictConfig, ProcessConfig, TrainConfig, from_mapping
    from pycsc.eval import EvaluateConfig, score_submission
    from pycsc.pack import pack
    from pycsc.predict import predict
    from pycsc.process import process
    from pycsc.train import train

    out = work / name.replace("+", "_")
    shutil.rmtree(out, ignore_errors=True)
    epochs = 3
    cfg = from_mapping(TrainConfig, dict(
        datasplit=data["split"], data_root=data["root"], output_dir=out / "run", classes=CLASSES,
        patch_shape=(32, 32, 32), batch_size=4, epochs=epochs, iterations_per_epoch=max(1, args.steps // epochs),
        learning_rate=3e-3, scheduler="onecycle", num_workers=0, threads=args.threads, seed=0,
        validation_batches=2, resume=False, mixed_precision=False, progress=False, **recipe), name)
    t = time.perf_counter()
    summary = train(cfg)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    pcfg = PredictConfig(checkpoint=summary["latest"], data_root=data["root"], manifest=data["manifest"],
                         output=str(out / "predictions/{dataset}.zarr/{crop}"), batch_size=4,
                         threads=args.threads, overwrite=True, progress=False)
    predict(pcfg)
    process(ProcessConfig(input=pcfg.output, output=str(out / "processed/{dataset}.zarr/{crop}"),
                          manifest=data["manifest"], min_size=20, overwrite=True))
    pack(PackConfig(input=str(out / "processed/{dataset}.zarr/{crop}"), manifest=data["manifest"],
                    output=out / "submission.zip", overwrite=True, missing="empty"))
    infer_s = time.perf_counter() - t
    scores = score_submission(out / "submission.zip", data["truth"], data["manifest"],
                              config=EvaluateConfig(progress=False))
    per_class = {c: scores["label_scores"].get(c, {}) for c in CLASSES}
    return {"train_s": train_s, "infer_s": infer_s, "overall": scores["overall_score"],
            "instance": scores["overall_instance_score"], "semantic": scores["overall_semantic_score"],
            "classes": {c: r.get("combined_score", r.get("iou")) for c, r in per_class.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=120, help="training steps per recipe (default 120)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_learning"))
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated subset of the recipes")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--data", type=Path, default=None,
                        help="an existing `csc simulate --preset small --seed 0` folder (default: simulate)")
    args = parser.parse_args()

    from pycsc.config import DatasplitConfig
    from pycsc.data.datasplit import make_datasplit
    from pycsc.simulate import simulate

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    root = args.data or simulate(work / "data", preset="small", seed=0, overwrite=True).dest
    split = work / "datasplit.csv"
    make_datasplit(DatasplitConfig(data_root=root, output=split, classes=CLASSES, validation_fraction=0.2, seed=0))
    data = {"root": root, "manifest": root / "test_crop_manifest.csv", "truth": root / "ground_truth.zarr",
            "split": split}
    rows = []
    for name in args.recipes.split(","):
        recipe = RECIPES[name]
        if recipe["model"]["name"].startswith("monai."):
            try:
                import monai  # noqa: F401
            except ImportError:
                print(f"{name}: skipped (pip install 'pycsc[monai]')")
                continue
        print(f"{name} ...", flush=True)
        rows.append((name, _run_recipe(name, recipe, data, work, args)))

    def f(v):
        return "-" if v is None else f"{v:.4f}"

    print(f"\nsimulated preset small, {args.steps} steps of batch 4 (32^3 at 8 nm), classes {', '.join(CLASSES)}; "
          f"instance classes {', '.join(INSTANCE)}; scores on the held-out test crops (pycsc.eval)")
    print(f"{'recipe':18s} {'overall':>8s} {'instance':>9s} {'semantic':>9s} "
          + " ".join(f"{c:>7s}" for c in CLASSES) + f" {'train s':>8s} {'infer s':>8s}")
    for name, r in rows:
        print(f"{name:18s} {f(r['overall']):>8s} {f(r['instance']):>9s} {f(r['semantic']):>9s} "
              + " ".join(f"{f(r['classes'][c]):>7s}" for c in CLASSES)
              + f" {r['train_s']:8.0f} {r['infer_s']:8.0f}")
    print("load average (1, 5, 15 min): " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
