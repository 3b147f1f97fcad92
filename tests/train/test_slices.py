"""Sample slices to TensorBoard: the panels, the writer calls, and real event files from training."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pycsc.train.slices import slice_panels, write_sample_slices  # noqa: E402


def test_panels_show_the_middle_slice():
    raw = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    target = np.zeros((3, 4, 5), np.float32)
    target[1, 0, 0] = np.nan
    target[1, 3, 4] = 1
    probs = np.full((3, 4, 5), 0.3, np.float32)
    img = slice_panels(raw, target, probs)
    assert img.shape == (1, 4, 17)
    em = raw[1]
    np.testing.assert_allclose(img[0, :, :5], (em - em.min()) / (em.max() - em.min()))
    assert img[0, 0, 6] == 0.5 and img[0, 3, 10] == 1 and img[0, 1, 7] == 0   # NaN = grey
    np.testing.assert_allclose(img[0, :, 12:], 0.3)
    assert (img[0, :, 5] == 1).all() and (img[0, :, 11] == 1).all()          # separators


class _Writer:
    def __init__(self):
        self.images = []

    def add_image(self, tag, img, step, dataformats):
        self.images.append((tag, img, step, dataformats))

    def flush(self):
        pass


def test_writes_one_image_per_class_with_the_models_probabilities():
    torch.manual_seed(0)
    model = torch.nn.Conv3d(1, 2, 3, padding=1)
    target = torch.randint(0, 2, (2, 2, 6, 8, 8)).float()
    target[0] = 0  # the second sample has the foreground: it is the one shown
    batch = {"raw": torch.rand(2, 1, 6, 8, 8), "target": target}
    writer = _Writer()
    state = torch.random.get_rng_state()
    assert write_sample_slices(writer, 7, model, [batch], "cpu", ("mito", "nuc")) == 2
    assert torch.equal(torch.random.get_rng_state(), state)
    assert [(t, s, f) for t, _, s, f in writer.images] == [("samples/mito", 7, "CHW"), ("samples/nuc", 7, "CHW")]
    with torch.no_grad():
        expected = torch.sigmoid(torch.nn.functional.conv3d(batch["raw"][1:], model.weight, model.bias, padding=1))
    for c, (_, img, _, _) in enumerate(writer.images):
        np.testing.assert_allclose(img[0, :, 18:], expected[0, c, 3].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(img[0, :, 9:17], batch["target"][1, c, 3].numpy())
    assert write_sample_slices(None, 7, model, [batch], "cpu", ("mito", "nuc")) == 0


@pytest.mark.slow
def test_training_writes_slices_to_tensorboard(toy, tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard is not installed (optional)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pycsc.config import TrainConfig
    from pycsc.train import train

    cfg = TrainConfig(datasplit=tmp_path / "split.csv", data_root=toy["data_root"], output_dir=tmp_path / "run",
                      classes=("mito", "nuc"), patch_shape=(16, 16, 16), base_channels=4, depth=2, batch_size=2,
                      epochs=2, iterations_per_epoch=1, num_workers=0, threads=1, validation_batches=1,
                      progress=False)
    train(cfg)
    events = EventAccumulator(str(tmp_path / "run" / "logs" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert sorted(events.Tags()["images"]) == ["samples/mito", "samples/nuc"]
    assert [e.step for e in events.Images("samples/mito")] == [1, 2]
    assert events.Images("samples/mito")[0].width == 3 * 16 + 2
