"""Samplers and class weights."""

import numpy as np
import pytest

from pycsc.data.datasplit import SplitRow
from pycsc.data.sampling import ClassBalancedSampler, UniformSampler, class_matrix, positive_weights


def test_class_balanced_sampler_serves_rare_classes():
    # crop 0 annotates class 0 only; crops 1-9 annotate class 1 only
    annotated = np.zeros((10, 3), bool)
    annotated[0, 0] = True
    annotated[1:, 1] = True
    draws = list(ClassBalancedSampler(annotated, 400, seed=5))
    crops = np.array([c for c, _ in draws])
    assert len(draws) == 400
    assert abs(np.mean(crops == 0) - 0.5) < 0.01       # the rare class gets half the draws
    assert set(crops[crops > 0]) == set(range(1, 10))  # class-1 crops are all used
    assert draws == list(ClassBalancedSampler(annotated, 400, seed=5))
    other_epoch = ClassBalancedSampler(annotated, 400, seed=5, epoch=1)
    assert draws != list(other_epoch)


def test_uniform_sampler_follows_volume():
    crops = np.array([c for c, _ in UniformSampler([1.0, 3.0], 4000, seed=0)])
    assert abs(np.mean(crops == 1) - 0.75) < 0.03


def test_class_matrix():
    rows = [SplitRow("train", "r", "c", ("a",)), SplitRow("train", "r", "c", ("b", "a"))]
    np.testing.assert_array_equal(class_matrix(rows, ["a", "b", "z"]), [[1, 0, 0], [1, 1, 0]])


def test_positive_weights_match_counts(toy, tmp_path):
    base = toy["data_root"] / "toy-1" / "toy-1.zarr" / "recon-1" / "labels" / "groundtruth"
    rows = [SplitRow("train", "", str(base / f"crop{i}"), ("mito", "nuc")) for i in (1, 2)]
    rows[1] = SplitRow("train", "", rows[1].crop, ("mito",))
    w = positive_weights(rows, ["mito", "nuc", "er"], (8, 8, 8), cache=tmp_path / "counts.json")
    mito, nuc = toy["labels"]["mito"] > 0, toy["labels"]["nuc"][:24] > 0
    assert w[0] == pytest.approx((mito.size - mito.sum()) / mito.sum(), rel=1e-6)
    assert w[1] == pytest.approx((nuc.size - nuc.sum()) / max(nuc.sum(), 1), rel=1e-6)
    assert w[2] == 1.0
    assert (tmp_path / "counts.json").is_file()
    # from the cache, at another voxel size (counts scale with the volume)
    w16 = positive_weights(rows, ["mito"], (16, 16, 16), cache=tmp_path / "counts.json")
    assert w16[0] == pytest.approx(w[0], rel=1e-6)
