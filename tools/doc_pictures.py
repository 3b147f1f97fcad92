"""Regenerate the README pictures: docs/visualize.png and docs/report.png.

Needs the `viz` and `report` extras and headless Chromium. Run after `csc demo` (its
workdir holds the data, predictions, processed volumes and report/report.html)::

    csc demo configs/demo.toml --workdir demo
    python tools/doc_pictures.py --demo demo --out docs
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

FLAGS = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--hide-scrollbars", "--no-first-run"]


def _small_png(data: bytes, dest: Path, crop=None, colours: int = 128) -> None:
    from PIL import Image

    im = Image.open(io.BytesIO(data)).convert("RGB")
    if crop:
        im = im.crop(crop)
    im.quantize(colours, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)
    print(f"wrote {dest} ({dest.stat().st_size // 1024} KiB, {im.size[0]}x{im.size[1]})")


def viewer_picture(chromium: str, demo: Path, dest: Path, size=(720, 480)) -> None:
    from pycsc.viz import VisualizeConfig, build_scene, start_viewer

    cfg = VisualizeConfig(data_root=demo / "data", crops=("test",), datasets=("jrc_sim-1",),
                          classes=("cyto", "cell"), kinds=("em", "predictions", "processed"),
                          predictions=str(demo / "predictions/{dataset}.zarr/{crop}"),
                          processed=str(demo / "processed/{dataset}.zarr/{crop}"))
    scene = build_scene(cfg)
    viewer = start_viewer(scene)
    with viewer.txn() as s:
        s.layout = "xy"
        s.cross_section_scale *= 1.6  # zoom out: the crop box with EM around it
        for layer in s.layers:  # cyto probabilities and the cell instances
            if layer.name.endswith(" cell") != layer.name.startswith("processed") and layer.type != "annotation" \
                    and not layer.name.startswith("em"):
                layer.visible = False
    with viewer.config_state.txn() as s:
        s.viewer_size = list(size)
        s.show_ui_controls = False
        s.show_panel_borders = False
    profile = tempfile.mkdtemp()
    proc = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={profile}",
                             f"--window-size={size[0] + 100},{size[1] + 200}", viewer.get_viewer_url()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done, reply = threading.Event(), {}
        viewer._screenshot_callbacks["doc"] = (lambda s: (reply.setdefault("s", s), done.set()), None)
        viewer.config_state.retry_txn(lambda s: setattr(s, "screenshot", "doc"), lock=True)
        if not done.wait(300):
            raise SystemExit("no screenshot from Chromium")
        _small_png(reply["s"].screenshot.image, dest)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def report_picture(chromium: str, report: Path, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "page.png"
        subprocess.run([chromium, *FLAGS, f"--user-data-dir={tmp}/profile", "--window-size=1000,1500",
                        "--virtual-time-budget=20000", f"--screenshot={shot}", report.resolve().as_uri()],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        _small_png(shot.read_bytes(), dest, crop=(0, 0, 1000, 1500), colours=64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", type=Path, required=True, help="workdir of a finished `csc demo`")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    viewer_picture(args.chromium, args.demo, args.out / "visualize.png")
    report_picture(args.chromium, args.demo / "report" / "report.html", args.out / "report.png")


if __name__ == "__main__":
    main()
