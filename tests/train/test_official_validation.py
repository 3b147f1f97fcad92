"""Official-metric validation keeps the checkpoint with the higher official score, even when
the loss prefers the other one.

Two checkpoints are scripted on the tiny preset (validation crop crop3: ecs 9 %, cell 91 %):
A predicts ecs and cell everywhere (semantic ecs IoU > 0, one cell object: official > 0, but
a high loss on ecs); B predicts cell everywhere and no ecs (low loss, ecs IoU 0: official
overall = sqrt(instance * 0) = 0). Epoch 1 trains to A and epoch 2 to B (a scripted
optimizer sets the weights), so a loss-based choice would keep B.
"""

import pytest

torch = pytest.importorskip("torch")

from pycsc.config import TrainConfig  # noqa: E402
from pycsc.data.datasplit import SplitRow, write_datasplit  # noqa: E402
from pycsc.errors import ConfigError  # noqa: E402
from pycsc.simulate import simulate  # noqa: E402
from pycsc.train import checkpoint as ckpt  # noqa: E402
from pycsc.train import train  # noqa: E402
from pycsc.train.log import read_log  # noqa: E402

CLASSES = ("ecs", "cell")
BIASES = {1: (8.0, 8.0), 2: (-8.0, 8.0)}      # epoch -> output bias (ecs, cell): A then B


class ScriptedOptimizer(torch.optim.Optimizer):
    """Stands in for RAdam: step k zeroes every weight and sets the output bias of epoch k."""

    def __init__(self, params, lr, **_):
        super().__init__(params, {"lr": lr})
        self.params = [p for group in self.param_groups for p in group["params"]]
        self.steps = 0

    def zero_grad(self, set_to_none=True):
        pass

    @torch.no_grad()
    def step(self):
        self.steps += 1
        for p in self.params:
            p.zero_()
        self.params[-1].copy_(torch.tensor(BIASES[self.steps]))   # the UNet's last parameter: outc.bias

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    result = simulate(root / "data", "tiny", seed=0)
    zroot = {ds: root / "data" / ds / f"{ds}.zarr" / "recon-1" for ds in result.datasets}
    em = lambda ds: str(zroot[ds] / "em/fibsem-uint8")  # noqa: E731
    rows = [SplitRow("train", em(result.datasets[0]), str(zroot[result.datasets[0]] / "labels/groundtruth/crop1"),
                     CLASSES),
            SplitRow("validate", em(result.datasets[1]), str(zroot[result.datasets[1]] / "labels/groundtruth/crop3"),
                     CLASSES)]
    return root, write_datasplit(rows, root / "split.csv")


def _cfg(root, split, out, **kw):
    return TrainConfig(datasplit=split, data_root=root / "data", output_dir=out, classes=CLASSES,
                       patch_shape=(8, 8, 8), base_channels=2, depth=1, batch_size=1, epochs=2,
                       iterations_per_epoch=1, num_workers=0, threads=1, validation_batches=2, progress=False,
                       weight_loss=False, mixed_precision=False, resume=False, **kw)


def test_official_validation_keeps_the_higher_official_score(tiny, tmp_path, monkeypatch):
    root, split = tiny
    monkeypatch.setattr(torch.optim, "RAdam", ScriptedOptimizer)
    summary = train(_cfg(root, split, tmp_path / "official", validation_metric="official"))
    log = read_log(tmp_path / "official" / "logs")
    val = {r["epoch"]: r for r in log if "val_loss" in r}
    off = {r["epoch"]: r for r in log if "official/overall" in r}
    assert val[1]["val_loss"] < val[0]["val_loss"]                        # the loss prefers B
    assert off[0]["official/overall"] > off[1]["official/overall"] == 0   # the official score prefers A
    assert off[1]["official/cell"] > 0 and off[1]["official/ecs"] == 0
    assert summary["best_epoch"] == 1 and summary["best_score"] == off[0]["official/overall"]
    best = ckpt.load(tmp_path / "official" / "checkpoints" / "best.pt")["model"]["outc.bias"]
    assert best.tolist() == list(BIASES[1])
    assert summary["validation_seconds"] > 0

    # the same run by loss keeps B
    monkeypatch.setattr(torch.optim, "RAdam", ScriptedOptimizer)
    by_loss = train(_cfg(root, split, tmp_path / "loss", validation_metric="loss"))
    assert by_loss["best_epoch"] == 2
    assert not (tmp_path / "loss" / "validation").exists()


def test_validate_every_and_missing_validation(tiny, tmp_path, monkeypatch):
    root, split = tiny
    monkeypatch.setattr(torch.optim, "RAdam", ScriptedOptimizer)
    cfg = _cfg(root, split, tmp_path / "every", validation_metric="official", validate_every=2)
    train(cfg)
    log = read_log(tmp_path / "every" / "logs")
    assert [r["epoch"] for r in log if "official/overall" in r] == [1]   # only after epoch 2 (the last)
    only_train = tmp_path / "train_only.csv"
    only_train.write_text("\n".join(line for line in split.read_text().splitlines() if '"train"' in line) + "\n")
    with pytest.raises(ConfigError, match="needs validation crops"):
        train(_cfg(root, only_train, tmp_path / "x", validation_metric="official"))
