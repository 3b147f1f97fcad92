import pytest


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory):
    """The tiny simulated dataset, as `csc simulate --preset tiny` writes it."""
    from pycsc.simulate import simulate

    return simulate(tmp_path_factory.mktemp("sim"), preset="tiny", seed=0).dest
