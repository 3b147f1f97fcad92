"""``csc demo``: the whole participant loop on simulated data, offline, in a few minutes.

Steps (everything below ``workdir``; each step's resolved config is written beside its output)::

    simulate   data/<dataset>/<dataset>.zarr, test_crop_manifest.csv, ground_truth.zarr
    datasplit  datasplit.csv
    train      run/checkpoints/{latest,best}.pt, run/logs/metrics.jsonl; best.pt is the epoch
               whose validation crops score best officially (run/validation/)
    predict    predictions/<dataset>.zarr/crop<N>/<class>
    process    processed/<dataset>.zarr/crop<N>/<class>
    pack       submission.zip
    evaluate   scores of the submission and of an all-background submission, as a table
    report     report/report.html: both submissions side by side (with the `report` extra)
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .config import DatasplitConfig, DemoConfig, PackConfig, PredictConfig, ProcessConfig, TrainConfig, write_resolved
from .data.crops import crop_sort_key, read_manifest_rows


@contextmanager
def _step(name: str, timings: dict):
    print(f"demo: {name} ...", flush=True)
    t = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - t
    print(f"demo: {name} done in {timings[name]:.1f} s", flush=True)


def _simulate(cfg: DemoConfig, work: Path) -> tuple[Path, Path, Path]:
    """Simulated dataset: (data root, test-crop manifest, ground-truth store)."""
    from .simulate import simulate

    result = simulate(work / "data", preset=cfg.preset, seed=cfg.seed, overwrite=True)
    return result.dest, result.test_manifest, result.truth_path


def background_submission(manifest: str | Path, dest: Path) -> Path:
    """A submission of zeros for every (crop, class) of the manifest: the score floor."""
    import shutil

    import zarr

    from .pack.run import _write_array, zip_folder

    folder = dest.with_suffix(".zarr")
    shutil.rmtree(folder, ignore_errors=True)
    root = zarr.open_group(str(folder), mode="w", zarr_format=2)
    for crop, _ds, label, vs, tr, shape in read_manifest_rows(manifest):
        _write_array(root.require_group(crop), label, np.zeros(shape, np.uint8),
                     {"voxel_size": list(vs), "translation": list(tr), "shape": list(shape)})
    return zip_folder(folder, dest)


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def score_table(scores: dict, baseline: dict, classes) -> str:
    """Scores of `classes` and the overall scores, next to the all-background submission."""
    lines = [f"{'class':14s} {'metric':10s} {'demo':>8s} {'background':>11s}"]
    for label in [c for c in classes if c in scores.get("label_scores", {})]:
        rec, base = scores["label_scores"][label], baseline.get("label_scores", {}).get(label, {})
        metric = "combined" if "combined_score" in rec else "iou"
        key = "combined_score" if metric == "combined" else "iou"
        lines.append(f"{label:14s} {metric:10s} {_fmt(rec.get(key)):>8s} {_fmt(base.get(key)):>11s}")
    for key in ("overall_instance_score", "overall_semantic_score", "overall_score"):
        lines.append(f"{key:25s} {_fmt(scores.get(key)):>8s} {_fmt(baseline.get(key)):>11s}")
    return "\n".join(lines)


def _report(scores: dict, baseline: dict, work: Path) -> None:
    """``report/report.html``: the two submissions side by side (skipped without matplotlib)."""
    from .errors import BackendUnavailableError
    from .report import write_report

    try:
        path = write_report(scores, compare=baseline, out_dir=work / "report", names=["demo", "background"])
    except BackendUnavailableError as exc:
        print(f"demo: no report ({exc})")
    else:
        print(f"demo: report {path}")


def kept_checkpoint_note(summary: dict, epochs: int, train_seconds: float) -> str:
    """Which epoch's weights best.pt holds, why, and what the validation cost."""
    why = {"official": "the highest official score of its whole validation crops",
           "dice": "the highest mean validation Dice", "loss": "the lowest validation loss"}[summary["metric"]]
    text = (f"demo: best.pt is epoch {summary['best_epoch']} of {epochs}: {why} "
            f"({summary['best_score']:.4f})")
    if summary["metric"] == "official":
        v = summary["validation_seconds"]
        text += (f"; official validation took {v:.1f} s of the {train_seconds:.1f} s of training "
                 f"({100 * v / max(train_seconds, 1e-9):.0f} %)")
    return text


