"""Training end to end on the toy dataset: outputs, kill and resume, the CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from pycsc.config import TrainConfig  # noqa: E402
from pycsc.train import checkpoint as ckpt  # noqa: E402
from pycsc.train import train  # noqa: E402
from pycsc.train.log import ScalarLog, read_log  # noqa: E402


def _cfg(toy, out, **kw):
    base = dict(datasplit=out / "split.csv", data_root=toy["data_root"], output_dir=out / "run",
                classes=("mito", "nuc"), patch_shape=(16, 16, 16), base_channels=4, depth=2, batch_size=2,
                epochs=2, iterations_per_epoch=3, num_workers=0, threads=1, validation_batches=2,
                progress=False, learning_rate=1e-3)
    base.update(kw)
    return TrainConfig(**base)


def test_train_writes_checkpoints_logs_and_config(toy, tmp_path):
    cfg = _cfg(toy, tmp_path, scheduler="cosine", max_grad_norm=1.0, gradient_accumulation=2)
    summary = train(cfg)
    run = tmp_path / "run"
    assert summary["steps"] == 6
    assert (tmp_path / "split.csv").is_file()                  # made from data_root
    assert (run / "train.toml").is_file() and (run / "checkpoints" / "best.pt").is_file()
    state = ckpt.load(run / "checkpoints" / "latest.pt")
    assert state["step"] == 6 and state["spec"]["classes"] == ["mito", "nuc"]
    log = read_log(run / "logs")
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 7))
    val = [r for r in log if "val_loss" in r]
    assert len(val) == 2 and "val_dice/mito" in val[0] and "val_iou/nuc" in val[0]
    assert log[-1 - 0]["step"] == 6
    assert summary["validation"]["dice"][0] == val[-1]["val_dice/mito"] or val[-1]["val_dice/mito"] is None


def _weights(path):
    return ckpt.load(path)["model"]


def test_killed_run_resumes_to_the_same_weights(toy, tmp_path, monkeypatch):
    kw = dict(epochs=2, iterations_per_epoch=4, checkpoint_every=2)
    train(_cfg(toy, tmp_path / "a", **kw))
    reference = _weights(tmp_path / "a" / "run" / "checkpoints" / "latest.pt")

    original = ScalarLog.write

    def dies_at_step_5(self, step, **scalars):
        original(self, step, **scalars)
        if step == 5 and "loss" in scalars:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(ScalarLog, "write", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(toy, tmp_path / "b", **kw))
    assert ckpt.load(tmp_path / "b" / "run" / "checkpoints" / "latest.pt")["step"] == 4
    monkeypatch.setattr(ScalarLog, "write", original)
    summary = train(_cfg(toy, tmp_path / "b", **kw))
    assert summary["steps"] == 8
    resumed = _weights(tmp_path / "b" / "run" / "checkpoints" / "latest.pt")
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)


def test_sigkill_then_resume(toy, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""[train]
datasplit = "{tmp_path / 'split.csv'}"
data_root = "{toy['data_root']}"
output_dir = "{tmp_path / 'run'}"
classes = ["mito", "nuc"]
patch_shape = [16, 16, 16]
base_channels = 4
depth = 2
batch_size = 2
epochs = 1
iterations_per_epoch = 400
checkpoint_every = 1
num_workers = 0
threads = 1
validation_batches = 1
progress = false
""")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "pycsc", "train", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    latest = tmp_path / "run" / "checkpoints" / "latest.pt"
    deadline = time.time() + 120
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    step = ckpt.load(latest)["step"]           # readable: never a torn file
    assert 1 <= step < 400
    from pycsc.cli.main import main

    # resume, finishing 3 steps after the kill (a shorter epoch keeps the test quick)
    assert main(["train", str(cfg), "--iterations-per-epoch", str(step + 3)]) == 0
    assert ckpt.load(latest)["step"] == step + 3
    steps = [r["step"] for r in read_log(tmp_path / "run" / "logs") if "loss" in r]
    assert steps[-3:] == [step + 1, step + 2, step + 3]


def test_resume_refuses_another_model(toy, tmp_path):
    train(_cfg(toy, tmp_path, epochs=1, iterations_per_epoch=1))
    from pycsc.errors import ConfigError

    with pytest.raises(ConfigError, match="different model"):
        train(_cfg(toy, tmp_path, epochs=1, iterations_per_epoch=1, base_channels=8))


def test_2d_resnet_with_workers(toy, tmp_path):
    cfg = _cfg(toy, tmp_path, ndim=2, architecture="resnet", patch_shape=(1, 16, 16), depth=1,
               epochs=2, iterations_per_epoch=1, num_workers=1, weighted_sampler=False)
    assert train(cfg)["steps"] == 2      # the worker process serves both epochs
    assert json.loads(json.dumps(ckpt.load(tmp_path / "run" / "checkpoints" / "best.pt")["spec"]))["ndim"] == 2


@pytest.mark.slow
def test_torchrun_two_processes(toy, tmp_path):
    """DistributedDataParallel on the CPU (gloo): two ranks, rank 0 writes the checkpoints."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""[train]
datasplit = "{tmp_path / 'split.csv'}"
data_root = "{toy['data_root']}"
output_dir = "{tmp_path / 'run'}"
classes = ["mito", "nuc"]
patch_shape = [16, 16, 16]
base_channels = 4
depth = 2
batch_size = 1
epochs = 2
iterations_per_epoch = 2
num_workers = 0
threads = 1
progress = false
""")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                                        os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--standalone", "-m", "pycsc", "train", str(cfg)],
                         env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    assert ckpt.load(tmp_path / "run" / "checkpoints" / "latest.pt")["step"] == 4
    assert len([r for r in read_log(tmp_path / "run" / "logs") if "loss" in r]) == 4   # rank 0 only
