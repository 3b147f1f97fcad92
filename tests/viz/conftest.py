import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("pycsc_tests_browser", Path(__file__).with_name("_browser.py"))
browser = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = browser
_spec.loader.exec_module(browser)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = browser.find_chromium()
    if path is None:
        pytest.skip("headless Chromium not found: install Debian's `chromium` package (apt-get install -y "
                    "chromium; .ci/run does this) or set PYCSC_CHROMIUM to a Chromium executable")
    return path


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory):
    """The tiny simulated dataset, as `csc simulate --preset tiny` writes it."""
    from pycsc.simulate import simulate

    return simulate(tmp_path_factory.mktemp("sim"), preset="tiny", seed=0).dest
