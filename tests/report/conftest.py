import shutil

import numpy as np
import pytest


@pytest.fixture(scope="session")
def scored(tmp_path_factory):
    """Two evaluated submissions of the tiny simulated test crops: the truth with one semantic class
    eroded ('eroded') and all background ('background'). Returns paths and the eroded class's oracle."""
    import zarr
    from scipy import ndimage

    from pycsc.cli.main import main
    from pycsc.demo import background_submission
    from pycsc.eval.align import DEFAULT_INSTANCE_CLASSES
    from pycsc.simulate import simulate

    root = tmp_path_factory.mktemp("report")
    sim = simulate(root / "sim", preset="tiny", seed=0)
    sub = root / "eroded.zarr"
    shutil.copytree(sim.truth_path, sub)
    group = zarr.open_group(str(sub), mode="r+")
    semantic = [(int(np.count_nonzero(group["crop901"][k][:])), k) for k in group["crop901"].array_keys()
                if k not in DEFAULT_INSTANCE_CLASSES]
    label = max(semantic)[1]
    truth = group["crop901"][label][:] > 0
    pred = ndimage.binary_erosion(truth, iterations=1)
    group["crop901"][label][:] = pred.astype(group["crop901"][label].dtype)
    oracle = {"label": label, "iou": (truth & pred).sum() / (truth | pred).sum(),
              "dice": 2 * (truth & pred).sum() / (truth.sum() + pred.sum())}
    bg = background_submission(sim.test_manifest, root / "background.zip")
    out = {}
    for name, path in (("eroded", sub), ("background", bg)):
        (root / name).mkdir()
        rc = main(["evaluate", str(path), "--truth", str(sim.truth_path), "--manifest", str(sim.test_manifest),
                   "--output", str(root / name / "results.json"), "--workers", "1", "--no-progress"])
        assert rc == 0, f"evaluate {name} failed"
        out[name] = root / name / "results.json"
    return {"results": out, "oracle": oracle, "root": root, "truth": sim.truth_path, "manifest": sim.test_manifest,
            "submission": sub}
