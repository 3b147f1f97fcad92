import pytest


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """The `tiny` simulated preset (`csc simulate --preset tiny`) and a datasplit of it."""
    from pycsc.config import DatasplitConfig
    from pycsc.data.datasplit import make_datasplit
    from pycsc.simulate import simulate

    root = tmp_path_factory.mktemp("tiny")
    simulate(root, preset="tiny", seed=0)
    split = root / "datasplit.csv"
    make_datasplit(DatasplitConfig(data_root=root, output=split, classes=("mito", "nuc"), validation_fraction=0.0))
    return {"data_root": root, "datasplit": split, "manifest": root / "test_crop_manifest.csv"}