def run_demo(cfg: DemoConfig) -> dict:
    """Run every step; returns the scores, the all-background scores and step timings."""
    from .data.datasplit import make_datasplit
    from .eval import EvaluateConfig, score_submission
    from .pack import pack
    from .predict import predict
    from .process import process
    from .train import train

    t0 = time.perf_counter()
    work = Path(cfg.workdir)
    work.mkdir(parents=True, exist_ok=True)
    write_resolved(cfg, work / "demo.toml")
    timings: dict[str, float] = {}
    with _step("simulate", timings):
        data_root, manifest, truth = _simulate(cfg, work)
    classes = tuple(cfg.classes)
    with _step("datasplit", timings):
        split = DatasplitConfig(data_root=data_root, output=work / "datasplit.csv", classes=classes,
                                validation_fraction=0.2, seed=cfg.seed)
        write_resolved(split, work / "datasplit.toml")
        make_datasplit(split)
    epochs = 3
    with _step("train", timings):
        tcfg = TrainConfig(datasplit=work / "datasplit.csv", data_root=data_root, output_dir=work / "run",
                           classes=classes, patch_shape=tuple(cfg.patch_shape),
                           voxel_size_nm=tuple(cfg.voxel_size_nm), base_channels=cfg.base_channels,
                           depth=cfg.depth, batch_size=cfg.batch_size, epochs=epochs,
                           iterations_per_epoch=max(1, math.ceil(cfg.iterations / epochs)),
                           learning_rate=cfg.learning_rate, scheduler="onecycle", num_workers=0,
                           threads=cfg.threads, seed=cfg.seed, validation_batches=4, resume=False,
                           mixed_precision=False, progress=cfg.progress,
                           validation_metric=cfg.validation_metric, validation_min_size=cfg.min_size)
        summary = train(tcfg)
    print(kept_checkpoint_note(summary, epochs, timings["train"]))
    with _step("predict", timings):
        pcfg = PredictConfig(checkpoint=work / "run" / "checkpoints" / "best.pt", data_root=data_root,
                             manifest=manifest, output=str(work / "predictions/{dataset}.zarr/{crop}"),
                             batch_size=cfg.batch_size, threads=cfg.threads, overwrite=True,
                             progress=cfg.progress)
        predict(pcfg)
    with _step("process", timings):
        process(ProcessConfig(input=pcfg.output, output=str(work / "processed/{dataset}.zarr/{crop}"),
                              manifest=manifest, min_size=cfg.min_size, overwrite=True))
    with _step("pack", timings):
        # classes the demo does not train are submitted as background, as in the baseline
        pack(PackConfig(input=str(work / "processed/{dataset}.zarr/{crop}"), manifest=manifest,
                        output=work / "submission.zip", overwrite=True, missing="empty"))
    with _step("evaluate", timings):
        ecfg = EvaluateConfig(progress=cfg.progress)
        scores = score_submission(work / "submission.zip", truth, manifest, config=ecfg)
        baseline = score_submission(background_submission(manifest, work / "background.zip"), truth, manifest,
                                    config=ecfg)
    _report(scores, baseline, work)
    total = time.perf_counter() - t0
    crops = sorted({r[0] for r in read_manifest_rows(manifest)}, key=crop_sort_key)
    n_labels = len(scores.get("label_scores", {}))
    print(f"\nscores on {len(crops)} simulated test crops ({', '.join(crops)}); the other "
          f"{n_labels - len(classes)} scored classes are background in both submissions:\n"
          + score_table(scores, baseline, classes))
    print("\ntime: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + f"; total {total:.0f} s"
          + (f" (train includes {summary['validation_seconds']:.0f} s of official validation)"
             if summary["metric"] == "official" else ""))
    return {"scores": scores, "baseline": baseline, "timings": timings, "seconds": total, "train": summary}
