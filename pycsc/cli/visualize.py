"""``csc visualize``: EM, ground truth, predictions and submissions in neuroglancer."""

from __future__ import annotations

import argparse
import threading

EPILOG = """\
examples:
  csc visualize -d jrc_cos7-1a -c 234,236 -C nuc,cell,mito,er -k em,gt,predictions
  csc visualize --data-root sim -c test -k em,submission --submission submission.zip
  csc visualize -d jrc_cos7-1a -c 234 --links      # shareable URLs, EM from the public bucket

The viewer listens on 127.0.0.1 only. On a cluster node, tunnel its port with the printed
`ssh -L` line and open the URL on your own machine. Ctrl-C stops it.
"""


def _words(values) -> tuple[str, ...] | None:
    """`-c 1,2 -c 3` and `-c 1 2 3` alike: every comma-separated word, in order."""
    if not values:
        return None
    return tuple(w for v in values for w in str(v).split(",") if w)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "visualize", help="look at EM, labels, predictions and submissions in neuroglancer",
        description="Serve a local neuroglancer viewer (127.0.0.1 only) with EM as an image layer,\n"
        "ground truth, processed and submitted labels as segmentation layers, probabilities as\n"
        "colour-mapped image layers and crops as boxes, all placed in nm by their OME-NGFF\n"
        "scale and translation. Needs the `viz` extra: pip install 'pycsc[viz]'.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-d", "--datasets", nargs="+", metavar="DS", help="dataset names or patterns (default: all)")
    p.add_argument("-c", "--crops", nargs="+", metavar="CROP",
                   help="crop ids (234 or crop234), 'test' (manifest test crops) or '*' (default: all local crops)")
    p.add_argument("-C", "--classes", nargs="+", metavar="CLASS", help="classes to show (default: all found)")
    p.add_argument("-k", "--kinds", nargs="+", metavar="KIND",
                   help="layers: em, gt, predictions, processed, submission (default: em gt predictions processed)")
    p.add_argument("--config", help="TOML with a [visualize] table (or a pipeline config: its [predict] and "
                   "[process] outputs are used)")
    p.add_argument("--data-root", help="folder holding <dataset>/<dataset>.zarr (default: data)")
    p.add_argument("--manifest", help="test-crop manifest CSV (default: <data-root>/test_crop_manifest.csv)")
    p.add_argument("--predictions", help="prediction template (default: predictions/{dataset}.zarr/{crop})")
    p.add_argument("--processed", help="processed template (default: processed/{dataset}.zarr/{crop})")
    p.add_argument("--submission", help="submission .zip or .zarr (adds kind 'submission')")
    p.add_argument("--em-level", help="EM level to serve, e.g. s2 (default: the level matching the crops)")
    p.add_argument("--port", type=int, help="viewer port on 127.0.0.1 (default: 0 = any free port)")
    p.add_argument("--no-browser", action="store_true", help="print the URL only; do not open a browser")
    p.add_argument("--links", action="store_true",
                   help="print shareable neuroglancer URLs streaming the EM from the public bucket; no server")
    p.add_argument("--link-prefix", help="neuroglancer client for --links (default: neuroglancer-demo.appspot.com)")
    p.set_defaults(run=run)
    return p


def load_config(args: argparse.Namespace):
    """Defaults < --config TOML < flags."""
    from ..config import from_mapping, load_toml
    from ..viz import VisualizeConfig

    table: dict = {}
    source = "command line"
    if args.config:
        data = load_toml(args.config)
        source = str(args.config)
        if isinstance(data.get("visualize"), dict):
            table = dict(data["visualize"])
        else:  # a pipeline config: reuse where it wrote predictions and processed volumes
            for section, key in (("predict", "predictions"), ("process", "processed")):
                out = data.get(section, {}).get("output") if isinstance(data.get(section), dict) else None
                if out:
                    table[key] = out
            for section in ("predict", "train"):
                sec = data.get(section) if isinstance(data.get(section), dict) else {}
                for key in ("data_root", "manifest"):
                    if key in sec and key not in table:
                        table[key] = sec[key]
    flags = {"datasets": _words(args.datasets), "crops": _words(args.crops), "classes": _words(args.classes),
             "kinds": _words(args.kinds), "data_root": args.data_root, "manifest": args.manifest,
             "predictions": args.predictions, "processed": args.processed, "submission": args.submission,
             "em_level": args.em_level, "port": args.port, "link_prefix": args.link_prefix}
    table.update({k: list(v) if isinstance(v, tuple) else v for k, v in flags.items() if v is not None})
    if args.submission and "kinds" not in table:
        table["kinds"] = list(VisualizeConfig.kinds) + ["submission"]
    return from_mapping(VisualizeConfig, table, source)


def wait_for_interrupt(viewer) -> None:
    """Block until Ctrl-C (the viewer's server runs in background threads)."""
    stop = threading.Event()
    while not stop.wait(3600):
        pass


def run(args: argparse.Namespace) -> int:
    from ..viz import build_scene

    cfg = load_config(args)
    scene = build_scene(cfg, need_volumes=not args.links)
    for note in scene.notes:
        print(f"note: {note}")
    if args.links:
        from ..viz import public_links

        for box, url in public_links(scene, cfg):
            print(f"{box.dataset} {box.crop}: {url}")
        return 0
    from ..viz import start_viewer
    from ..viz.viewer import ssh_hint

    viewer = start_viewer(scene, cfg.port)
    url = viewer.get_viewer_url()
    print(f"{len(scene.volumes)} layers, {len(scene.boxes)} crop boxes: "
          + ", ".join(v.name for v in scene.volumes[:8]) + (" ..." if len(scene.volumes) > 8 else ""))
    print(f"viewer: {url}", flush=True)
    hint = ssh_hint(url)
    if hint:
        print(f"remote: {hint}", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url)
    try:  # a Ctrl-C from here on is the normal way to stop
        print("serving until Ctrl-C", flush=True)
        wait_for_interrupt(viewer)
    except KeyboardInterrupt:
        print("viewer stopped")
    return 0


__all__ = ["add_parser", "run", "load_config", "wait_for_interrupt"]
